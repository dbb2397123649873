"""``Builder`` collects settings; ``Driver`` owns a built graph and runs it."""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Protocol, Self, TypeVar

from ._closing import AsyncClosing, InFlight
from .base import DictResult
from .errors import AsyncDagError, GraphError
from .events import Event
from .execution.executors import Executor, InlineExecutor
from .execution.grouping import _GroupingStrategy
from .execution.observe import Observer, Observers, RunInfo
from .execution.scheduler import run_plan
from .graph.crawl import node_name
from .graph.graph import FunctionGraph
from .graph.meta import modifiers_of
from .graph.node import Node
from .graph.plan import LOCAL, REMOTE, Frame, Plan, build_plan
from .graph.request import RequestChecks, check_inputs, request_checks
from .io.materialization import Extractor, Materializer, apply_materializers

__all__ = ["Builder", "Driver", "Variable"]

_T = TypeVar("_T")

# How many request shapes (outputs, input names, override names) keep their plan.
_PLANS_KEPT = 256


class ResultBuilder(Protocol):
    """Anything with Hamilton's ``build_result(**outputs)``."""

    def build_result(self, **outputs: Any) -> Any: ...


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
        self._ships = frozenset(k for k, e in self._executors.items() if e.runs_branches)
        self._plans: dict[tuple[tuple[str, ...], frozenset[str], frozenset[str]], Plan] = {}
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
        outputs = _requested(final_vars)
        plan = self._plan(outputs, inputs, overrides)
        self._check_request(plan, inputs, overrides)
        vals = {**self.graph.config, **inputs, **overrides}
        with self._in_flight.running():
            if not observers:
                return await run_plan(plan, vals, self._executors)
            info = RunInfo(
                str(uuid.uuid4()),
                self.graph,
                outputs,
                inputs,
                overrides,
                _execution_path(plan.root),
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
        extra = _requested(additional_vars or ())
        graph, ids = apply_materializers(self.graph, materializers, extra)
        plan = build_plan(graph, (*ids, *extra), inputs, overrides, self._inline)
        with self._in_flight.running():
            results = await run_plan(plan, {**graph.config, **inputs, **overrides}, self._executors)
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
            _requested(final_vars),
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
            readers = self.graph.inputs.get(name, ())
            origin = (self.graph.nodes[readers[0]].fn,) if readers else ()
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
        plan = self._plan(_requested(final_vars), inputs, overrides)
        self._check_request(plan, inputs, overrides)

    def _plan(
        self, outputs: tuple[str, ...], inputs: Mapping[str, Any], overrides: Mapping[str, Any]
    ) -> Plan:
        key = (outputs, frozenset(inputs), frozenset(overrides))
        plan = self._plans.get(key)
        if plan is None:
            plan = build_plan(self.graph, outputs, inputs, overrides, self._inline, self._ships)
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
            _check_executor_tags(checks.tagged, self._executors)
            check_inputs(checks.config, self.graph.config)
            if len(self._checks) >= _PLANS_KEPT:
                self._checks.pop(next(iter(self._checks)), None)
            entry = self._checks[id(plan)] = (plan, checks)  # holding the plan keeps its id
        check_inputs(entry[1].inputs, inputs)


def _requested(final_vars: Any) -> tuple[str, ...]:
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


def _execution_path(frame: Frame) -> tuple[str, ...]:
    """The nodes a plan runs, outermost frame first."""
    names: list[str] = []
    for step in frame.steps:
        if step.calls:  # a thread job: its calls
            names.extend(call.node.name for call in step.calls)
        elif step.block is None or not step.block.given:
            names.append(step.node.name)
        if step.block is not None:
            names.extend(_execution_path(step.block.frame))
    return tuple(names)


def _matches(tags: Mapping[str, Any], tag_filter: Mapping[str, Any]) -> bool:
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


def _check_executor_tags(nodes: Iterable[Node], executors: Mapping[str, Executor]) -> None:
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


class Builder:
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
        return new

    def build(self) -> Driver:
        """Crawl, validate and return the ``Driver``.

        Raises:
            GraphError: the functions do not form a valid DAG.
        """
        modules = self._modules
        if self._module_overrides:
            modules = _later_modules_win(modules, self._config)
        return Driver(
            self._config,
            *modules,
            adapter=self._result_builder,
            executors=self._executors,
            observers=self._observers,
        )


def _later_modules_win(
    modules: Sequence[ModuleType], config: Mapping[str, Any]
) -> list[ModuleType]:
    """``modules``, each without the functions whose node a later module defines again.

    A module that loses functions is replaced by a view: a module object of the same name
    holding the rest, so its functions stay its own (tags, origins, pickling by reference).
    """
    defined = [_node_functions(m, config) for m in modules]
    result: list[ModuleType] = []
    for i, module in enumerate(modules):
        later = {node for names in defined[i + 1 :] for node in names.values()}
        lost = {fn for fn, node in defined[i].items() if node in later}
        if not lost:
            result.append(module)
            continue
        view = ModuleType(module.__name__, module.__doc__)
        view.__dict__.update({k: v for k, v in vars(module).items() if k not in lost})
        result.append(view)
    return result


def _node_functions(module: ModuleType, config: Mapping[str, Any]) -> dict[str, str]:
    """Function name -> node name, for the functions of ``module`` that apply under ``config``."""
    found: dict[str, str] = {}
    for name, obj in vars(module).items():
        if name.startswith("_") or not inspect.isfunction(obj):
            continue
        if obj.__module__ != module.__name__:
            continue
        modifiers = modifiers_of(obj)
        if all(c.holds(config) for c in modifiers.conditions):
            found[name] = node_name(name, modifiers)
    return found
