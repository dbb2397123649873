"""asyncdag: plain functions wired into a DAG by parameter names, run on asyncio."""

from . import executors as executors
from ._version import __version__ as __version__
from .driver import Builder as Builder
from .driver import Driver as Driver
from .events import Event as Event
from .function_modifiers import cache as cache
from .function_modifiers import check_output as check_output
from .function_modifiers import config as config
from .function_modifiers import extract_fields as extract_fields
from .function_modifiers import on_branch_error as on_branch_error
from .function_modifiers import parameterize as parameterize
from .function_modifiers import retry as retry
from .function_modifiers import source as source
from .function_modifiers import tag as tag
from .function_modifiers import timeout as timeout
from .function_modifiers import value as value
from .function_modifiers import window as window
from .htypes import Collect as Collect
from .htypes import Parallelizable as Parallelizable

__all__ = [
    "Builder",
    "Collect",
    "Driver",
    "Event",
    "Parallelizable",
    "__version__",
    "cache",
    "check_output",
    "config",
    "executors",
    "extract_fields",
    "parameterize",
    "retry",
    "source",
    "tag",
    "timeout",
    "value",
    "window",
    "on_branch_error",
]
