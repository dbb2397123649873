"""Where each node runs: its block scope, found from Parallelizable and Collect edges.

A node's *scope* is the tuple of expanders (``Parallelizable`` nodes) whose branches it runs in,
outermost first: ``()`` outside every block, ``("url",)`` once per url item, ``("url", "page")``
once per page of each url. Reading an expander without ``Collect`` enters its block; a
``Collect`` parameter leaves the innermost block of the value it reads.
"""

from __future__ import annotations

import graphlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ..errors import GraphError
from .node import Node

Scope = tuple[str, ...]
_NONE: frozenset[str] = frozenset()  # shared: most nodes close no block


@dataclass(frozen=True)
class Analysis:
    """Scopes, a topological order and the blocks each collector closes."""

    order: tuple[str, ...]
    scopes: Mapping[str, Scope]
    closes: Mapping[str, frozenset[str]]  # collector -> expanders whose blocks it closes


def topological_order(nodes: Mapping[str, Node]) -> tuple[str, ...]:
    """Node names, dependencies first.

    Raises:
        GraphError: the functions form a cycle (named in the message).
    """
    sorter: graphlib.TopologicalSorter[str] = graphlib.TopologicalSorter()
    for node in nodes.values():
        sorter.add(node.name, *(p.name for p in node.params if p.name in nodes))
    try:
        return tuple(sorter.static_order())
    except graphlib.CycleError as exc:
        cycle = exc.args[1]
        raise GraphError(
            f"the functions form a cycle: {' -> '.join(reversed(cycle))}. A node cannot depend "
            "on itself, directly or through others; break the cycle by renaming a parameter."
        ) from None


def _branch_scope(node: Node, dep: Node, scopes: Mapping[str, Scope]) -> Scope:
    """The scope of the value ``node`` reads from ``dep`` before any Collect."""
    return scopes[dep.name] + (dep.name,) if dep.expands else scopes[dep.name]


def analyse(nodes: Mapping[str, Node], constants: Collection[str] = ()) -> Analysis:
    """Compute every node's scope; ``constants`` are nodes whose value is given (overrides).

    Raises:
        GraphError: a cycle; a ``Collect`` with no ``Parallelizable`` upstream; a node reading
            branch values of two unrelated blocks; a node both inside a block and after it.
    """
    order = topological_order(nodes)
    scopes: dict[str, Scope] = {}
    closes: dict[str, frozenset[str]] = {}
    reads: dict[str, list[tuple[str, Scope]]] = {}  # per node: (dependency, scope read)
    for name in order:
        node = nodes[name]
        if name in constants and not node.expands:
            scopes[name], closes[name], reads[name] = (), _NONE, []
            continue
        reads[name], closing = _reads(node, nodes, scopes, name in constants)
        scopes[name] = _own_scope(node, reads[name])
        closes[name] = frozenset(closing) if closing else _NONE
    _check_not_after_own_block(nodes, order, scopes, closes, reads)
    return Analysis(order, scopes, closes)


def _reads(
    node: Node, nodes: Mapping[str, Node], scopes: Mapping[str, Scope], given: bool
) -> tuple[list[tuple[str, Scope]], set[str]]:
    """(dependency, scope of the value read) per node parameter, and the blocks it collects."""
    reads: list[tuple[str, Scope]] = []
    closing: set[str] = set()
    for p in node.params:
        dep = nodes.get(p.name)
        if dep is None or (given and node.expands):
            if p.collect and dep is None:
                raise GraphError(
                    f"parameter {p.name!r} of {node.origin} is annotated Collect[...], but "
                    f"{p.name!r} is an input, not a value computed in a parallel block. "
                    "Collect must read a node downstream of a Parallelizable node.",
                    function=node.origin,
                    node=node.name,
                )
            continue
        scope = _branch_scope(node, dep, scopes)
        if p.collect:
            if not scope:
                raise GraphError(
                    f"parameter {p.name!r} of {node.origin} is annotated Collect[...], but "
                    f"{dep.origin} is not inside a parallel block: no Parallelizable node is "
                    f"upstream of it. Return Parallelizable[...] from the node that yields "
                    f"the items, or drop Collect from {p.name!r}.",
                    function=node.origin,
                    node=node.name,
                )
            closing.add(scope[-1])
            scope = scope[:-1]
        reads.append((p.name, scope))
    return reads, closing


def _own_scope(node: Node, reads: list[tuple[str, Scope]]) -> Scope:
    """The innermost scope read; every other read must enclose it."""
    own: Scope = max((s for _, s in reads), key=len, default=())
    for dep_name, scope in reads:
        if own[: len(scope)] != scope:
            other = next(d for d, s in reads if s == own)
            raise GraphError(
                f"{node.origin} reads {dep_name!r} from the block of {scope[-1]!r} and "
                f"{other!r} from the block of {own[-1]!r} without collecting either; "
                "branches of two different blocks cannot be paired. Collect one of them "
                "first (a parameter annotated Collect[...]).",
                function=node.origin,
                node=node.name,
            )
    return own


def _check_not_after_own_block(
    nodes: Mapping[str, Node],
    order: tuple[str, ...],
    scopes: Mapping[str, Scope],
    closes: Mapping[str, frozenset[str]],
    reads: Mapping[str, list[tuple[str, Scope]]],
) -> None:
    """No node inside a block may be downstream of a Collect that closes that block.

    Each node carries the blocks closed upstream of it, but only those with a member still
    ahead in ``order``: a block whose last member has passed can no longer be violated. So
    blocks in a row cost nothing, and unchanged sets are shared, not copied.
    """
    last: dict[str, int] = {}  # expander -> index of the last node inside its block
    for i, name in enumerate(order):
        for expander in scopes[name]:
            last[expander] = i
    closed: dict[str, frozenset[str]] = {}
    for i, name in enumerate(order):
        upstream = {id(closed[d]): closed[d] for d, _ in reads[name] if closed[d]}
        if closes[name]:
            upstream[id(closes[name])] = closes[name]
        if not upstream:
            closed[name] = _NONE
            continue
        merged = (
            next(iter(upstream.values()))
            if len(upstream) == 1
            else frozenset().union(*upstream.values())
        )
        inside_and_after = merged.intersection(scopes[name])
        if inside_and_after:
            block = sorted(inside_and_after)[0]
            branch_read = next(d for d, s in reads[name] if block in s)
            raise GraphError(
                f"{nodes[name].origin} reads {branch_read!r}, a branch value of the block of "
                f"{block!r}, and also, through its dependencies, the Collect that closes that "
                f"block: a node runs either once per branch or after the block, not both. "
                f"Read {branch_read!r} through a Collect[...] parameter instead.",
                function=nodes[name].origin,
                node=name,
            )
        if any(last.get(e, -1) <= i for e in merged):
            merged = frozenset(e for e in merged if last.get(e, -1) > i)
        closed[name] = merged or _NONE
