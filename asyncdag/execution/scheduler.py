"""Walk a plan on the event loop: frames, steps and streaming parallel blocks.

Cost is paid only where something awaits. A frame of inline sync calls is a plain loop; a
frame whose awaitable steps form a chain awaits them in order, with no task; only a frame
with independent awaitable steps gets a task per such step. A block whose branches are all
inline sync calls runs each branch as plain calls; otherwise each branch is one task, at most
``max_tasks`` at once, started as soon as its item is yielded. Where each step runs was
decided by the planner (``graph/plan.py``); nothing here asks an executor.

Every task has an owner (an ``asyncio.TaskGroup`` per concurrent frame and per block), so a
failure or a cancellation stops everything the run started before ``run_plan`` returns. A
node's ``SystemExit`` or ``KeyboardInterrupt`` travels through the task groups as ``Halt``
(asyncio would end the event loop with it) and is raised as itself once all has stopped.
"""

from __future__ import annotations

import asyncio
import reprlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
    Mapping,
)
from collections.abc import MutableMapping as Values
from functools import partial
from types import CoroutineType
from typing import Any, Protocol, TypeVar

from ..errors import BranchFailuresError, NodeCancelledError
from ..graph.node import Node
from ..graph.plan import (
    ASYNC,
    BLOCK,
    GUARDED,
    INLINE,
    JOB,
    SHIP,
    WINDOW,
    Frame,
    Plan,
    Step,
    collected_key,
)
from .executors.base import Call, Executor
from .fanout import Fan
from .halt import Halt
from .jobs import CallRun
from .mistakes import items_of, returned_coroutine
from .observe import Observer, RunInfo
from .paths import Path, format_path
from .policy import TimeoutThreads, policed_items, run_with_policy
from .skips import HELD, BranchFailed, failure_of, with_traceback
from .sources import iterate_on, listed, started

_T = TypeVar("_T")

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60


class NodeCache(Protocol):
    """What the scheduler asks of a cache (``asyncdag.caching``): a node call's value."""

    async def around(
        self,
        run: RunInfo,
        node: Node,
        path: Path,
        inputs: Mapping[str, Any],
        compute: Callable[[], Awaitable[Any]],
    ) -> Any:
        """The stored value, or ``await compute()`` (the node's call); ``inputs`` are the
        call's values by frame key (the name of the node each comes from)."""

    async def fan_out(
        self,
        run: RunInfo,
        fan: Fan,
        source: Iterator[Any] | AsyncIterator[Any],
        observer: Observer | None,
    ) -> int:
        """``await fan.pump(source)``, or the block's lists read back whole."""


