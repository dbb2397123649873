"""``@pipe_output`` and ``@mutate``: a chain of ``step(...)`` nodes after a node.

As in Hamilton, a node ``b`` so decorated becomes ``b.raw`` (the function itself), then one
node per step (``b.with_<fn>``, ``b.with_<fn>_1`` for repeats, or ``step(...).named(name)``),
then ``b`` again, the value of the last step. ``namespace=`` replaces the ``b`` prefix of the
steps (``None``: no prefix); a step's own namespace is not used. Steps whose ``.when*`` does
not hold, or whose ``.on_output(...)`` names other nodes, are skipped for that node; if none is
left the node stays as it is. ``@mutate(b)`` on ``_f`` adds ``step(_f)`` to ``b``'s
``@pipe_output`` (making one when ``b`` has none).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import GraphError
from ..node import Node, Param, origin_of
from .meta import PipeOutput, Step, sources_and_values
from .wrap import named_like, rebind


def _applies(step: Step, node: str, config: Mapping[str, Any]) -> bool:
    target = step.target
    if isinstance(target, str):
        named = target == node
    elif isinstance(target, tuple):
        named = node in target
    else:
        named = True
    return named and all(c.holds(config) for c in step.conditions)


def _bindings(step: Step, chained: str, where: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Parameter -> source node, and parameter -> fixed value, for one step."""
    signature = inspect.signature(step.fn)
    if not signature.parameters:
        raise GraphError(
            f"@pipe_output on {where}: step({step.fn.__qualname__}) has no parameters; its "
            "first parameter gets the value to transform."
        )
    try:
        bound = step.bind(chained)
    except TypeError as exc:
        raise GraphError(
            f"@pipe_output on {where}: step({step.fn.__qualname__}, ...) does not fit its "
            f"signature ({exc}). The value to transform is its first parameter; bind the "
            "others with positional or keyword arguments."
        ) from None
    return sources_and_values(bound.arguments)


def _identity(name: str, source: str, tp: Any, like: Callable[..., Any]) -> Node:
    def identity(**kwargs: Any) -> Any:
        return kwargs[source]

    named_like(identity, like)
    identity.__doc__ = like.__doc__
    return Node(name, identity, (Param(source, tp, False, False),), tp, False, False, {})


def pipe_output(
    node: Node, fn: Callable[..., Any], spec: PipeOutput, config: Mapping[str, Any]
) -> list[Node]:
    """``node`` as ``<node>.raw``, its step nodes, and ``<node>`` reading the last step.

    Raises:
        GraphError: a step does not fit its function's signature.
    """
    steps = [s for s in spec.steps if _applies(s, node.name, config)]
    if not steps:
        return [node]
    if node.expands or node.is_generator or node.is_async_generator:
        raise GraphError(
            f"@pipe_output on {origin_of(fn)}: node {node.name!r} is Parallelizable or a "
            "generator; pipe the nodes of its branches instead."
        )
    namespace = node.name if spec.namespace is ... else spec.namespace
    raw = node.name + ".raw"
    out = [dataclasses.replace(node, name=raw)]
    repeats: Counter[str] = Counter()
    chained = raw
    last = node
    for step in steps:
        fn_name = step.fn.__name__
        suffix = f"_{repeats[fn_name]}" if repeats[fn_name] else ""
        repeats[fn_name] += 1
        short = step.name or f"with{'' if fn_name.startswith('_') else '_'}{fn_name}{suffix}"
        name = short if namespace is None else f"{namespace}.{short}"
        sources, values = _bindings(step, chained, origin_of(fn))
        last = rebind(Node.from_fn(name, step.fn, {}), name, step.fn, sources, values, None)
        out.append(last)
        chained = name
    final = _identity(node.name, chained, last.returns, fn)
    return [*out, final]
