"""``@pipe_input``: a chain of ``step(...)`` nodes in front of one parameter of a function.

As in Hamilton, each step's node is named ``<namespace>.<name>``: the namespace defaults to
the decorated node's name, the name to ``with_<fn>`` (``with_<fn>_1``... for repeats), and
``.named(...)``/``namespace=`` change them. Steps whose ``.when*`` does not hold are skipped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import GraphError
from ..node import Node, origin_of
from .meta import PipeInput, Step, sources_and_values
from .wrap import rebind


def _node_name(step: Step, pipe: PipeInput, owner: str, repeat: int) -> str:
    fn_name = step.fn.__name__
    suffix = f"_{repeat}" if repeat else ""
    name = step.name or f"with{'' if fn_name.startswith('_') else '_'}{fn_name}{suffix}"
    if pipe.namespace is not ...:
        step = step.namespaced(pipe.namespace)
    return ".".join((*step.resolve_namespace(owner), name))


def _bindings(step: Step, chained: str, where: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Parameter -> source node, and parameter -> fixed value, for one step."""
    try:
        bound = step.bind(chained)
    except TypeError as exc:
        raise GraphError(
            f"@pipe_input on {where}: step({step.fn.__qualname__}, ...) does not fit its "
            f"signature ({exc}). The chained value is its first parameter; bind the others with "
            "positional or keyword arguments."
        ) from None
    return sources_and_values(bound.arguments)


def inject(
    node: Node, fn: Callable[..., Any], pipe: PipeInput, config: Mapping[str, Any]
) -> list[Node]:
    """The step nodes, then ``node`` reading the last of them in place of its parameter."""
    where = origin_of(fn)
    names = [p.name for p in node.params]
    target = pipe.on_input or (names[0] if names else None)
    if target not in names:
        raise GraphError(
            f"@pipe_input on {where} pipes into parameter {target!r}, which the function "
            f"does not have (it has {', '.join(names) or 'none'})."
        )
    out: list[Node] = []
    repeats: Counter[str] = Counter()
    chained = str(target)
    for step in pipe.steps:
        if not all(c.holds(config) for c in step.conditions):
            continue
        name = _node_name(step, pipe, node.name, repeats[step.fn.__name__])
        repeats[step.fn.__name__] += 1
        sources, values = _bindings(step, chained, where)
        raw = Node.from_fn(name, step.fn, {})
        out.append(rebind(raw, name, step.fn, sources, values, step.fn.__doc__))
        chained = name
    if chained == target:
        return [node]
    return [*out, rebind(node, node.name, fn, {str(target): chained}, {}, fn.__doc__)]
