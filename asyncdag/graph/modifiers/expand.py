"""Resolve the function modifiers of one function into its nodes (Hamilton's staged model).

create (one node from the function, or a namespaced sub-DAG and it with ``@subdag``) -> inject
(``@pipe_input``) -> expand (``@parameterize``) -> transform (``@extract_fields``,
``@extract_columns``, ``@check_output``, innermost first) -> decorate (``@tag``,
``@tag_outputs``), then ``@timeout``/``@retry`` onto every node made. ``@config`` was
resolved before, by the crawler.
Transforms and tags apply to the function's *sink* nodes (those no other node of the same
function reads, a sub-DAG's nodes excepted) unless a ``target_`` says otherwise, as in Hamilton.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import GraphError
from ..node import Node, origin_of
from . import checks, does, extract, io_nodes, mutate, parameterize, pipe, subdag, validators
from .meta import (
    CheckOutput,
    ExtractColumns,
    ExtractFields,
    Modifiers,
    ParameterizedExtraction,
    ParameterizedSubdag,
    PipeOutput,
    SchemaOutput,
    Tagging,
    Target,
    UnpackFields,
)

_DECORATOR = {
    "pipe": "pipe_input",
    "parameterization": "parameterize",
    "subdag": "subdag",
    "does": "does",
}


def resolve(
    name: str,
    fn: Callable[..., Any],
    modifiers: Modifiers,
    config: Mapping[str, Any],
    nodes_of: subdag.NodesOf,
) -> list[Node]:
    """The nodes ``fn`` stands for, under node name ``name``.

    ``nodes_of`` builds a ``@subdag``'s functions into nodes (the crawler's own logic).

    Raises:
        GraphError: a modifier does not fit the function (named in the message).
    """
    creators = [m for m in ("pipe", "parameterization", "subdag") if getattr(modifiers, m)]
    if modifiers.does is not None and (modifiers.subdag is not None or len(creators) > 1):
        creators.append("does")  # as in Hamilton, @does combines with one of the others but @subdag
    if len(creators) > 1:
        names = " and ".join(f"@{_DECORATOR[m]}" for m in creators)
        raise GraphError(
            f"{origin_of(fn)} has both {names}, which asyncdag does not combine. Split the "
            "function in two: one with each decorator, the second reading the first."
        )
    internal: frozenset[str] = frozenset()
    nodes: list[Node]
    if isinstance(modifiers.subdag, ParameterizedSubdag):
        nodes = []
        for spec in modifiers.subdag.subdags:
            made, inner = subdag.create(name, fn, spec, config, nodes_of)
            nodes, internal = nodes + made, internal | inner
    elif modifiers.subdag is not None:
        nodes, internal = subdag.create(name, fn, modifiers.subdag, config, nodes_of)
    elif modifiers.does is not None:
        nodes = [does.create(name, fn, modifiers.does)]
    else:
        nodes = io_nodes.create(name, fn) or [Node.from_fn(name, fn, {})]
    if modifiers.pipe is not None:
        nodes = pipe.inject(nodes[0], fn, modifiers.pipe, config)
    if isinstance(modifiers.parameterization, ParameterizedExtraction):
        nodes = parameterize.expand_extract(nodes[0], fn, modifiers.parameterization)
    elif modifiers.parameterization is not None:
        nodes = parameterize.expand(nodes[0], fn, modifiers.parameterization)
    nodes = io_nodes.inject(nodes, fn)  # @load_from
    for transform in modifiers.transforms:
        if isinstance(transform, CheckOutput):
            chosen = _ids(_select(nodes, transform.target, fn, "@check_output", internal))
            nodes = [
                m for n in nodes for m in (_check(n, fn, transform) if id(n) in chosen else [n])
            ]
            continue
        if isinstance(transform, PipeOutput):
            chosen = _ids(_select(nodes, transform.target, fn, "@pipe_output", internal))
            nodes = [
                m
                for n in nodes
                for m in (mutate.pipe_output(n, fn, transform, config) if id(n) in chosen else [n])
            ]
            continue
        (target,) = _select(nodes, None, fn, f"@{_label(transform)}", internal, True)
        rest = [n for n in nodes if n is not target]
        if isinstance(transform, ExtractFields):
            nodes = rest + extract.extract_fields(target, fn, transform)
        elif isinstance(transform, UnpackFields):
            nodes = rest + extract.unpack_fields(target, fn, transform)
        else:
            nodes = rest + extract.extract_columns(target, fn, transform)
    nodes = io_nodes.save(nodes, fn, internal)  # @save_to
    for decoration in modifiers.decorations:
        if isinstance(decoration, Tagging):
            chosen = _ids(_select(nodes, decoration.target, fn, "@tag", internal))
            nodes = [_tagged(n, decoration.tags) if id(n) in chosen else n for n in nodes]
        elif isinstance(decoration, SchemaOutput):
            single = decoration.target is None
            picked = _select(nodes, decoration.target, fn, "@schema.output", internal, single)
            for node in picked:
                _check_frame(node, fn)
            chosen = _ids(picked)
            nodes = [_tagged(n, decoration.tags) if id(n) in chosen else n for n in nodes]
        else:
            nodes = [_tagged(n, decoration.tags_by_node.get(n.name, {})) for n in nodes]
    if modifiers.policy is not None:
        nodes = [dataclasses.replace(n, policy=modifiers.policy) for n in nodes]
    return nodes


_FRAMES = ("pandas", "polars", "pyspark", "dask", "modin", "vaex", "ibis", "pyarrow")


def _check_frame(node: Node, fn: Callable[..., Any]) -> None:
    """``@schema.output`` describes a data set: the node must return a data frame type."""
    tp = node.returns
    root, name = getattr(tp, "__module__", "").split(".")[0], getattr(tp, "__name__", "")
    if not (isinstance(tp, type) and root in _FRAMES and ("Frame" in name or name == "Table")):
        raise GraphError(
            f"@schema.output on {origin_of(fn)}: node {node.name!r} returns {tp!r}, not a data "
            "frame (pandas, polars, pyspark... DataFrame), which is what a schema describes.",
            node=node.name,
        )


def _ids(nodes: list[Node]) -> set[int]:
    return {id(n) for n in nodes}


def _label(transform: ExtractFields | ExtractColumns | UnpackFields) -> str:
    if isinstance(transform, UnpackFields):
        return "unpack_fields"
    return "extract_fields" if isinstance(transform, ExtractFields) else "extract_columns"


def _tagged(node: Node, tags: Mapping[str, Any]) -> Node:
    return dataclasses.replace(node, tags={**node.tags, **tags}) if tags else node


def _select(
    nodes: list[Node],
    target: Target,
    fn: Callable[..., Any],
    what: str,
    internal: frozenset[str],
    single: bool = False,
) -> list[Node]:
    """The nodes ``target`` picks among the nodes of one function.

    ``internal`` names are never final nodes (a ``@subdag``'s nodes, as in Hamilton).
    """
    if target is None:
        read = {p.name for n in nodes for p in n.params} | internal
        chosen = [n for n in nodes if n.name not in read]
        if single and len(chosen) != 1:
            raise GraphError(
                f"{what} on {origin_of(fn)} needs exactly one node to work on, but the function "
                f"makes {len(chosen)} final nodes ({', '.join(n.name for n in chosen)}). "
                "Put it below (closer to the function than) the decorator that makes them."
            )
        return chosen
    if target is Ellipsis:
        return nodes
    wanted = (target,) if isinstance(target, str) else target
    chosen = [n for n in nodes if n.name in wanted]
    missing = sorted(set(wanted) - {n.name for n in chosen})
    if missing:
        raise GraphError(
            f"{what}(target_=...) on {origin_of(fn)} names {', '.join(map(repr, missing))}, but "
            f"the function makes only {', '.join(repr(n.name) for n in nodes)}."
        )
    return chosen


def _check(node: Node, fn: Callable[..., Any], spec: CheckOutput) -> list[Node]:
    """``node``'s validator nodes, ``node`` acting on their results, and ``<node>_raw``."""
    found: list[checks.Check] = []
    for arg, setting in spec.checks.items():
        check = checks.builtin_check(arg, setting, node.returns, spec.importance)
        if check is None:
            known = ", ".join(checks.KNOWN_CHECKS)
            raise GraphError(
                f"@check_output({arg}=...) on {origin_of(fn)} has no check for node "
                f"{node.name!r}, which returns {node.returns!r}. Checks: {known} (which ones "
                "apply depends on the return annotation; pandas Series have more)."
            )
        found.append(check)
    found.extend(checks.custom_check(v) for v in spec.custom)
    if node.expands or node.is_generator or node.is_async_generator:
        raise GraphError(
            f"@check_output on {origin_of(fn)}: node {node.name!r} is Parallelizable or a "
            "generator, whose items cannot be checked. Check the nodes of its branches instead."
        )
    return validators.validated(node, found, fn)
