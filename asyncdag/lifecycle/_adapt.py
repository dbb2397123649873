"""Turn Hamilton-style hook objects into observers of a run."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from ..execution.observe import Observer, RunInfo
from ..execution.paths import Path, format_path
from ..graph.node import Node

_METHODS = {
    "run_started": "run_before_graph_execution",
    "node_started": "run_before_node_execution",
    "node_finished": "run_after_node_execution",
    "run_finished": "run_after_graph_execution",
}


def is_hook(adapter: object) -> bool:
    """Whether ``adapter`` has any of Hamilton's lifecycle hook methods."""
    return any(callable(getattr(adapter, m, None)) for m in _METHODS.values())


def as_observer(adapter: object) -> Observer:
    """``adapter`` itself when it observes runs, else an observer calling its hook methods."""
    return adapter if isinstance(adapter, Observer) else HookObserver(adapter)


async def _call(method: Callable[..., Any] | None, **kwargs: Any) -> None:
    if method is None:
        return
    outcome = method(**kwargs)
    if inspect.isawaitable(outcome):
        await outcome


class HookObserver(Observer):
    """Calls a hook object's ``run_before/after_node/graph_execution`` methods (sync or async)."""

    def __init__(self, hook: object) -> None:
        self.hook = hook
        self._before_graph = getattr(hook, "run_before_graph_execution", None)
        self._after_graph = getattr(hook, "run_after_graph_execution", None)
        self._before_node = getattr(hook, "run_before_node_execution", None)
        self._after_node = getattr(hook, "run_after_node_execution", None)

    def describe(self, method: str) -> str:
        return f"{type(self.hook).__qualname__}.{_METHODS.get(method, method)}"

    async def run_started(self, run: RunInfo) -> None:
        await _call(
            self._before_graph,
            graph=run.graph,
            final_vars=list(run.final_vars),
            inputs=dict(run.inputs),
            overrides=dict(run.overrides),
            execution_path=list(run.execution_path),
            run_id=run.run_id,
        )

    async def node_started(self, run: RunInfo, node: Node, path: Path, kwargs: Any) -> None:
        if self._before_node is None:
            return
        await _call(
            self._before_node,
            node_name=node.name,
            node_tags=dict(node.tags),
            node_kwargs=dict(kwargs),
            node_return_type=node.returns,
            task_id=format_path(path) or None,
            run_id=run.run_id,
            node_input_types={p.name: p.annotation for p in node.params},
            branch_index=tuple(i for _, i, _ in path),
        )

    async def node_finished(
        self,
        run: RunInfo,
        node: Node,
        path: Path,
        kwargs: Any,
        result: Any,
        error: BaseException | None,
    ) -> None:
        if self._after_node is None:
            return
        await _call(
            self._after_node,
            node_name=node.name,
            node_tags=dict(node.tags),
            node_kwargs=dict(kwargs),
            node_return_type=node.returns,
            result=None if error is not None else result,
            error=error,
            success=error is None,
            task_id=format_path(path) or None,
            run_id=run.run_id,
            branch_index=tuple(i for _, i, _ in path),
        )

    async def run_finished(
        self, run: RunInfo, results: Mapping[str, Any] | None, error: BaseException | None
    ) -> None:
        await _call(
            self._after_graph,
            graph=run.graph,
            success=error is None,
            error=error,
            results=None if results is None else dict(results),
            run_id=run.run_id,
        )
