"""Decorators that shape how functions become nodes (Hamilton's function modifiers).

They only record metadata on the function; ``asyncdag.graph`` resolves it at build time, so
a decorator that does not fit its function raises ``GraphError`` from ``build()``, naming it.
Wrong arguments to a decorator itself raise ``TypeError`` or ``ValueError`` at once.

The submodules have Hamilton's names and paths (``function_modifiers.dependencies``,
``.macros``, ``.recursive``...); this package re-exports every decorator.
"""

from __future__ import annotations

from ._running import on_branch_error as on_branch_error
from ._running import retry as retry
from ._running import timeout as timeout
from ._running import window as window
from .adapters import dataloader as dataloader
from .adapters import datasaver as datasaver
from .adapters import load_from as load_from
from .adapters import save_to as save_to
from .base import InvalidDecoratorException as InvalidDecoratorException

# Hamilton's paths need both the module ``function_modifiers.configuration`` (``config``) and
# ``from function_modifiers import configuration``, the dependency: this line imports the
# module first (it sorts before .dependencies), then the name is bound to the function.
from .configuration import config as config
from .configuration import hamilton_exclude as hamilton_exclude
from .delayed import ResolveAt as ResolveAt
from .delayed import resolve as resolve
from .delayed import resolve_from_config as resolve_from_config
from .dependencies import LiteralDependency as LiteralDependency
from .dependencies import UpstreamDependency as UpstreamDependency
from .dependencies import configuration as configuration
from .dependencies import group as group
from .dependencies import source as source
from .dependencies import value as value
from .expanders import ParameterizedExtract as ParameterizedExtract
from .expanders import extract_columns as extract_columns
from .expanders import extract_fields as extract_fields
from .expanders import inject as inject
from .expanders import parameterize as parameterize
from .expanders import parameterize_extract_columns as parameterize_extract_columns
from .expanders import parameterize_sources as parameterize_sources
from .expanders import parameterize_values as parameterize_values
from .expanders import unpack_fields as unpack_fields
from .macros import apply_to as apply_to
from .macros import does as does
from .macros import mutate as mutate
from .macros import pipe_input as pipe_input
from .macros import pipe_output as pipe_output
from .macros import step as step
from .metadata import cache as cache
from .metadata import schema as schema
from .metadata import tag as tag
from .metadata import tag_outputs as tag_outputs
from .recursive import parameterized_subdag as parameterized_subdag
from .recursive import subdag as subdag
from .validation import DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG as DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG
from .validation import IS_DATA_VALIDATOR_TAG as IS_DATA_VALIDATOR_TAG
from .validation import check_output as check_output
from .validation import check_output_custom as check_output_custom

__all__ = [
    "InvalidDecoratorException",
    "cache",
    "check_output",
    "check_output_custom",
    "config",
    "extract_columns",
    "extract_fields",
    "parameterize",
    "parameterize_sources",
    "parameterize_values",
    "pipe_input",
    "retry",
    "source",
    "step",
    "subdag",
    "tag",
    "tag_outputs",
    "timeout",
    "value",
    "load_from",
    "save_to",
    "dataloader",
    "datasaver",
    "ResolveAt",
    "apply_to",
    "does",
    "mutate",
    "parameterized_subdag",
    "pipe_output",
    "resolve",
    "resolve_from_config",
    "window",
    "on_branch_error",
    "configuration",
    "group",
    "inject",
    "unpack_fields",
    "parameterize_extract_columns",
    "schema",
    "hamilton_exclude",
    "ParameterizedExtract",
    "LiteralDependency",
    "UpstreamDependency",
    "IS_DATA_VALIDATOR_TAG",
    "DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG",
]
