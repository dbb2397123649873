"""``Variable``: what ``Driver.list_available_variables`` and its friends return."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .graph.graph import FunctionGraph


@dataclass(frozen=True)
class Variable:
    """A node or an input of the graph, as listed by ``Driver.list_available_variables``.

    As in Hamilton: ``documentation`` is the function's docstring (``""`` for none and for
    inputs); ``required_dependencies`` and ``optional_dependencies`` are the names the node
    reads without and with a default; an input's ``originating_functions`` are those of the
    first node that reads it.
    """

    name: str
    type: Any
    tags: Mapping[str, Any] = field(default_factory=dict)
    is_external_input: bool = False
    originating_functions: tuple[Callable[..., Any], ...] = ()
    documentation: str = ""
    required_dependencies: frozenset[str] = frozenset()
    optional_dependencies: frozenset[str] = frozenset()

    @classmethod
    def from_node(cls, node: Any) -> Variable:
        """The ``Variable`` of an ``asyncdag.node.Node`` (or of a node of ``dr.graph.nodes``)."""
        from .graph import node as _node
        from .node import Node

        if isinstance(node, _node.Node):
            node = Node(node)
        if not isinstance(node, Node):
            raise TypeError(f"Variable.from_node takes an asyncdag.node.Node, not {node!r}")
        kinds = node.input_types
        return cls(
            node.name,
            node.type,
            node.tags,
            node.user_defined,
            node.originating_functions,
            documentation=node.documentation,
            required_dependencies=frozenset(k for k in kinds if node.requires(k)),
            optional_dependencies=frozenset(k for k in kinds if not node.requires(k)),
        )


def variable_of(graph: FunctionGraph, name: str) -> Variable:
    """The ``Variable`` of node or input ``name`` of ``graph``."""
    node = graph.nodes.get(name)
    if node is None:
        types = {
            p.annotation
            for consumer in graph.inputs.get(name, ())
            for p in graph.nodes[consumer].params
            if p.name == name
        }
        tp = types.pop() if len(types) == 1 else Any
        readers = graph.inputs.get(name, ())
        origin = (graph.nodes[readers[0]].fn,) if readers else ()
        return Variable(name, tp, {}, True, origin)
    tags = {"module": node.fn.__module__, **node.tags}
    return Variable(
        name,
        node.returns,
        tags,
        False,
        (node.fn,),
        documentation=node.fn.__doc__ or "",
        required_dependencies=frozenset(p.name for p in node.params if not p.optional),
        optional_dependencies=frozenset(p.name for p in node.params if p.optional),
    )


def matches(tags: Mapping[str, Any], tag_filter: Mapping[str, Any]) -> bool:
    """Hamilton's tag query: every key present; a value, or a list, meets the tag's value(s)."""
    for key, wanted in tag_filter.items():
        if key not in tags:
            return False
        if wanted is None:
            continue
        options = wanted if isinstance(wanted, list | tuple | set) else [wanted]
        if not options:
            raise ValueError(
                f"tag_filter[{key!r}] is an empty list, which matches nothing; give at least "
                "one value, or None to match any value of the tag."
            )
        have = tags[key] if isinstance(tags[key], list) else [tags[key]]
        if not any(option in have for option in options):
            return False
    return True
