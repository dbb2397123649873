"""``Builder`` collects settings; ``Driver`` owns a built graph and runs it."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
)
from functools import partial
from types import ModuleType
from typing import Any, ClassVar, Literal, Protocol, Self, TypeVar

from ._closing import AsyncClosing, InFlight
from ._hamilton_driver import BuilderIdioms, DriverIdioms, InputCheck, checked_by
from ._hamilton_driver import InvalidExecutorException as InvalidExecutorException
from ._hamilton_driver import TaskBasedGraphExecutor as TaskBasedGraphExecutor
from ._overrides import later_modules_win
from ._requests import check_executor_tags, check_functions_are_nodes, execution_path, requested
from ._variables import Variable, matches, variable_of
from .base import DictResult
from .caching.adapter import CacheAdapter
from .errors import AsyncDagError
from .events import Event
from .execution.executors import Executor, InlineExecutor
from .execution.grouping import _GroupingStrategy
from .execution.observe import Observer, Observers, RunInfo
from .execution.scheduler import run_plan
from .graph.graph import FunctionGraph
from .graph.plan import LOCAL, REMOTE, Plan, build_plan
from .graph.request import RequestChecks, check_inputs, request_checks
from .io.materialization import Extractor, Materializer, apply_materializers
from .lifecycle.graceful import GracefulErrorAdapter

__all__ = ["Builder", "Driver", "InvalidExecutorException", "TaskBasedGraphExecutor", "Variable"]

_T = TypeVar("_T")

# How many request shapes (outputs, input names, override names) keep their plan.
_PLANS_KEPT = 256


class Rewriter(Protocol):
    """An adapter that changes how every node runs by rewriting the built graph once."""

    def rewrite(self, graph: FunctionGraph) -> FunctionGraph: ...


class ResultBuilder(Protocol):
    """Anything with Hamilton's ``build_result(**outputs)``."""

    def build_result(self, **outputs: Any) -> Any: ...


