"""Walk a plan on the event loop: frames, steps and streaming parallel blocks.

Cost is paid only where something awaits. A frame of inline sync calls is a plain loop; a
frame whose awaitable steps form a chain awaits them in order, with no task; only a frame
with independent awaitable steps gets a task per such step. A block whose branches are all
inline sync calls runs each branch as plain calls; otherwise each branch is one task, at most
``max_tasks`` at once, started as soon as its item is yielded.

Every task has an owner (an ``asyncio.TaskGroup`` per concurrent frame and per block), so a
failure or a cancellation stops everything the run started before ``run_plan`` returns.
"""

from __future__ import annotations

import asyncio
import reprlib
import time
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Iterator,
    Mapping,
    MutableMapping,
)
from functools import partial
from typing import Any

from ..graph.plan import (
    ASYNC,
    BLOCK,
    GUARDED,
    INLINE,
    REMOTE,
    Frame,
    Plan,
    Step,
    collected_key,
)
from .executors.base import Call, Executor
from .observe import Observer, RunInfo
from .paths import Path, format_path
from .policy import run_with_policy
from .remote import BranchBatch, Everywhere
from .sources import END, iterate_on, listed, split, started

# How long inline sync work may hold the loop before handing it back for one iteration.
YIELD_INTERVAL = 0.002

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60


