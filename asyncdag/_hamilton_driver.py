"""Hamilton's driver idioms beyond running a graph: its exception names, ``raw_execute``,
``has_cycles``, ``validate_materialization``, ``graph_executor``, static materializers and
execution managers. ``Driver`` and ``Builder`` inherit them."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, Self

from ._requests import check_executor_tags, requested
from .errors import AsyncDagError
from .execution.executors import Executor
from .execution.executors.manager import DefaultExecutionManager
from .execution.observe import Observer
from .graph.graph import FunctionGraph
from .graph.plan import LOCAL, REMOTE, build_plan
from .graph.request import InputRule, RequestChecks, check_inputs, request_checks
from .io.materialization import Extractor, Materializer, apply_materializers

__all__ = ["BuilderIdioms", "DriverIdioms", "InvalidExecutorException", "TaskBasedGraphExecutor"]

InputCheck = Callable[[Any, Any], bool]
"""``(annotation, value) -> ok``: a ``do_validate_input`` adapter in place of Hamilton's rules."""


def checked_by(checks: RequestChecks, input_check: InputCheck) -> RequestChecks:
    """``checks`` with every input's value tested by ``input_check`` instead."""

    def rule(r: InputRule) -> InputRule:
        return dataclasses.replace(r, check=functools.partial(input_check, r.annotation))

    return dataclasses.replace(
        checks,
        inputs=tuple(rule(r) for r in checks.inputs),
        config=tuple(rule(r) for r in checks.config),
    )


class InvalidExecutorException(AsyncDagError):
    """Hamilton's error for parallel nodes on a driver that cannot run them.

    Every asyncdag Driver runs ``Parallelizable``/``Collect`` blocks, so asyncdag never
    raises it; it exists so that Hamilton code catching it still imports.
    """