class Run:
    """One execution: its executors and the first failure, which is what ``execute`` raises."""

    __slots__ = ("cache", "executors", "first_error", "info", "observer", "timeout_threads")

    def __init__(
        self,
        executors: Mapping[str, Executor],
        observer: Observer | None = None,
        info: RunInfo | None = None,
        cache: NodeCache | None = None,
    ) -> None:
        self.cache = cache  # None: no cache, and one ``is None`` test per observed call
        self.executors = executors
        self.first_error: BaseException | None = None
        self.timeout_threads = TimeoutThreads()
        self.observer = observer  # None: nothing listens, and nothing is paid for it
        self.info = info

    @staticmethod
    async def branches(
        frame: Frame,
        name: str,
        outer: Mapping[str, Any],
        items: tuple[tuple[int, Any], ...],
        produces: tuple[str, ...],
        path: Path,
        skip: bool = False,
    ) -> list[Any]:
        """How a worker runs shipped branches (``run_branches``), handed to each batch."""
        return await run_branches(frame, name, outer, items, produces, path, skip)

    # -- failures ---------------------------------------------------------------------------

    def fail(self, exc: BaseException, node: str | None, path: Path, producing: int = -1) -> None:
        """Remember the run's first failure (a ``SystemExit`` beats any other) and note where
        ``exc`` came from (``node`` None: it was noted where it was raised).

        In a branch that ``@on_branch_error("skip")`` may leave out, an ``Exception`` is held
        for that branch instead: it is not the run's."""
        held = HELD.get()
        if held is not None and isinstance(exc, Exception):
            if not held:
                held.append((node or "", exc))
        else:
            first = self.first_error
            if first is None or (isinstance(first, Exception) and not isinstance(exc, Exception)):
                self.first_error = exc
        if node is None:
            return
        where = f" in branch {format_path(path)} (item {_short.repr(path[-1][2])})" if path else ""
        if producing >= 0:
            where += f" while producing item {producing}"
        exc.add_note(f"asyncdag: raised by node {node!r}{where}")

    def caught(
        self, exc: BaseException, node: str, path: Path, producing: int = -1
    ) -> BaseException:
        """What to raise for ``exc``, which came out of ``node``: noted and remembered.

        A ``CancelledError`` is a cancellation only when this task is being cancelled;
        otherwise the node raised it and it becomes ``NodeCancelledError``.
        """
        if isinstance(exc, asyncio.CancelledError):
            if _being_cancelled():
                return exc
            exc = _cancelled_by(node, format_path(path), exc)
        self.fail(exc, node, path, producing)
        return exc if isinstance(exc, Exception) else Halt()

    # -- frames -----------------------------------------------------------------------------

    async def frame(self, frame: Frame, vals: Values[str, Any], path: Path) -> None:
        """Run every step of ``frame``, writing results into ``vals``."""
        if self.observer is not None:  # every step reports, so every step is awaited
            if frame.sync_only or frame.sequential:
                for step in frame.steps:
                    await self.observed(step, vals, path)
            else:
                await self.concurrent_frame(frame, vals, path)
        elif frame.sync_only:
            self.sync_frame(frame, vals, path)
        elif frame.sequential:
            for step in frame.steps:
                if step.mode == INLINE:
                    self.call(step, vals, path)
                else:
                    await self.awaitable(step, vals, path)
        else:
            await self.concurrent_frame(frame, vals, path)

    def sync_frame(self, frame: Frame, vals: Values[str, Any], path: Path) -> None:
        call = self.call
        for step in frame.steps:
            call(step, vals, path)

    def call(self, step: Step, vals: Values[str, Any], path: Path) -> None:
        """One inline sync node call."""
        try:
            value = step.node.fn(**{p: vals[k] for p, k in step.args})
            if type(value) is CoroutineType:
                raise returned_coroutine(step.node.name, value)
        except BaseException as exc:
            error = self.caught(exc, step.node.name, path)
            if error is exc:
                raise
            raise error from exc
        vals[step.key] = value

    async def awaitable(self, step: Step, vals: Values[str, Any], path: Path) -> None:
        """A step that awaits: a coroutine, an executor's job, a guarded node or a block."""
        mode = step.mode
        if mode == BLOCK:
            await self.block(step, vals, path)
            return
        if mode == WINDOW:  # its block ran it, window by window
            return
        node = step.node
        try:
            if mode == JOB:
                given = {k: vals[k] for _, k in step.args}
                task = asyncio.current_task()
                assert task is not None
                job = CallRun(step, given, format_path(path), task)
                try:
                    values = await self.executors[step.executor or ""].submit(job)
                finally:
                    node = job.calls[job.at].node
                for call, value in zip(step.calls, values, strict=True):
                    vals[call.key] = value
                return
            kwargs = {p: vals[k] for p, k in step.args}
            if mode == ASYNC:
                value = await node.fn(**kwargs)
            elif mode == GUARDED:
                executor = self.executors[step.executor] if step.executor else None
                value = await run_with_policy(
                    node, kwargs, executor, format_path(path), self.timeout_threads
                )
            else:
                unit = Call(node.name, format_path(path), node.fn, kwargs)
                value = await self.executors[step.executor or ""].submit(unit)
            if type(value) is CoroutineType and not node.is_async:
                raise returned_coroutine(node.name, value)
        except BaseException as exc:
            error = self.caught(exc, node.name, path)
            if error is exc:
                raise
            raise error from exc
        vals[step.key] = value

    async def observed(self, step: Step, vals: Values[str, Any], path: Path) -> None:
        """A step told to the run's observers: each node call before and after it (a thread
        job's calls are submitted one by one, so that each reports); a block reports itself."""
        if step.mode == BLOCK:
            await self.block(step, vals, path)
            return
        if step.mode == WINDOW:
            return
        observer, info = self.observer, self.info
        assert observer is not None and info is not None
        for call in step.calls or (step,):
            node = call.node
            kwargs = {p: vals[k] for p, k in call.args}
            await observer.node_started(info, node, path, kwargs)
            try:
                if self.cache is not None:
                    inputs = {k: vals[k] for _, k in call.args}  # by the node each comes from
                    vals[call.key] = await self.cache.around(
                        info, node, path, inputs, partial(self.computed, call, vals, path)
                    )
                elif call.mode == INLINE:
                    self.call(call, vals, path)
                else:
                    await self.awaitable(call, vals, path)
            except BaseException as exc:
                await observer.node_finished(info, node, path, kwargs, None, exc)
                raise
            await observer.node_finished(info, node, path, kwargs, vals[call.key], None)

    async def computed(self, call: Step, vals: Values[str, Any], path: Path) -> Any:
        """Call ``call``'s node (the cache's way in when it has no stored value)."""
        if call.mode == INLINE:
            self.call(call, vals, path)
        else:
            await self.awaitable(call, vals, path)
        return vals[call.key]

    async def concurrent_frame(self, frame: Frame, vals: Values[str, Any], path: Path) -> None:
        """Start each step when its last in-frame dependency is done; awaitables as tasks."""
        steps, dependents = frame.steps, frame.dependents
        remaining = [len(w) for w in frame.waits_on]
        done = [False] * len(steps)

        async with asyncio.TaskGroup() as tg:

            def release(ready: list[int]) -> None:
                while ready:
                    i = ready.pop()
                    step = steps[i]
                    if step.mode != INLINE or self.observer is not None:
                        tg.create_task(run_awaitable(i))
                        continue
                    self.call(step, vals, path)
                    done[i] = True
                    ready.extend(unblock(i))

            def unblock(i: int) -> list[int]:
                ready = []
                for d in dependents[i]:
                    remaining[d] -= 1
                    if remaining[d] == 0:
                        ready.append(d)
                return ready

            async def run_awaitable(i: int) -> None:
                if self.observer is None:
                    await self.awaitable(steps[i], vals, path)
                else:
                    await self.observed(steps[i], vals, path)
                done[i] = True
                release(unblock(i))

            release([i for i, n in enumerate(remaining) if n == 0])
        if not all(done):  # a task that ended cancelled, not by us, left its step undone
            raise self.hole(steps[done.index(False)].node.name, path)

    def arrived(self, exc: BaseException, node: str, branch: str, path: Path) -> BaseException:
        """What to raise for ``exc`` from a batch of branches run elsewhere (noted there)."""
        if isinstance(exc, asyncio.CancelledError):
            if _being_cancelled():
                return exc
            exc = _cancelled_by(node, branch, exc)
        self.fail(exc, None, path)
        return exc if isinstance(exc, Exception) else Halt()

    def hole(self, node: str, path: Path) -> NodeCancelledError:
        """The error for a step or branch that ended cancelled though the run was not."""
        error = NodeCancelledError(node, format_path(path))
        self.fail(error, node, path)
        return error

    # -- blocks -----------------------------------------------------------------------------

    async def block(self, step: Step, vals: Values[str, Any], path: Path) -> None:
        """Fan out over the expander's items, one branch each, and gather in yield order."""
        block = step.block
        assert block is not None
        node = step.node
        source: Iterator[Any] | AsyncIterator[Any]
        if node.policy is not None and not block.given:
            on_loop = block.source == INLINE and not node.is_async
            opening = partial(self.open_source, step, vals, path)
            threads = self.timeout_threads if on_loop else None
            source = policed_items(node, format_path(path), opening, threads)
        else:
            try:
                source = await self.open_source(step, vals, path)
            except BaseException as exc:
                error = self.caught(exc, node.name, path)
                if error is exc:
                    raise
                raise error from exc
        lists: list[list[Any]] = [[] for _ in block.gathered]
        try:
            fan = Fan(self, step, {k: vals[k] for k in block.outer}, lists, path, vals)
            if self.cache is None:
                branches = await fan.pump(source)
            else:
                assert self.info is not None
                branches = await self.cache.fan_out(self.info, fan, source, self.observer)
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()
            elif hasattr(source, "close"):
                source.close()
        for name, values in zip(block.gathered, lists, strict=True):
            vals[collected_key(name)] = values
        if fan.windows is not None:
            for (window, _), results in zip(block.windows, fan.windows.results, strict=True):
                vals[window.key] = results
        if self.observer is not None:
            assert self.info is not None
            await self.observer.block_finished(self.info, node, path, branches)

    async def open_source(
        self, step: Step, vals: Values[str, Any], path: Path
    ) -> Iterator[Any] | AsyncIterator[Any]:
        """The expander's items: a sync iterator to step on the loop, or an async one."""
        produced = await self.produce(step, vals, path)
        if isinstance(produced, Iterator | AsyncIterator):
            return produced
        if isinstance(produced, AsyncIterable):
            return aiter(produced)
        return items_of(step.node.name, produced)

    async def produce(self, step: Step, vals: Values[str, Any], path: Path) -> Any:
        """Call the expander (or take its override); generators are returned unstarted."""
        node, block = step.node, step.block
        assert block is not None
        if block.given:
            return vals[node.name]
        kwargs = {p: vals[k] for p, k in step.args}
        if node.is_async_generator:
            return node.fn(**kwargs)
        if node.is_async:
            return await node.fn(**kwargs)
        timed = node.policy is not None and node.policy.timeout is not None
        if block.source == INLINE:
            return await self.timeout_threads.call(node.fn, kwargs) if timed else node.fn(**kwargs)
        executor = self.executors[step.executor or ""]
        branch = format_path(path)
        if block.source == SHIP:  # another process: its items stream back as they are yielded
            stream = getattr(executor, "stream", None)
            if stream is not None:
                return await stream(
                    Call(node.name, branch, partial(started, node.name, node.fn), kwargs, timed)
                )
            unit = Call(node.name, branch, partial(listed, node.name, node.fn), kwargs, timed)
            return await executor.submit(unit)  # a generator cannot come back, its items can
        unit = Call(node.name, branch, partial(started, node.name, node.fn), kwargs, timed)
        return iterate_on(executor, node.name, branch, await executor.submit(unit), timed)


