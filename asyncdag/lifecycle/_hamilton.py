"""Run adapters written against Hamilton's ``lifecycle.base`` classes."""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

from ..execution.observe import Observer, RunInfo
from ..execution.paths import Path, format_path
from ..graph import node as _node
from ..graph.graph import FunctionGraph
from ..node import Node
from .base import UNSUPPORTED, ValidationException, steps_of

# (run id, task id) of the node call about to happen, for do_node_execute adapters; set by
# LifecycleHooks.node_started in the task that then calls the node (threads copy it). A
# branch shipped to a worker process has no such call here: it sees None.
_CALL: contextvars.ContextVar[tuple[str, str | None] | None] = contextvars.ContextVar(
    "asyncdag_lifecycle_call", default=None
)
_NODE_METHODS = ("do_node_execute", "do_remote_execute")


def is_lifecycle_adapter(adapter: object) -> bool:
    """Whether ``adapter`` subclasses one of ``asyncdag.lifecycle.base``'s step classes."""
    return bool(steps_of(adapter))


def check_supported(adapter: object) -> None:
    """Raise ``TypeError`` when ``adapter`` implements a step asyncdag cannot honour."""
    for step in steps_of(adapter):
        if step in UNSUPPORTED:
            raise TypeError(
                f"{type(adapter).__qualname__} implements Hamilton's {step}, which asyncdag "
                f"does not run: {UNSUPPORTED[step]}."
            )


async def _call(method: Callable[..., Any] | None, **kwargs: Any) -> None:
    if method is not None:
        outcome = method(**kwargs)
        if inspect.isawaitable(outcome):
            await outcome


def _sync(adapter: object, step: str, **kwargs: Any) -> Any:
    outcome = getattr(adapter, step)(**kwargs)
    if inspect.isawaitable(outcome):
        close = getattr(outcome, "close", None)
        if close is not None:
            close()
        raise TypeError(
            f"{type(adapter).__qualname__}.{step} is async, but it runs while the Driver is "
            "built, which is sync: make it a plain def."
        )
    return outcome


def public_node(graph: FunctionGraph, name: str) -> Node:
    """The ``asyncdag.node.Node`` of node or input ``name``."""
    found = graph.nodes.get(name)
    if found is not None:
        return Node(found)
    readers = tuple(graph.nodes[r].fn for r in graph.inputs.get(name, ()))
    types = {
        p.annotation
        for r in graph.inputs.get(name, ())
        for p in graph.nodes[r].params
        if p.name == name
    }
    return Node(None, (name, types.pop() if len(types) == 1 else Any, readers))


class LifecycleHooks(Observer):
    """One Hamilton ``lifecycle.base`` adapter: build steps, and the hooks of each run."""

    def __init__(self, adapter: object) -> None:
        self.adapter = adapter
        self._steps = steps_of(adapter)

    def describe(self, method: str) -> str:
        return f"{type(self.adapter).__qualname__}.{method}"

    def _method(self, step: str) -> Callable[..., Any] | None:
        return getattr(self.adapter, step) if step in self._steps else None

    def before_build(self) -> None:
        """``pre_do_anything()``."""
        if "pre_do_anything" in self._steps:
            _sync(self.adapter, "pre_do_anything")

    @property
    def constructs_async(self) -> bool:
        """Whether ``post_graph_construct`` is ``async def`` (awaited by ``ainit``)."""
        method = self._method("post_graph_construct")
        return method is not None and inspect.iscoroutinefunction(method)

    async def constructed_async(
        self, graph: FunctionGraph, modules: Sequence[ModuleType], config: Mapping[str, Any]
    ) -> None:
        """An ``async def post_graph_construct``, awaited."""
        if self.constructs_async:
            await _call(
                self._method("post_graph_construct"),
                graph=graph,
                modules=list(modules),
                config=dict(config),
            )

    def constructed(
        self, graph: FunctionGraph, modules: Sequence[ModuleType], config: Mapping[str, Any]
    ) -> None:
        """A sync ``post_graph_construct``."""
        if "post_graph_construct" in self._steps and not self.constructs_async:
            _sync(
                self.adapter,
                "post_graph_construct",
                graph=graph,
                modules=list(modules),
                config=dict(config),
            )

    def after_build(
        self, graph: FunctionGraph, modules: Sequence[ModuleType], config: Mapping[str, Any]
    ) -> list[str]:
        """``post_graph_construct`` and the validators; the validators' failure messages."""
        self.constructed(graph, modules, config)
        failures: list[str] = []
        if "validate_node" in self._steps:
            for name in [*graph.nodes, *graph.inputs]:
                ok, message = _sync(
                    self.adapter, "validate_node", created_node=public_node(graph, name)
                )
                if not ok:
                    failures.append(f"node {name!r}: {message}")
        if "validate_graph" in self._steps:
            ok, message = _sync(
                self.adapter,
                "validate_graph",
                graph=graph,
                modules=list(modules),
                config=dict(config),
            )
            if not ok:
                failures.append(f"graph: {message}")
        return failures

    async def run_started(self, run: RunInfo) -> None:
        if any(m in self._steps for m in _NODE_METHODS):
            _CALL.set((run.run_id, None))  # for nodes that report no node_started (expanders)
        await _call(
            self._method("pre_graph_execute"),
            run_id=run.run_id,
            graph=run.graph,
            final_vars=list(run.final_vars),
            inputs=dict(run.inputs),
            overrides=dict(run.overrides),
        )

    async def node_started(self, run: RunInfo, node: _node.Node, path: Path, kwargs: Any) -> None:
        if any(m in self._steps for m in _NODE_METHODS):
            _CALL.set((run.run_id, format_path(path) or None))
        await _call(
            self._method("pre_node_execute"),
            run_id=run.run_id,
            node_=Node(node),
            kwargs=dict(kwargs),
            task_id=format_path(path) or None,
        )

    async def node_finished(
        self,
        run: RunInfo,
        node: _node.Node,
        path: Path,
        kwargs: Any,
        result: Any,
        error: BaseException | None,
    ) -> None:
        await _call(
            self._method("post_node_execute"),
            run_id=run.run_id,
            node_=Node(node),
            kwargs=dict(kwargs),
            success=error is None,
            error=error,
            result=None if error is not None else result,
            task_id=format_path(path) or None,
        )

    async def run_finished(
        self, run: RunInfo, results: Mapping[str, Any] | None, error: BaseException | None
    ) -> None:
        if any(m in self._steps for m in _NODE_METHODS):
            _CALL.set(None)  # the caller's task keeps no trace of the run
        await _call(
            self._method("post_graph_execute"),
            run_id=run.run_id,
            graph=run.graph,
            success=error is None,
            error=error,
            results=None if results is None else dict(results),
        )