class _Run:
    """One execution: its executors and the first failure, which is what ``execute`` raises."""

    __slots__ = ("executors", "first_error", "info", "observer")

    def __init__(
        self,
        executors: Mapping[str, Executor],
        observer: Observer | None = None,
        info: RunInfo | None = None,
    ) -> None:
        self.executors = executors
        self.first_error: BaseException | None = None
        self.observer = observer  # None: nothing listens, and nothing is paid for it
        self.info = info

    # -- failures ---------------------------------------------------------------------------

    def fail(self, exc: BaseException, node: str, path: Path, producing: int = -1) -> None:
        """Note where ``exc`` came from, once, and remember the run's first failure."""
        if self.first_error is None:
            self.first_error = exc
        where = f" in branch {format_path(path)} (item {_short.repr(path[-1][2])})" if path else ""
        if producing >= 0:
            where += f" while producing item {producing}"
        exc.add_note(f"asyncdag: raised by node {node!r}{where}")

    # -- frames -----------------------------------------------------------------------------

    async def frame(self, frame: Frame, vals: MutableMapping[str, Any], path: Path) -> None:
        """Run every step of ``frame``, writing results into ``vals``."""
        if self.observer is not None:  # every step reports: awaited, even plain calls
            if frame.sync_only or frame.sequential:
                for step in frame.steps:
                    await self.awaitable(step, vals, path)
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

    def sync_frame(self, frame: Frame, vals: MutableMapping[str, Any], path: Path) -> None:
        call = self.call
        for step in frame.steps:
            call(step, vals, path)

    def call(self, step: Step, vals: MutableMapping[str, Any], path: Path) -> None:
        """One inline sync node call."""
        try:
            vals[step.key] = step.node.fn(**{p: vals[k] for p, k in step.args})
        except Exception as exc:
            self.fail(exc, step.node.name, path)
            raise

    async def awaitable(self, step: Step, vals: MutableMapping[str, Any], path: Path) -> None:
        if step.mode == BLOCK:
            await self.block(step, vals, path)
            return
        if self.observer is not None:
            await self.observed(step, vals, path)
        else:
            await self.node_call(step, vals, path)

    async def node_call(self, step: Step, vals: MutableMapping[str, Any], path: Path) -> None:
        """A node that awaits: a coroutine, an executor's job, or one under a policy."""
        if step.mode == GUARDED:
            await self.guarded(step, vals, path)
            return
        kwargs = {p: vals[k] for p, k in step.args}
        try:
            if step.mode == ASYNC:
                vals[step.key] = await step.node.fn(**kwargs)
            else:
                executor = self.executors[step.executor or ""]
                unit = Call(step.node.name, format_path(path), step.node.fn, kwargs)
                vals[step.key] = await executor.submit(unit)
        except Exception as exc:
            self.fail(exc, step.node.name, path)
            raise

    async def observed(self, step: Step, vals: MutableMapping[str, Any], path: Path) -> None:
        """A node call told to the run's observers before and after."""
        observer, info, node = self.observer, self.info, step.node
        assert observer is not None and info is not None
        kwargs = {p: vals[k] for p, k in step.args}
        await observer.node_started(info, node, path, kwargs)
        try:
            if step.mode == INLINE:
                self.call(step, vals, path)
            else:
                await self.node_call(step, vals, path)
        except Exception as exc:
            await observer.node_finished(info, node, path, kwargs, None, exc)
            raise
        await observer.node_finished(info, node, path, kwargs, vals[step.key], None)

    async def guarded(self, step: Step, vals: MutableMapping[str, Any], path: Path) -> None:
        """A node with a ``@timeout`` / ``@retry`` policy."""
        node = step.node
        kwargs = {p: vals[k] for p, k in step.args}
        executor = self.executors[step.executor or ""]
        try:
            vals[step.key] = await run_with_policy(node, kwargs, executor, format_path(path))
        except Exception as exc:
            self.fail(exc, node.name, path)
            raise

    async def concurrent_frame(
        self, frame: Frame, vals: MutableMapping[str, Any], path: Path
    ) -> None:
        """Start each step when its last in-frame dependency is done; awaitables as tasks."""
        steps, dependents = frame.steps, frame.dependents
        remaining = [len(w) for w in frame.waits_on]

        async with asyncio.TaskGroup() as tg:

            def release(ready: list[int]) -> None:
                while ready:
                    i = ready.pop()
                    step = steps[i]
                    if step.mode != INLINE or self.observer is not None:
                        tg.create_task(run_awaitable(i))
                        continue
                    self.call(step, vals, path)
                    ready.extend(unblock(i))

            def unblock(i: int) -> list[int]:
                ready = []
                for d in dependents[i]:
                    remaining[d] -= 1
                    if remaining[d] == 0:
                        ready.append(d)
                return ready

            async def run_awaitable(i: int) -> None:
                await self.awaitable(steps[i], vals, path)
                release(unblock(i))

            release([i for i, n in enumerate(remaining) if n == 0])

    # -- blocks -----------------------------------------------------------------------------

    async def block(self, step: Step, vals: MutableMapping[str, Any], path: Path) -> None:
        """Fan out over the expander's items, one branch each, and gather in yield order."""
        block = step.block
        assert block is not None
        source = await self.open_source(step, vals, path)
        outer = {k: vals[k] for k in block.outer}
        lists: list[list[Any]] = [[] for _ in block.produces]
        try:
            if block.frame.sync_only and isinstance(source, Iterator) and not self.observer:
                await self.inline_branches(step, source, outer, lists, path)
            else:
                await self.task_branches(step, source, outer, lists, path)
        finally:
            close = getattr(source, "aclose", None)
            if close is not None:
                await close()
            elif hasattr(source, "close"):
                source.close()
        for name, values in zip(block.produces, lists, strict=True):
            vals[collected_key(name)] = values
        if self.observer is not None:
            assert self.info is not None
            count = len(lists[0]) if lists else -1
            await self.observer.block_finished(self.info, step.node, path, count)

    async def open_source(
        self, step: Step, vals: MutableMapping[str, Any], path: Path
    ) -> Iterator[Any] | AsyncIterator[Any]:
        """The expander's items: a sync iterator to step on the loop, or an async one."""
        node = step.node
        try:
            produced = await self.produce(step, vals, path)
        except Exception as exc:
            self.fail(exc, node.name, path)
            raise
        if isinstance(produced, AsyncIterator):
            return produced
        if isinstance(produced, AsyncIterable):
            return aiter(produced)
        try:
            items: Iterator[Any] = iter(produced)
        except TypeError as exc:
            error = TypeError(
                f"node {node.name!r} is Parallelizable but returned a "
                f"{type(produced).__name__}, which is not iterable. Return a list or another "
                "iterable, or write it as a generator or an async generator."
            )
            self.fail(error, node.name, path)
            raise error from exc
        return items

    async def produce(self, step: Step, vals: MutableMapping[str, Any], path: Path) -> Any:
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
        executor = self.executors[step.executor or ""]
        if executor.runs_inline:
            return node.fn(**kwargs)
        branch = format_path(path)
        if executor.runs_branches:  # another process: a generator cannot come back, its items can
            return await executor.submit(Call(node.name, branch, partial(listed, node.fn), kwargs))
        items = await executor.submit(Call(node.name, branch, partial(started, node.fn), kwargs))
        return iterate_on(executor, node.name, branch, items)

    async def inline_branches(
        self,
        step: Step,
        source: Iterator[Any] | AsyncIterator[Any],
        outer: dict[str, Any],
        lists: list[list[Any]],
        path: Path,
    ) -> None:
        """All-inline branches: plain calls per item, handing the loop back every few ms."""
        block = step.block
        assert block is not None
        name, frame, produces = step.node.name, block.frame, block.produces
        appends = [values.append for values in lists]
        sync_items, async_items = split(source)
        clock = time.perf_counter
        deadline = clock() + YIELD_INTERVAL
        index = 0
        while True:
            try:
                if sync_items is not None:
                    item = next(sync_items, END)
                else:
                    item = await anext(async_items, END)
            except Exception as exc:
                self.fail(exc, name, path, producing=index)
                raise
            if item is END:
                return
            branch = outer.copy()
            branch[name] = item
            self.sync_frame(frame, branch, (*path, (name, index, item)))
            for append, key in zip(appends, produces, strict=True):
                append(branch[key])
            index += 1
            if sync_items is not None and clock() > deadline:
                await _let_others_run()
                deadline = clock() + YIELD_INTERVAL

    async def task_branches(
        self,
        step: Step,
        source: Iterator[Any] | AsyncIterator[Any],
        outer: dict[str, Any],
        lists: list[list[Any]],
        path: Path,
    ) -> None:
        """Branches as tasks, started as soon as their item is yielded, ``max_tasks`` at once.

        An executor that runs branches (processes, clusters) gets each batch of items as one
        unit; otherwise every branch is one task on this loop.
        """
        remote = self.executors[REMOTE]
        ship = remote.runs_branches
        size = (remote.batch_size or 1) if ship else 1
        slots = asyncio.Semaphore(remote.max_tasks) if remote.max_tasks else None
        run = self.ship_batch if ship else self.local_branch
        sync_items, async_items = split(source)
        clock = time.perf_counter
        deadline = 0.0  # hand the loop over after the first item, so branch 0 starts at once

        async def start(batch: list[tuple[int, Any]]) -> None:
            try:
                await run(step, outer, batch, lists, path)
            finally:
                if slots is not None:
                    slots.release()

        async with asyncio.TaskGroup() as tg:
            batch: list[tuple[int, Any]] = []
            index = 0
            while True:
                if slots is not None and not batch:
                    await slots.acquire()
                try:
                    if sync_items is not None:
                        item = next(sync_items, END)
                    else:
                        item = await anext(async_items, END)
                except Exception as exc:
                    self.fail(exc, step.node.name, path, producing=index)
                    raise
                if item is END:
                    if batch:
                        tg.create_task(start(batch))
                    elif slots is not None:
                        slots.release()
                    return
                for values_list in lists:
                    values_list.append(None)
                if self.observer is not None:
                    assert self.info is not None
                    await self.observer.item_yielded(
                        self.info, step.node, (*path, (step.node.name, index, item))
                    )
                batch.append((index, item))
                index += 1
                if len(batch) >= size:
                    tg.create_task(start(batch))
                    batch = []
                if sync_items is not None and clock() > deadline:
                    await asyncio.sleep(0)
                    deadline = clock() + YIELD_INTERVAL

    async def local_branch(
        self,
        step: Step,
        outer: dict[str, Any],
        batch: list[tuple[int, Any]],
        lists: list[list[Any]],
        path: Path,
    ) -> None:
        """Run one branch here, on this loop (``batch`` holds its one item)."""
        block = step.block
        assert block is not None
        (index, item), name, frame = batch[0], step.node.name, block.frame
        values = outer.copy()
        values[name] = item
        here = (*path, (name, index, item))
        if self.observer is None:
            await self.frame(frame, values, here)
        else:
            assert self.info is not None
            try:
                await self.frame(frame, values, here)
            except Exception as exc:
                await self.observer.branch_finished(self.info, step.node, here, exc)
                raise
            await self.observer.branch_finished(self.info, step.node, here, None)
        for values_list, key in zip(lists, block.produces, strict=True):
            values_list[index] = values[key]

    async def ship_batch(
        self,
        step: Step,
        outer: dict[str, Any],
        batch: list[tuple[int, Any]],
        lists: list[list[Any]],
        path: Path,
    ) -> None:
        """Send branches to the remote executor as one unit; its errors come back noted."""
        block = step.block
        assert block is not None
        unit = BranchBatch(step.node.name, block.frame, outer, tuple(batch), block.produces, path)
        try:
            rows = await self.executors[REMOTE].submit(unit)
        except Exception as exc:
            if self.first_error is None:
                self.first_error = exc
            raise
        for (index, _), row in zip(batch, rows, strict=True):
            for values_list, value in zip(lists, row, strict=True):
                values_list[index] = value
        if self.observer is not None:
            assert self.info is not None
            for index, item in batch:
                here = (*path, (step.node.name, index, item))
                await self.observer.branch_finished(self.info, step.node, here, None)