class Driver(DriverIdioms, AsyncClosing):
    """A built DAG, ready to ``execute``. Build one with ``Builder``.

    ``Driver(config, *modules)`` also works, as in Hamilton.
    """

    _awaits_construction: ClassVar[bool] = False  # async post_graph_construct hooks: ainit()

    def __init__(
        self,
        config: Mapping[str, Any],
        *modules: ModuleType,
        adapter: ResultBuilder | None = None,
        executors: Mapping[str, Executor] | None = None,
        observers: Iterable[Observer] = (),
        cache: CacheAdapter | None = None,
        rewriters: Iterable[Rewriter] = (),
        materializers: Iterable[Materializer | Extractor] = (),
        input_check: InputCheck | None = None,
    ) -> None:
        from .lifecycle._hamilton import before_build, built

        before_build(observers := tuple(observers))
        self.graph = FunctionGraph.from_modules(modules, config)
        for rewriter in rewriters:  # adapters that change how every node runs
            self.graph = rewriter.rewrite(self.graph)
        if materializers := tuple(materializers):  # Builder.with_materializers: nodes of the graph
            every = tuple(self.graph.nodes)  # "something is requested": loaders alone are fine
            self.graph = apply_materializers(self.graph, materializers, every)[0]
        built(observers, self.graph, modules, config, self._awaits_construction)
        self.graph_modules = modules
        self._cache = cache
        self._executors: dict[str, Executor] = {
            LOCAL: InlineExecutor(),
            REMOTE: InlineExecutor(),
            **(executors or {}),
        }
        self._result_builder: ResultBuilder = adapter or DictResult()
        self._observers = tuple(observers)
        self._input_check = input_check  # a do_validate_input adapter's, else Hamilton's rules
        self._inline = frozenset(k for k, e in self._executors.items() if e.runs_inline)
        self._ships = frozenset(k for k, e in self._executors.items() if e.runs_branches)
        self._plans: dict[tuple[tuple[str, ...], frozenset[str], frozenset[str], bool], Plan] = {}
        self._checks: dict[int, tuple[Plan, RequestChecks]] = {}  # by id of the plan it holds
        self._in_flight = InFlight()  # what aclose() waits for

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
            InputTypeError: an input's value does not match an annotation reading it (same).
            GraphError: a requested node lives inside a parallel block, or a node that would
                run is tagged with an executor name no executor has (same).
            TypeError: ``final_vars`` is not a list of names or functions.
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
        An output may be a node inside a block: its value comes once per branch as a
        ``"node"`` event and is kept nowhere (it is not in the ``"done"`` result).
        """
        from .execution.stream import EventStream

        async def run(listener: Observer) -> Any:
            observers = (*self._observers, listener)
            results = await self._run(final_vars, inputs, overrides, observers, streaming=True)
            return self._result_builder.build_result(**results)

        return EventStream(run)

    async def _run(
        self,
        final_vars: Iterable[str | Callable[..., Any]],
        inputs: Mapping[str, Any] | None,
        overrides: Mapping[str, Any] | None,
        observers: tuple[Observer, ...],
        streaming: bool = False,
    ) -> dict[str, Any]:
        inputs = dict(inputs or {})
        overrides = dict(overrides or {})
        outputs = self._outputs(final_vars)
        plan = self._plan(outputs, inputs, overrides, streaming)
        self._check_request(plan, inputs, overrides)
        vals = {**self.graph.config, **inputs, **overrides}
        cache, executors = self._cache, self._executors
        if cache is not None:
            observers = (cache, *observers)
        with self._in_flight.running():
            if not observers:
                return await run_plan(plan, vals, executors)
            info = RunInfo(
                str(uuid.uuid4()),
                self.graph,
                outputs,
                inputs,
                overrides,
                execution_path(plan.root),
            )
            if cache is not None and executors[REMOTE].runs_branches:
                from .caching.shipped import CachedBranches

                executors = {**executors, REMOTE: CachedBranches(executors[REMOTE], cache, info)}
            return await run_plan(plan, vals, executors, Observers(observers), info, cache)

    @property
    def cache(self) -> CacheAdapter:
        """The cache of ``Builder.with_cache()``: ``dr.cache.last_run_id``, ``.logs(...)``,
        ``.hits()`` and ``.misses()`` tell which nodes of a run were read from it."""
        if self._cache is None:
            raise AttributeError("this Driver has no cache: build it with Builder().with_cache()")
        return self._cache

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
        return _run_sync(self, "execute", lambda: self.execute(final_vars, inputs, overrides))

    async def materialize(
        self,
        *materializers: Materializer | Extractor,
        additional_vars: Iterable[str | Callable[..., Any]] | None = None,
        overrides: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run with ad-hoc savers (``to.<format>``) and loaders (``from_.<format>``).

        As Hamilton's ``materialize``: returns ``(metadata by materializer id, values of
        additional_vars)``; a ``from_`` loader provides its target (a node or an input) from a
        file. Loaders and savers are sync nodes on the executor of their place in the graph
        (the local one by default): give big files a ``ThreadExecutor``.

        Raises:
            ValueError: neither materializers nor ``additional_vars`` were given.
            UnknownNodeError, MissingInputError, GraphError: as ``execute``.
        """
        inputs = dict(inputs or {})
        overrides = dict(overrides or {})
        extra = requested(additional_vars or ())
        graph, ids = apply_materializers(self.graph, materializers, extra)
        plan = build_plan(graph, (*ids, *extra), inputs, overrides, self._inline)
        vals, observers = {**graph.config, **inputs, **overrides}, self._observers
        with self._in_flight.running():
            if not observers:
                results = await run_plan(plan, vals, self._executors)
            else:  # hooks watch a materialize as a run of the graph with its savers
                from .lifecycle._hamilton import constructed

                constructed(observers, graph, self.graph_modules, graph.config)
                info = RunInfo(
                    str(uuid.uuid4()),
                    graph,
                    (*ids, *extra),
                    inputs,
                    overrides,
                    execution_path(plan.root),
                )
                results = await run_plan(plan, vals, self._executors, Observers(observers), info)
        return {i: results[i] for i in ids}, {n: results[n] for n in extra}

    def materialize_sync(
        self,
        *materializers: Materializer | Extractor,
        additional_vars: Iterable[str | Callable[..., Any]] | None = None,
        overrides: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """``materialize`` from sync code, on its own event loop, as ``execute_sync``.

        Raises:
            AsyncDagError: called from inside a running event loop; ``await materialize`` there.
        """
        return _run_sync(
            self,
            "materialize",
            lambda: self.materialize(
                *materializers, additional_vars=additional_vars, overrides=overrides, inputs=inputs
            ),
        )

    async def __aenter__(self) -> Self:
        """Start the executors' workers, so that the first request does not wait for them."""
        for executor in {id(e): e for e in self._executors.values()}.values():
            await executor.start()
        return self

    async def aclose(self) -> None:
        """Wait for the executes running on this loop, then stop what the executors started.

        Only this event loop's workers and threads stop: executes on other loops (such as
        ``execute_sync`` in other threads) go on. An ``execute`` called on this loop while
        ``aclose()`` runs raises ``AsyncDagError``; once it has returned, the Driver may be
        used again.
        """
        async with self._in_flight.closing():
            for executor in {id(e): e for e in self._executors.values()}.values():
                await executor.aclose()

    def list_available_variables(
        self, tag_filter: Mapping[str, Any] | None = None
    ) -> list[Variable]:
        """Every node, input and config key; with ``tag_filter``, only nodes with those tags.

        As in Hamilton, a node's tags include ``module``, the module that defined it.
        """
        names = dict.fromkeys([*self.graph.nodes, *self.graph.inputs, *self.graph.config])
        variables = [variable_of(self.graph, n) for n in names]
        if tag_filter:
            variables = [v for v in variables if matches(v.tags, tag_filter)]
        return variables

    def what_is_upstream_of(self, *node_names: str) -> list[Variable]:
        """The named nodes and everything they depend on."""
        return [variable_of(self.graph, n) for n in sorted(self.graph.upstream(node_names))]

    def what_is_downstream_of(self, *node_names: str) -> list[Variable]:
        """The named nodes and everything that depends on them."""
        return [variable_of(self.graph, n) for n in sorted(self.graph.downstream(node_names))]

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
            describe_node=partial(variable_of, self.graph),
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
            self._outputs(final_vars),
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
            describe_node=partial(variable_of, self.graph),
            keep_dot=keep_dot,
        )

    def validate_execution(
        self,
        final_vars: Iterable[str | Callable[..., Any]],
        overrides: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise what ``execute`` would raise before running anything; run nothing (Hamilton's).

        Raises:
            UnknownNodeError, MissingInputError, GraphError: as ``execute``.
        """
        inputs, overrides = dict(inputs or {}), dict(overrides or {})
        plan = self._plan(self._outputs(final_vars), inputs, overrides)
        self._check_request(plan, inputs, overrides)

    def _outputs(self, final_vars: Iterable[str | Callable[..., Any]]) -> tuple[str, ...]:
        """The names of ``final_vars``, whose functions must be the graph's own."""
        if isinstance(final_vars, Iterable) and not isinstance(final_vars, str):
            final_vars = list(final_vars)  # read twice below
        names = requested(final_vars)
        check_functions_are_nodes(final_vars, self.graph)
        return names

    def _plan(
        self,
        outputs: tuple[str, ...],
        inputs: Mapping[str, Any],
        overrides: Mapping[str, Any],
        streaming: bool = False,
    ) -> Plan:
        key = (outputs, frozenset(inputs), frozenset(overrides), streaming)
        plan = self._plans.get(key)
        if plan is None:
            plan = build_plan(
                self.graph, outputs, inputs, overrides, self._inline, self._ships, streaming
            )
            if len(self._plans) >= _PLANS_KEPT:  # bounded: a service may vary its requests
                self._plans.pop(next(iter(self._plans)), None)  # another thread may be first
            self._plans[key] = plan
        return plan

    def _check_request(
        self, plan: Plan, inputs: Mapping[str, Any], overrides: Mapping[str, Any]
    ) -> None:
        """Input types and executor tags of ``plan``, before anything runs; cached per plan."""
        entry = self._checks.get(id(plan))
        if entry is None or entry[0] is not plan:
            checks = request_checks(self.graph, plan, inputs, overrides)
            if self._input_check is not None:
                checks = checked_by(checks, self._input_check)
            check_executor_tags(checks.tagged, self._executors)
            check_inputs(checks.config, self.graph.config)
            if len(self._checks) >= _PLANS_KEPT:
                self._checks.pop(next(iter(self._checks)), None)
            entry = self._checks[id(plan)] = (plan, checks)  # holding the plan keeps its id
        check_inputs(entry[1].inputs, inputs)


def _run_sync(driver: Driver, name: str, run: Callable[[], Awaitable[_T]]) -> _T:
    """Run ``run()`` on a loop of its own, then close what the driver started on it.

    Raises:
        AsyncDagError: called from inside a running event loop, which it would block.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise AsyncDagError(
            f"{name}_sync() was called inside a running event loop, which it would block. "
            f"Use `await driver.{name}(...)` there instead."
        )

    async def run_and_close() -> _T:
        try:
            return await run()
        finally:
            await driver.aclose()

    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(run_and_close())


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


class Builder(BuilderIdioms):
    """Collects modules, config, executors and adapters, then ``build()``s a ``Driver``."""

    def __init__(self) -> None:
        self._modules: list[ModuleType] = []
        self._config: dict[str, Any] = {}
        self._executors: dict[str, Executor] = {}
        self._result_builder: ResultBuilder | None = None
        self._observers: list[Observer] = []
        self._adapter_set = False
        self._grouping: _GroupingStrategy | None = None
        self._module_overrides = False
        self._cache: dict[str, Any] | CacheAdapter | None = None
        self._rewriters: list[Rewriter] = []
        self._materializers: list[Materializer | Extractor] = []
        self._input_check: InputCheck | None = None

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
        from .lifecycle import _hamilton
        from .lifecycle._adapt import as_observer, is_hook

        for adapter in adapters:
            known = False
            if isinstance(adapter, GracefulErrorAdapter):
                self._rewriters.append(adapter)
                continue
            if isinstance(adapter, CacheAdapter):
                self._set_cache(adapter)
                continue
            if _hamilton.is_lifecycle_adapter(adapter):  # Hamilton's lifecycle.base classes
                _hamilton.check_supported(adapter)
                if callable(getattr(adapter, "do_build_result", None)):
                    self._result_builder = _hamilton.BuildResultMethod(adapter)
                if callable(getattr(adapter, "do_validate_input", None)):
                    self._input_check = _hamilton.input_check(adapter)
                if _hamilton.runs_nodes(adapter):
                    self._rewriters.append(_hamilton.NodeExecuteMethod(adapter))
                self._observers.append(_hamilton.LifecycleHooks(adapter))
                continue
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

    def with_adapter(self, adapter: ResultBuilder) -> Self:
        """Hamilton's single (legacy) adapter: here, the result builder, e.g. ``DefaultAdapter``.

        Raises:
            ValueError: an adapter was already set this way (as in Hamilton).
            TypeError: ``adapter`` has no ``build_result(**outputs)``.
        """
        if self._adapter_set:
            raise ValueError("Cannot set adapter twice: call with_adapter(...) once.")
        if not callable(getattr(adapter, "build_result", None)):
            raise TypeError(
                f"{adapter!r} is not a result builder: with_adapter needs an object with a "
                "build_result(**outputs) method, such as base.DefaultAdapter()."
            )
        self._adapter_set = True
        self._result_builder = adapter
        return self

    def with_grouping_strategy(self, grouping_strategy: _GroupingStrategy) -> Self:
        """Accepted for Hamilton compatibility and changes nothing: a branch is always one unit.

        Raises:
            ValueError: a strategy was already set (as in Hamilton).
            TypeError: not one of ``asyncdag.execution.grouping``'s strategies.
        """
        if self._grouping is not None:
            raise ValueError("Cannot set grouping strategy twice.")
        if not isinstance(grouping_strategy, _GroupingStrategy):
            raise TypeError(
                f"{grouping_strategy!r} is not a grouping strategy: pass one of "
                "asyncdag.execution.grouping's, such as GroupByRepeatableBlocks()."
            )
        self._grouping = grouping_strategy
        return self

    def with_cache(
        self,
        path: str | os.PathLike[str] = ".asyncdag_cache",
        recompute: Collection[str] | Literal[True] | None = None,
        disable: Collection[str] | Literal[True] | None = None,
        ignore: Collection[str] | Literal[True] | None = None,
        default_behavior: str | None = None,
    ) -> Self:
        """Reuse a node's stored result while its code and its inputs' data are unchanged.

        As Hamilton's: results and metadata live under ``path`` (SQLite, and files for big
        results), shared by every Driver and process using that path. ``recompute``,
        ``disable`` and ``ignore`` name nodes (or ``True`` for all) with that behavior;
        ``default_behavior`` is the behavior of the others (``"default"``); ``@cache(...)``
        sets it per function. ``dr.cache`` tells what each run read from the cache.
        """
        self._set_cache(
            {
                "path": os.fspath(path),
                "recompute": recompute,
                "disable": disable,
                "ignore": ignore,
                "default_behavior": default_behavior,
            }
        )
        return self

    def _set_cache(self, cache: dict[str, Any] | CacheAdapter) -> None:
        if self._cache is not None:
            raise ValueError(
                "Cache already set: call with_cache(...) or pass a HamiltonCacheAdapter to "
                "with_adapters(...) once, as in Hamilton."
            )
        self._cache = cache

    def allow_module_overrides(self) -> Self:
        """A function of a later module replaces an earlier module's function of the same node.

        As in Hamilton, the order of ``with_modules`` decides; without this call two modules
        defining one node is a ``GraphError``. Within one module it stays an error.
        """
        self._module_overrides = True
        return self

    def copy(self) -> Builder:
        """A new Builder with this one's settings; changing either leaves the other as it was.

        The executors and adapters themselves are shared, as in Hamilton.
        """
        new = Builder()
        new.__dict__.update(self.__dict__)
        new._modules = list(self._modules)
        new._config = dict(self._config)
        new._executors = dict(self._executors)
        new._observers = list(self._observers)
        new._rewriters = list(self._rewriters)
        new._materializers = list(self._materializers)
        return new

    def build(self) -> Driver:
        """Crawl, validate and return the ``Driver``.

        Raises:
            GraphError: the functions do not form a valid DAG.
        """
        modules, arguments = self._driver_arguments()
        return Driver(self._config, *modules, **arguments)

    def _driver_arguments(self) -> tuple[list[ModuleType], dict[str, Any]]:
        """The modules and keyword arguments of the ``Driver`` that ``build()`` makes."""
        modules = self._modules
        if self._module_overrides:
            modules = later_modules_win(modules, self._config)
        return modules, dict(
            adapter=self._result_builder,
            executors=self._executors,
            observers=self._observers,
            cache=self._cache if not isinstance(self._cache, dict) else CacheAdapter(**self._cache),
            rewriters=self._rewriters,
            materializers=self._materializers,
            input_check=self._input_check,
        )
