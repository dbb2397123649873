"""``Builder`` collects settings; ``Driver`` owns a built graph and runs it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol, Self

from ._closing import AsyncClosing
from .base import DictResult
from .errors import AsyncDagError, GraphError
from .events import Event
from .execution.executors import Executor, InlineExecutor
from .execution.observe import Observer, Observers, RunInfo
from .execution.scheduler import run_plan
from .graph.graph import FunctionGraph
from .graph.plan import LOCAL, REMOTE, Frame, Plan, build_plan

__all__ = ["Builder", "Driver", "Variable"]

# How many request shapes (outputs, input names, override names) keep their plan.
_PLANS_KEPT = 256


class ResultBuilder(Protocol):
    """Anything with Hamilton's ``build_result(**outputs)``."""

    def build_result(self, **outputs: Any) -> Any: ...


@dataclass(frozen=True)
class Variable:
    """A node or an input of the graph, as listed by ``Driver.list_available_variables``."""

    name: str
    type: Any
    tags: Mapping[str, Any] = field(default_factory=dict)
    is_external_input: bool = False
    originating_functions: tuple[Callable[..., Any], ...] = ()


class Driver(AsyncClosing):
    """A built DAG, ready to ``execute``. Build one with ``Builder``.

    ``Driver(config, *modules)`` also works, as in Hamilton.
    """

    def __init__(
        self,
        config: Mapping[str, Any],
        *modules: ModuleType,
        adapter: ResultBuilder | None = None,
        executors: Mapping[str, Executor] | None = None,
        observers: Iterable[Observer] = (),
    ) -> None:
        self.graph = FunctionGraph.from_modules(modules, config)
        self._executors: dict[str, Executor] = {
            LOCAL: InlineExecutor(),
            REMOTE: InlineExecutor(),
            **(executors or {}),
        }
        self._result_builder: ResultBuilder = adapter or DictResult()
        self._observers = tuple(observers)
        self._inline = frozenset(k for k, e in self._executors.items() if e.runs_inline)
        self._plans: dict[tuple[tuple[str, ...], frozenset[str], frozenset[str]], Plan] = {}
        _check_executor_tags(self.graph, self._executors)

    async def execute(
        self,
        final_vars: Iterable[str | Callable[..., Any]],
        inputs: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Any:
        """Compute ``final_vars`` and what they need; return them through the result builder.

        Raises:
            UnknownNodeError: a requested name is not in the graph.
            MissingInputError: inputs are missing (raised before anything runs).
            GraphError: a requested node lives inside a parallel block.
            Exception: a node's own exception, as itself, with a note naming node and branch.
        """
        results = await self._run(final_vars, inputs, overrides, self._observers)
        return self._result_builder.build_result(**results)

    def stream(
        self,
        final_vars: Iterable[str | Callable[..., Any]],
        inputs: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> AsyncIterator[Event]:
        """Run like ``execute``, yielding an ``Event`` as each node, branch and block finishes.

        The last event is ``"done"`` with the result as its value. The consumer sets the pace:
        events wait in a small buffer, so a slow consumer slows the run. Leaving the
        ``async for`` early (``break``, an exception, a cancellation) cancels the run;
        ``async with contextlib.aclosing(dr.stream(...)) as events:`` waits until it stopped.
        """
        from .execution.stream import EventStream

        async def run(listener: Observer) -> Any:
            results = await self._run(final_vars, inputs, overrides, (*self._observers, listener))
            return self._result_builder.build_result(**results)

        return EventStream(run)

    async def _run(
        self,
        final_vars: Iterable[str | Callable[..., Any]],
        inputs: Mapping[str, Any] | None,
        overrides: Mapping[str, Any] | None,
        observers: tuple[Observer, ...],
    ) -> dict[str, Any]:
        inputs = dict(inputs or {})
        overrides = dict(overrides or {})
        outputs = tuple(v if isinstance(v, str) else v.__name__ for v in final_vars)
        plan = self._plan(outputs, inputs, overrides)
        vals = {**self.graph.config, **inputs, **overrides}
        if not observers:
            return await run_plan(plan, vals, self._executors)
        info = RunInfo(
            str(uuid.uuid4()), self.graph, outputs, inputs, overrides, _execution_path(plan.root)
        )
        return await run_plan(plan, vals, self._executors, Observers(observers), info)

    def execute_sync(
        self,
        final_vars: Iterable[str | Callable[..., Any]],
        inputs: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> Any:
        """``execute`` from sync code: runs its own event loop (uvloop when installed).

        Raises:
            AsyncDagError: called from inside a running event loop; ``await execute`` there.
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise AsyncDagError(
                "execute_sync() was called inside a running event loop, which it would block. "
                "Use `await driver.execute(...)` there instead."
            )

        async def run_and_close() -> Any:
            try:
                return await self.execute(final_vars, inputs, overrides)
            finally:
                await self.aclose()

        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            return runner.run(run_and_close())

    async def aclose(self) -> None:
        """Stop the pools and clusters this Driver's executors started."""
        for executor in {id(e): e for e in self._executors.values()}.values():
            await executor.aclose()

    def list_available_variables(
        self, tag_filter: Mapping[str, Any] | None = None
    ) -> list[Variable]:
        """Every node, input and config key; with ``tag_filter``, only nodes with those tags.

        As in Hamilton, a node's tags include ``module``, the module that defined it.
        """
        names = dict.fromkeys([*self.graph.nodes, *self.graph.inputs, *self.graph.config])
        variables = [self._variable(n) for n in names]
        if tag_filter:
            variables = [v for v in variables if _matches(v.tags, tag_filter)]
        return variables

    def what_is_upstream_of(self, *node_names: str) -> list[Variable]:
        """The named nodes and everything they depend on."""
        return [self._variable(n) for n in sorted(self.graph.upstream(node_names))]

    def what_is_downstream_of(self, *node_names: str) -> list[Variable]:
        """The named nodes and everything that depends on them."""
        return [self._variable(n) for n in sorted(self.graph.downstream(node_names))]

    def display_all_functions(
        self,
        output_file_path: str | None = None,
        render_kwargs: Mapping[str, Any] | None = None,
        graphviz_kwargs: Mapping[str, Any] | None = None,
        show_legend: bool = True,
        orient: str = "LR",
        hide_inputs: bool = False,
        deduplicate_inputs: bool = False,
        show_schema: bool = True,
        custom_style_function: Callable[..., Any] | None = None,
        keep_dot: bool = False,
    ) -> Any:
        """Draw every function (Hamilton's arguments); return the ``graphviz.Digraph``.

        The file's suffix picks the format (``.png``, ``.svg``...); see ``asyncdag.viz``.
        ``show_schema`` is accepted for Hamilton compatibility (asyncdag nodes carry no schema).
        """
        from . import viz

        return viz.display_all_functions(
            self.graph,
            output_file_path,
            render_kwargs,
            graphviz_kwargs,
            show_legend=show_legend,
            orient=orient,
            hide_inputs=hide_inputs,
            deduplicate_inputs=deduplicate_inputs,
            custom_style_function=custom_style_function,
            describe_node=self._variable,
            keep_dot=keep_dot,
        )

    def visualize_execution(
        self,
        final_vars: Iterable[str | Callable[..., Any]],
        output_file_path: str | None = None,
        render_kwargs: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
        graphviz_kwargs: Mapping[str, Any] | None = None,
        overrides: Mapping[str, Any] | None = None,
        show_legend: bool = True,
        orient: str = "LR",
        hide_inputs: bool = False,
        deduplicate_inputs: bool = False,
        show_schema: bool = True,
        custom_style_function: Callable[..., Any] | None = None,
        bypass_validation: bool = False,
        keep_dot: bool = False,
    ) -> Any:
        """Draw only the nodes ``execute`` would run for this request; inputs and overrides marked.

        Raises what ``execute`` raises before running (unknown names, missing inputs).
        """
        from . import viz

        return viz.visualize_execution(
            self.graph,
            (v if isinstance(v, str) else v.__name__ for v in final_vars),
            output_file_path,
            render_kwargs,
            inputs,
            graphviz_kwargs,
            overrides,
            bypass_validation,
            show_legend=show_legend,
            orient=orient,
            hide_inputs=hide_inputs,
            deduplicate_inputs=deduplicate_inputs,
            custom_style_function=custom_style_function,
            describe_node=self._variable,
            keep_dot=keep_dot,
        )

    def _variable(self, name: str) -> Variable:
        node = self.graph.nodes.get(name)
        if node is None:
            types = {
                p.annotation
                for consumer in self.graph.inputs.get(name, ())
                for p in self.graph.nodes[consumer].params
                if p.name == name
            }
            tp = types.pop() if len(types) == 1 else Any
            return Variable(name, tp, {}, True, ())
        tags = {"module": node.fn.__module__, **node.tags}
        return Variable(name, node.returns, tags, False, (node.fn,))

    def _plan(
        self, outputs: tuple[str, ...], inputs: Mapping[str, Any], overrides: Mapping[str, Any]
    ) -> Plan:
        key = (outputs, frozenset(inputs), frozenset(overrides))
        plan = self._plans.get(key)
        if plan is None:
            plan = build_plan(self.graph, outputs, inputs, overrides, self._inline)
            if len(self._plans) >= _PLANS_KEPT:  # bounded: a service may vary its requests
                del self._plans[next(iter(self._plans))]
            self._plans[key] = plan
        return plan


def _execution_path(frame: Frame) -> tuple[str, ...]:
    """The nodes a plan runs, outermost frame first."""
    names: list[str] = []
    for step in frame.steps:
        if step.block is None or not step.block.given:
            names.append(step.node.name)
        if step.block is not None:
            names.extend(_execution_path(step.block.frame))
    return tuple(names)


def _matches(tags: Mapping[str, Any], tag_filter: Mapping[str, Any]) -> bool:
    for key, wanted in tag_filter.items():
        if key not in tags:
            return False
        if wanted is None:
            continue
        options = wanted if isinstance(wanted, list | tuple | set) else [wanted]
        if tags[key] not in options:
            return False
    return True


def _check_executor_tags(graph: FunctionGraph, executors: Mapping[str, Executor]) -> None:
    for node in graph.nodes.values():
        name = node.tags.get("executor")
        if name is not None and name not in executors:
            named = sorted(k for k in executors if k not in (LOCAL, REMOTE))
            raise GraphError(
                f"{node.origin} is tagged executor={name!r}, but no executor has that name "
                f"(named executors: {named or 'none'}). Add "
                f"`.with_executor({name!r}, ...)` to the Builder."
            )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


class Builder:
    """Collects modules, config, executors and adapters, then ``build()``s a ``Driver``."""

    def __init__(self) -> None:
        self._modules: list[ModuleType] = []
        self._config: dict[str, Any] = {}
        self._executors: dict[str, Executor] = {}
        self._result_builder: ResultBuilder | None = None
        self._observers: list[Observer] = []

    def with_modules(self, *modules: ModuleType) -> Self:
        """Add modules whose public functions become nodes."""
        self._modules.extend(modules)
        return self

    def with_config(self, config: Mapping[str, Any]) -> Self:
        """Add configuration: it picks ``@config.when`` alternatives and serves as inputs."""
        self._config.update(config)
        return self

    def enable_dynamic_execution(self, *, allow_experimental_mode: bool = False) -> Self:
        """Accepted for Hamilton compatibility; parallel blocks always work in asyncdag."""
        return self

    def with_local_executor(self, executor: Executor) -> Self:
        """Where sync nodes outside parallel blocks run (default: ``InlineExecutor``)."""
        self._executors[LOCAL] = executor
        return self

    def with_remote_executor(self, executor: Executor) -> Self:
        """Where sync nodes inside parallel blocks run; its ``max_tasks`` bounds branches."""
        self._executors[REMOTE] = executor
        return self

    def with_executor(self, name: str, executor: Executor) -> Self:
        """Name an executor; nodes tagged ``@tag(executor=name)`` run on it."""
        if name in (LOCAL, REMOTE):
            raise ValueError(f"{name!r} is reserved; use with_{name}_executor(...)")
        self._executors[name] = executor
        return self

    def with_adapters(self, *adapters: Any) -> Self:
        """Add adapters: lifecycle hooks, progress bars and tracers watch every run; one with
        ``build_result(**outputs)`` shapes what ``execute`` returns."""
        from .lifecycle._adapt import as_observer, is_hook

        for adapter in adapters:
            known = False
            if callable(getattr(adapter, "build_result", None)):
                self._result_builder, known = adapter, True
            if isinstance(adapter, Observer) or is_hook(adapter):
                self._observers.append(as_observer(adapter))
                known = True
            if not known:
                raise TypeError(
                    f"{adapter!r} is not an adapter asyncdag knows: pass a lifecycle hook "
                    "(asyncdag.lifecycle.NodeExecutionHook, GraphExecutionHook), a ProgressBar, "
                    "a tracer, or a result builder with a build_result(**outputs) method."
                )
        return self

    def build(self) -> Driver:
        """Crawl, validate and return the ``Driver``.

        Raises:
            GraphError: the functions do not form a valid DAG.
        """
        return Driver(
            self._config,
            *self._modules,
            adapter=self._result_builder,
            executors=self._executors,
            observers=self._observers,
        )