class BuildResultMethod:
    """A ``do_build_result`` adapter as a result builder."""

    def __init__(self, adapter: object) -> None:
        self.adapter = adapter

    def build_result(self, **outputs: Any) -> Any:
        return _sync(self.adapter, "do_build_result", outputs=outputs)


def built(
    hooks: Iterable[Observer],
    graph: FunctionGraph,
    modules: Sequence[ModuleType],
    config: Mapping[str, Any],
    awaits_construction: bool = False,
) -> None:
    """Tell each lifecycle adapter the graph is built (``awaits_construction``: an
    ``AsyncDriver``, whose ``ainit`` awaits the async ``post_graph_construct`` hooks).

    Raises:
        ValidationException: a ``validate_node``/``validate_graph`` adapter rejected it.
    """
    adapters = [hook for hook in hooks if isinstance(hook, LifecycleHooks)]
    if not awaits_construction:
        for hook in adapters:
            if hook.constructs_async:
                raise TypeError(
                    f"{type(hook.adapter).__qualname__}.post_graph_construct is async: build "
                    "with `await asyncdag.async_driver.Builder()...build()`, which awaits it, "
                    "or make it a plain def."
                )
    failures = [m for hook in adapters for m in hook.after_build(graph, modules, config)]
    if failures:
        raise ValidationException("lifecycle validators rejected the graph: " + "; ".join(failures))


def constructed(
    hooks: Iterable[Observer],
    graph: FunctionGraph,
    modules: Sequence[ModuleType],
    config: Mapping[str, Any],
) -> None:
    """``post_graph_construct`` of each lifecycle adapter, for a graph made after build()."""
    for hook in hooks:
        if isinstance(hook, LifecycleHooks):
            hook.constructed(graph, modules, config)


def before_build(hooks: Iterable[Observer]) -> None:
    """``pre_do_anything()`` of each lifecycle adapter."""
    for hook in hooks:
        if isinstance(hook, LifecycleHooks):
            hook.before_build()


def input_check(adapter: object) -> Callable[[Any, Any], bool]:
    """``(annotation, value) -> ok`` calling ``adapter.do_validate_input``."""
    method: Callable[..., Any] = getattr(adapter, "do_validate_input")  # noqa: B009

    def check(annotation: Any, value: Any) -> bool:
        return bool(method(node_type=annotation, input_value=value))

    return check


def runs_nodes(adapter: object) -> bool:
    """Whether ``adapter`` implements ``do_node_execute`` or ``do_remote_execute``."""
    return any(m in steps_of(adapter) for m in _NODE_METHODS)


class NodeExecuteMethod:
    """A ``do_node_execute``/``do_remote_execute`` adapter: it makes each node's call.

    The Driver's graph is rewritten once: each node's function asks the adapter to run the
    original, wherever the node runs (on the loop, threads or worker processes). ``run_id``
    and ``task_id`` are the run's and the branch's, except in a worker process (None there).
    """

    def __init__(self, adapter: object) -> None:
        self.adapter = adapter

    def rewrite(self, graph: FunctionGraph) -> FunctionGraph:
        """``graph`` with every node called through the adapter."""
        nodes = {name: self._through(node) for name, node in graph.nodes.items()}
        return FunctionGraph.from_nodes(nodes, graph.config)

    def _through(self, node: _node.Node) -> _node.Node:
        call = _call_async if node.is_async or node.is_async_generator else _call_sync
        wrapped = functools.update_wrapper(
            functools.partial(call, self.adapter, Node(node)), node.fn
        )
        return dataclasses.replace(node, fn=wrapped, is_async=inspect.iscoroutinefunction(wrapped))


def _through_adapter(adapter: object, node: Node, kwargs: dict[str, Any]) -> Any:
    steps = steps_of(adapter)
    method: Callable[..., Any]
    if "do_node_execute" in steps:
        method = getattr(adapter, _NODE_METHODS[0])
        run_id, task_id = _CALL.get() or (None, None)
        return method(run_id=run_id, node_=node, kwargs=kwargs, task_id=task_id)
    method = getattr(adapter, _NODE_METHODS[1])
    return method(node=node, execute_lifecycle_for_node=node.callable, **kwargs)


def _call_sync(adapter: object, node: Node, **kwargs: Any) -> Any:
    return _through_adapter(adapter, node, kwargs)


async def _call_async(adapter: object, node: Node, **kwargs: Any) -> Any:
    outcome = _through_adapter(adapter, node, kwargs)
    return await outcome if inspect.isawaitable(outcome) else outcome