class TaskBasedGraphExecutor:
    """What ``dr.graph_executor`` is: the Driver's local and remote executors.

    Hamilton has two graph executors; every asyncdag Driver works as its task based one
    (``enable_dynamic_execution``), so ``validate`` accepts every node of a built graph.
    """

    def __init__(self, execution_manager: Any, grouping_strategy: Any = None) -> None:
        self.execution_manager = execution_manager
        self.grouping_strategy = grouping_strategy

    def validate(self, nodes_to_execute: Iterable[Any]) -> None:
        """Nothing to refuse: an asyncdag Driver runs every node ``build()`` accepted."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        """Not the way to run a graph in asyncdag.

        Raises:
            NotImplementedError: always; call ``await dr.execute(...)`` or ``execute_sync``.
        """
        raise NotImplementedError(
            "asyncdag runs a graph through its Driver: call await dr.execute(...) or "
            "dr.execute_sync(...)"
        )


class _Driver(Protocol):
    """What the idioms need of a ``Driver``."""

    graph: FunctionGraph
    _executors: dict[str, Executor]
    _inline: frozenset[str]
    _observers: tuple[Observer, ...]

    def _run(
        self,
        final_vars: Iterable[str | Callable[..., Any]],
        inputs: Mapping[str, Any] | None,
        overrides: Mapping[str, Any] | None,
        observers: tuple[Observer, ...],
        streaming: bool = False,
    ) -> Awaitable[dict[str, Any]]: ...

    def _outputs(self, final_vars: Iterable[str | Callable[..., Any]]) -> tuple[str, ...]: ...

    def raw_execute(
        self,
        final_vars: Iterable[str | Callable[..., Any]],
        overrides: Mapping[str, Any] | None = None,
        display_graph: bool = False,
        inputs: Mapping[str, Any] | None = None,
    ) -> Awaitable[dict[str, Any]]: ...


class DriverIdioms:
    """Hamilton's ``Driver`` methods besides ``execute`` and ``materialize``."""

    async def raw_execute(
        self: _Driver,
        final_vars: Iterable[str | Callable[..., Any]],
        overrides: Mapping[str, Any] | None = None,
        display_graph: bool = False,
        inputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Hamilton's ``raw_execute``: ``execute`` returning the dict of outputs, whatever the
        result builder (arguments in Hamilton's order).

        Raises:
            ValueError: ``display_graph=True``; draw with ``visualize_execution`` instead.
            Exception: what ``execute`` raises.
        """
        if display_graph:
            raise ValueError("display_graph is not supported: call dr.visualize_execution(...)")
        return await self._run(final_vars, inputs, overrides, self._observers)

    def raw_execute_sync(
        self: _Driver,
        final_vars: Iterable[str | Callable[..., Any]],
        overrides: Mapping[str, Any] | None = None,
        display_graph: bool = False,
        inputs: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """``raw_execute`` from sync code, on its own event loop, as ``execute_sync``."""
        from .driver import _run_sync

        return _run_sync(
            self,  # type: ignore[arg-type]  # the Driver itself
            "raw_execute",
            lambda: self.raw_execute(final_vars, overrides, display_graph, inputs),
        )

    def has_cycles(self: _Driver, final_vars: Iterable[str | Callable[..., Any]]) -> bool:
        """False: ``build()`` refuses a graph with a cycle (``GraphError``), so a Driver has none.

        Raises:
            UnknownNodeError: a name of ``final_vars`` is not in the graph (as in Hamilton).
        """
        self.graph.check_known(self._outputs(final_vars))
        return False

    @property
    def graph_executor(self: _Driver) -> TaskBasedGraphExecutor:
        """How this Driver runs a graph: always task based (parallel blocks work everywhere)."""
        manager = DefaultExecutionManager(self._executors[LOCAL], self._executors[REMOTE])
        return TaskBasedGraphExecutor(manager)

    def validate_materialization(
        self: _Driver,
        *materializers: Materializer | Extractor,
        additional_vars: Iterable[str | Callable[..., Any]] | None = None,
        overrides: Mapping[str, Any] | None = None,
        inputs: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise what ``materialize`` would raise before running anything; run nothing.

        Raises:
            ValueError, UnknownNodeError, MissingInputError, GraphError: as ``materialize``.
        """
        inputs, overrides = dict(inputs or {}), dict(overrides or {})
        extra = requested(additional_vars or ())
        graph, ids = apply_materializers(self.graph, materializers, extra)
        plan = build_plan(graph, (*ids, *extra), inputs, overrides, self._inline)
        checks = request_checks(graph, plan, inputs, overrides)
        check_executor_tags(checks.tagged, self._executors)
        check_inputs(checks.config, graph.config)
        check_inputs(checks.inputs, inputs)


class BuilderIdioms:
    """Hamilton's ``Builder`` settings besides modules, config, executors and adapters."""

    _executors: dict[str, Executor]
    _materializers: list[Materializer | Extractor]

    def with_materializers(self, *materializers: Materializer | Extractor) -> Self:
        """Add ``to.<format>``/``from_.<format>`` nodes to the graph built (Hamilton's).

        A saver is then a node like any other: request it by its id from ``execute``.

        Raises:
            ValueError: an argument is not a materializer (a list: unpack it with ``*``).
        """
        for m in materializers:
            if not isinstance(m, Materializer | Extractor):
                raise ValueError(
                    f"with_materializers takes to.<format>(...) and from_.<format>(...) "
                    f"objects, not {m!r}; unpack a list with with_materializers(*items)."
                )
        self._materializers.extend(materializers)
        return self

    def with_execution_manager(self, execution_manager: Any) -> Self:
        """Hamilton's ``DefaultExecutionManager(local, remote)``: sets both executors.

        Raises:
            TypeError: not a ``DefaultExecutionManager``; asyncdag's rule is fixed (branches
                remotely, other nodes locally), so choose executors with
                ``with_local_executor``/``with_remote_executor`` or ``@tag(executor=...)``.
        """
        if type(execution_manager) is not DefaultExecutionManager:
            raise TypeError(
                f"{execution_manager!r} is not a DefaultExecutionManager: asyncdag runs branches "
                "on the remote executor and other nodes on the local one; route single nodes "
                "with @tag(executor=name) and Builder.with_executor(name, executor)."
            )
        self._executors[LOCAL] = execution_manager.local_executor
        self._executors[REMOTE] = execution_manager.remote_executor
        return self