async def _let_others_run() -> None:
    """Hand the loop over after inline work: two iterations, because a task sleeping on a
    timer needs one to see the timer fire and another to run."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def run_plan(
    plan: Plan,
    vals: MutableMapping[str, Any],
    executors: Mapping[str, Executor],
    observer: Observer | None = None,
    info: RunInfo | None = None,
) -> dict[str, Any]:
    """Run ``plan`` with ``vals`` holding config, inputs and overrides; return the outputs.

    A node's exception propagates as itself (with a note), never as an ``ExceptionGroup``.
    ``observer`` (with ``info``) is told about every node, branch and block as the run goes.
    """
    if observer is None:
        return await _run_plan(_Run(executors), plan, vals)
    assert info is not None
    await observer.run_started(info)
    try:
        results = await _run_plan(_Run(executors, observer, info), plan, vals)
    except Exception as exc:
        await observer.run_finished(info, None, exc)
        raise
    await observer.run_finished(info, results, None)
    return results


async def _run_plan(run: _Run, plan: Plan, vals: MutableMapping[str, Any]) -> dict[str, Any]:
    for name in plan.absent:
        vals[name] = None
    try:
        await run.frame(plan.root, vals, ())
    except BaseExceptionGroup as group:
        error = run.first_error or _first_leaf(group)
    else:
        return {name: vals[key] for name, key in plan.outputs}
    raise error


def _first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    first = group.exceptions[0]
    return _first_leaf(first) if isinstance(first, BaseExceptionGroup) else first


async def run_branches(
    frame: Frame,
    name: str,
    outer: Mapping[str, Any],
    items: tuple[tuple[int, Any], ...],
    produces: tuple[str, ...],
    path: Path,
) -> list[tuple[Any, ...]]:
    """Run one block's branch ``frame`` for ``items`` in this process (a worker's side)."""
    run = _Run(Everywhere())
    rows = []
    try:
        for index, item in items:
            values = dict(outer)
            values[name] = item
            await run.frame(frame, values, (*path, (name, index, item)))
            rows.append(tuple(values[key] for key in produces))
    except BaseExceptionGroup as group:
        error = run.first_error or _first_leaf(group)
    else:
        return rows
    raise error
