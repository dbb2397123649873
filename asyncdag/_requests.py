"""What ``execute`` was asked for: the output names, the nodes a plan runs, their executors."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._variables import Variable
from .errors import GraphError, UnknownNodeError
from .execution.executors import Executor
from .graph.graph import FunctionGraph
from .graph.node import Node
from .graph.plan import LOCAL, REMOTE, Frame


def requested(final_vars: Any) -> tuple[str, ...]:
    """The output names of ``final_vars``: names, node functions or ``Variable``s."""
    if isinstance(final_vars, str) or not isinstance(final_vars, Iterable):
        got = f"the string {final_vars!r}" if isinstance(final_vars, str) else repr(final_vars)
        example = final_vars if isinstance(final_vars, str) else "total"
        raise TypeError(
            f"final_vars must be a list of node names (or node functions), got {got}. "
            f"Pass a list: execute([{example!r}])."
        )
    names = []
    for v in final_vars:
        if isinstance(v, str):
            names.append(v)
        elif isinstance(v, Variable):
            names.append(v.name)
        elif callable(v) and isinstance(getattr(v, "__name__", None), str):
            names.append(v.__name__)
        else:
            raise TypeError(
                f"final_vars holds {v!r} of type {type(v).__qualname__}; each output must be a "
                "node name, a node function or a Variable, e.g. execute(['total'])."
            )
    return tuple(names)


def check_functions_are_nodes(final_vars: Any, graph: FunctionGraph) -> None:
    """A function in ``final_vars`` must be the node's own, not a namesake from elsewhere.

    As in Hamilton, the function's module must be one the graph was built from.

    Raises:
        UnknownNodeError: a function's module made no node of ``graph``.
    """
    modules: set[str] | None = None  # only built when a function is passed
    for v in final_vars:
        if isinstance(v, str | Variable) or not callable(v):
            continue
        if modules is None:
            modules = {node.fn.__module__ for node in graph.nodes.values()}
        module = getattr(v, "__module__", None)
        if module not in modules:
            error = UnknownNodeError(v.__name__, [*graph.nodes, *graph.inputs])
            error.add_note(
                f"asyncdag: {v.__name__} was passed as the function {module}.{v.__qualname__}, "
                "but no node of this graph comes from that module; pass the node's name, or "
                "the function of a module the Driver was built with."
            )
            raise error


def execution_path(frame: Frame) -> tuple[str, ...]:
    """The nodes a plan runs, outermost frame first."""
    names: list[str] = []
    for step in frame.steps:
        if step.calls:  # a thread job: its calls
            names.extend(call.node.name for call in step.calls)
        elif step.block is None or not step.block.given:
            names.append(step.node.name)
        if step.block is not None:
            names.extend(execution_path(step.block.frame))
    return tuple(names)


def check_executor_tags(nodes: Iterable[Node], executors: Mapping[str, Executor]) -> None:
    """Nodes that would run must name registered executors (tags elsewhere are Hamilton's)."""
    for node in nodes:
        name = node.tags.get("executor")
        if name is not None and name not in executors:
            named = sorted(k for k in executors if k not in (LOCAL, REMOTE))
            raise GraphError(
                f"node {node.name!r} ({node.origin}) is tagged executor={name!r} and would run "
                f"in this request, but no executor has that name (named executors: "
                f"{named or 'none'}); nothing was run. Add `.with_executor({name!r}, ...)` to "
                "the Builder."
            )
