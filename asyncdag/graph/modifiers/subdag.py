"""``@subdag``: the functions of other modules, built again under a namespace, feed a function.

As in Hamilton, every node of the sub-DAG is renamed ``<namespace>.<name>`` (the namespace
defaults to the decorated node's name), its ``inputs=`` and ``config=`` become nodes of that
namespace (``value`` constants, ``source`` pass-throughs), names the sub-DAG does not define are
read from the outer graph, and the decorated function reads ``<namespace>.<param>`` for each of
its parameters except ``external_inputs``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import GraphError
from ..node import Node, Param, origin_of
from .meta import (
    ConfigDependency,
    GroupedDictDependency,
    GroupedListDependency,
    LiteralDependency,
    Subdag,
    UpstreamDependency,
)
from .wrap import named_like, rebind

NON_FINAL_TAG = "hamilton.non_final_node"
"""Hamilton's tag on the nodes of a sub-DAG (``True``): they are not the function's final nodes."""

NodesOf = Callable[[tuple[Any, ...], Mapping[str, Any]], Mapping[str, Node]]
"""Build nodes from modules or functions under a config (the crawler's own logic)."""


def _constant(name: str, value: Any, like: Callable[..., Any]) -> Node:
    def constant() -> Any:
        return value

    named_like(constant, like)
    return Node(name, constant, (), type(value), False, False, {})


def _identity(name: str, source: str, tp: Any, like: Callable[..., Any]) -> Node:
    def identity(**kwargs: Any) -> Any:
        return kwargs[source]

    named_like(identity, like)
    return Node(name, identity, (Param(source, tp, False, False),), tp, False, False, {})


def resolve_config(
    config: Mapping[str, Any], fields: Mapping[str, Any], function_name: str
) -> dict[str, Any]:
    """The config a sub-DAG is built with: the outer ``config`` updated with ``fields``.

    As in Hamilton, a field may be a plain value, ``value(x)``, or ``configuration("key")``:
    the outer config's value of ``key``.

    Raises:
        GraphError: a field is ``source(...)`` or ``group(...)``, or names an absent key.
    """
    resolved = dict(config)
    mapped: dict[str, str] = {}
    for key, field in fields.items():
        if isinstance(field, ConfigDependency):
            mapped[key] = field.source
        elif isinstance(field, LiteralDependency):
            resolved[key] = field.value
        elif isinstance(field, UpstreamDependency | GroupedListDependency | GroupedDictDependency):
            raise GraphError(
                f"`{field}` is not allowed in the config= part of the subdag decorator. "
                "Please use `configuration()` or `value()` or literal python values."
            )
        else:
            resolved[key] = field
    for key, from_key in mapped.items():
        if from_key not in resolved:
            raise GraphError(
                f"Source {from_key} was not found in the configuration. This is required for "
                f"the {function_name} subdag: add {from_key!r} to with_config(...)."
            )
        resolved[key] = resolved[from_key]
    return resolved


def create(
    name: str,
    fn: Callable[..., Any],
    spec: Subdag,
    config: Mapping[str, Any],
    nodes_of: NodesOf,
) -> tuple[list[Node], frozenset[str]]:
    """The sub-DAG's nodes and the decorated function's node; and the sub-DAG's node names.

    Raises:
        GraphError: the sub-DAG is not a valid graph, or ``config=`` and ``inputs=`` share keys.
    """
    shared = sorted(set(spec.config) & set(spec.inputs))
    if shared:
        raise GraphError(
            f"@subdag on {origin_of(fn)} names {shared} in both config= and "
            "inputs=; give each key once."
        )
    sub_config = resolve_config(config, spec.config, fn.__name__)
    inner = nodes_of(spec.load_from, sub_config)
    namespace = spec.namespace or name
    renamed = set(inner) | set(spec.inputs) | set(spec.config)

    def qualified(n: str) -> str:
        return f"{namespace}.{n}" if n in renamed else n

    out: list[Node] = []
    read_types: dict[str, Any] = {}
    for node in inner.values():
        sources = {p.name: qualified(p.name) for p in node.params if p.name in renamed}
        out.append(rebind(node, qualified(node.name), node.fn, sources, {}, node.fn.__doc__))
        read_types.update({qualified(p.name): p.annotation for p in node.params})
    for key, dependency in spec.inputs.items():
        if isinstance(dependency, LiteralDependency):
            out.append(_constant(qualified(key), dependency.value, fn))
        elif qualified(key) in read_types:  # Hamilton adds a pass-through only when it is read
            tp = read_types[qualified(key)]
            out.append(_identity(qualified(key), dependency.source, tp, fn))
    for key in spec.config:
        out.append(_constant(qualified(key), sub_config[key], fn))
    out = [dataclasses.replace(n, tags={**n.tags, NON_FINAL_TAG: True}) for n in out]
    internal = frozenset(n.name for n in out)

    final = Node.from_fn(spec.final_node_name or name, fn, {})
    external = set(spec.external_inputs)
    sources = {p.name: f"{namespace}.{p.name}" for p in final.params if p.name not in external}
    out.append(rebind(final, final.name, fn, sources, {}, fn.__doc__))
    return out, internal
