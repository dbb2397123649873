"""``@parameterize`` and ``@inject``: one node per output, each binding some parameters.

As in Hamilton, a parameter is bound to ``value(x)``, ``source("node")`` or ``group(...)`` of
those (a ``list[T]`` parameter from positional members, a ``dict[str, T]`` one from keyword
members, each member read as ``T``). ``@inject`` is one output: the function's own node.
Docstrings are formatted with ``{output_name}`` and the bound parameters.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable
from typing import Any

from ...errors import GraphError
from ..node import Node, origin_of
from ..types import describe
from . import extract
from .meta import (
    INJECTED,
    Binding,
    ExtractColumns,
    GroupedDictDependency,
    GroupedListDependency,
    LiteralDependency,
    Parameterization,
    ParameterizedExtraction,
    UpstreamDependency,
)
from .wrap import Grouped, grouped, rebind, wrap


class _Names(dict[str, str]):
    """Hamilton formats parameterized docstrings with unknown ``{names}`` left as the name."""

    def __missing__(self, key: str) -> str:
        return key


def _element(annotation: Any, group: Binding, param: str, fn: Callable[..., Any]) -> Any:
    """The type of one member of a grouped parameter (``T`` of ``list[T]``/``dict[str, T]``)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = members[0] if len(members) == 1 else annotation
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if isinstance(group, GroupedListDependency) and origin is list and len(args) == 1:
        return args[0]
    is_dict = origin is dict and len(args) == 2 and args[0] is str
    if isinstance(group, GroupedDictDependency) and is_dict:
        return args[-1]
    wanted = "list[T]" if isinstance(group, GroupedListDependency) else "dict[str, T]"
    raise GraphError(
        f"{origin_of(fn)} binds parameter {param!r} with group(...), so it must be annotated "
        f"{wanted}, not {describe(annotation)}: asyncdag checks each member against T, as "
        "Hamilton does."
    )


def expand(node: Node, fn: Callable[..., Any], spec: Parameterization) -> list[Node]:
    """One node per output of ``@parameterize`` (or ``node`` itself for ``@inject``).

    Raises:
        GraphError: a binding names a parameter the function lacks, the function has a
            parameter ``output_name``, or a ``group(...)`` parameter has the wrong annotation.
    """
    own = {p.name: p for p in node.params}
    if "output_name" in own:
        raise GraphError(
            f"{origin_of(fn)} has a parameter named 'output_name', which @parameterize reserves "
            "for docstrings. Rename the parameter."
        )
    out = []
    for key, bindings in spec.outputs.items():
        output = node.name if key == INJECTED else key
        unknown = sorted(set(bindings) - set(own))
        if unknown:
            raise GraphError(
                f"@parameterize output {output!r} binds {', '.join(map(repr, unknown))}, which "
                f"{origin_of(fn)} has no parameter for (it has {', '.join(own) or 'none'})."
            )
        sources = {k: d.source for k, d in bindings.items() if isinstance(d, UpstreamDependency)}
        values = {k: d.value for k, d in bindings.items() if isinstance(d, LiteralDependency)}
        groups: dict[str, Grouped] = {}
        for k, d in bindings.items():
            if isinstance(d, GroupedListDependency | GroupedDictDependency):
                groups[k] = grouped(_element(own[k].annotation, d, k, fn), d.sources)
        doc = spec.docs.get(key)
        if doc is None and fn.__doc__ is not None:
            doc = fn.__doc__.format_map(_Names(output_name=output, **sources, **values))
        out.append(rebind(node, output, fn, sources, values, doc, groups))
    return out


def _renamer(columns: tuple[str, ...]) -> Callable[[Any], Any]:
    def rename_columns(frame: Any) -> Any:
        frame.columns = list(columns)
        return frame

    return rename_columns


def expand_extract(node: Node, fn: Callable[..., Any], spec: ParameterizedExtraction) -> list[Node]:
    """Per entry, ``<node>__<i>`` (``@parameterize``) and one node per column of its frame.

    As in Hamilton, the frame's columns are renamed to the entry's outputs first, unless
    ``reassign_columns=False``.

    Raises:
        GraphError: as ``@parameterize`` and ``@extract_columns`` do.
    """
    out: list[Node] = []
    for i, (columns, bindings) in enumerate(spec.entries):
        base = node
        if spec.reassign_columns:
            renamed = wrap(
                node.fn, name=node.name, like=fn, doc=fn.__doc__, after=_renamer(columns)
            )
            base = dataclasses.replace(node, fn=renamed)
        (one,) = expand(base, fn, Parameterization({f"{node.name}__{i}": bindings}, {}))
        columns_spec = ExtractColumns(tuple((c, None) for c in columns), None)
        out.extend(extract.extract_columns(one, fn, columns_spec))
    return out