def _being_cancelled() -> bool:
    """Whether the running task has a cancellation requested (not a node's own CancelledError)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _cancelled_by(node: str, branch: str, exc: BaseException) -> NodeCancelledError:
    error = NodeCancelledError(node, branch)
    error.__cause__ = exc
    return error


async def _settled(run: Run, work: Coroutine[Any, Any, _T]) -> _T:
    """Await ``work``; a failure from inside task groups comes out as the run's first one.

    A node's exception propagates as itself (with a note), never as an ``ExceptionGroup``.
    """
    try:
        return await work
    except (BaseExceptionGroup, Halt) as failure:
        error = run.first_error or _first_leaf(failure)
    raise error


def _first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


async def run_plan(
    plan: Plan,
    vals: Values[str, Any],
    executors: Mapping[str, Executor],
    observer: Observer | None = None,
    info: RunInfo | None = None,
    cache: NodeCache | None = None,
) -> dict[str, Any]:
    """Run ``plan`` with ``vals`` holding config, inputs and overrides; return the outputs.

    ``observer`` (with ``info``) is told about every node, branch and block as the run goes.
    ``cache`` (which needs an observer: only observed calls reach it) serves node calls.
    """
    for name in plan.absent:
        vals[name] = None
    if observer is None:
        run = Run(executors)
        await _settled(run, run.frame(plan.root, vals, ()))
        return {name: vals[key] for name, key in plan.outputs}
    assert info is not None
    await observer.run_started(info)
    run = Run(executors, observer, info, cache)
    try:
        await _settled(run, run.frame(plan.root, vals, ()))
    except BaseException as exc:
        await observer.run_finished(info, None, exc)
        raise
    results = {name: vals[key] for name, key in plan.outputs}
    await observer.run_finished(info, results, None)
    return results


async def run_branches(
    frame: Frame,
    name: str,
    outer: Mapping[str, Any],
    items: tuple[tuple[int, Any], ...],
    produces: tuple[str, ...],
    path: Path,
    skip: bool = False,
    run: Run | None = None,
) -> list[Any]:
    """Run one block's branch ``frame`` for ``items`` in this process (a worker's side).

    The planner planned ``frame`` for a worker: every sync call runs in place, so no
    executor is ever looked up. ``skip``: a failed branch gives a ``BranchFailed`` row.
    ``run``: a ``Run`` of the worker's own (it marks each node).
    """
    if run is None:
        run = Run({})

    async def branches() -> list[Any]:
        rows: list[Any] = []
        for index, item in items:
            values = dict(outer)
            values[name] = item
            where = (*path, (name, index, item))
            if not skip:
                await run.frame(frame, values, where)
                rows.append(tuple(values[key] for key in produces))
                continue
            held: list[tuple[str, BaseException]] = []
            token = HELD.set(held)
            try:
                await run.frame(frame, values, where)
            except Exception as exc:
                node, error = failure_of(held, name, exc)
                if isinstance(exc, Halt) or isinstance(error, BranchFailuresError):
                    raise
                rows.append(BranchFailed(node, with_traceback(error)))
                continue
            finally:
                HELD.reset(token)
            rows.append(tuple(values[key] for key in produces))
        return rows

    return await _settled(run, branches())
