"""A block's fan-out: take the expander's items one by one and run a branch for each.

How a branch runs was fixed by the planner; the pump only picks the cheapest way to start it:

- plain calls, here, when the branch is all inline sync calls (no task at all);
- the node's coroutine in one task, when the branch is one ``async def`` node;
- thread jobs sharing one queue, when the branch is sync calls for one thread executor:
  an item starts a job at once while a thread is free; while all are busy, items wait in
  the queue and each job takes the next one as it finishes a branch (``sharing``), so slow
  branches spread over every thread and trivial ones run many to a job;
- batches shipped whole, when the remote executor runs branches in other processes;
- otherwise one task per branch, running its frame (always, for blocks with ``@window``
  functions or ``@on_branch_error("skip")``: each branch's end is told on its own).

At most ``max_tasks`` tasks (or batches) are in flight; the generator waits for a free slot
(the thread queue, once it holds ``Shared.most`` items: ``sharing.QUEUE_LEAST`` or more).
A slot is filled when its branch is done; a branch task that ends cancelled while the run was
not leaves its slot unfilled, and that is a ``NodeCancelledError``, never a ``None``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..errors import BranchFailuresError, ExecutorError
from ..graph.plan import ASYNC, REMOTE, Step
from .async_branches import async_branch
from .chunks import Shipment, pump_chunks, takes_chunks
from .halt import Halt
from .jobs import BranchRun, Shared
from .paths import Path, format_path
from .remote import BranchBatch
from .sharing import share_job, thread_queue
from .skips import HELD, BranchFailed, Skips, failure_of
from .sources import END, split
from .turns import YIELD_INTERVAL, let_others_run
from .windows import Windows

if TYPE_CHECKING:
    from .scheduler import Run

BATCH_MOST = 64  # the largest automatic thread batch
OPEN_MOST = 1024  # branches in flight when the executor sets no bound and nothing is gathered

_UNFILLED: Any = object()  # a branch's slot in a Collect list until the branch is done

Batch = list[tuple[int, Any]]  # (index, item)


class Fan:
    """One block of one execution: its items in, its branches' values out, in yield order."""

    # (index, item) -> the branch's row when the cache already has it (set by the cache)
    known: Callable[[int, Any], tuple[Any, ...] | None] | None = None

    def __init__(
        self,
        run: Run,
        step: Step,
        outer: dict[str, Any],
        lists: list[list[Any]],
        path: Path,
        vals: Any = None,
    ) -> None:
        block = step.block
        assert block is not None
        self.run, self.step, self.outer, self.lists, self.path = run, step, outer, lists, path
        self.name, self.frame, self.produces = step.node.name, block.frame, block.gathered
        self.filled = 0
        self.holes: list[tuple[str, Path]] = []  # (node, branch) of branch tasks cancelled
        self.slots: asyncio.Semaphore | None = None
        # Windows and skips see every branch end on its own; rows hold all of ``produces``.
        self.windows: Windows | None = None
        self.skips = Skips(run, step.node, block.skip) if block.skip is not None else None
        self.failed: set[int] = set()
        self.picks = tuple(block.produces.index(k) for k in block.gathered)
        self.streamed = tuple(
            (node, block.produces.index(node.name))
            for name in block.streamed
            if (node := _node_named(block.frame.steps, name)) is not None
        )
        self.vals = vals
        self.shipment: Shipment | None = None  # what every chunk of this block run shares

    async def pump(self, source: Iterator[Any] | AsyncIterator[Any]) -> int:
        """Start a branch per item as it comes; return the number of branches once all are done.

        With observers, every branch is a task (or a shipped batch) that reports.
        """
        block, run, name, frame = self.step.block, self.run, self.name, self.frame
        assert block is not None
        observer, info = run.observer, run.info
        careful = bool(block.windows) or block.skip is not None
        here = frame.sync_only and not block.shipped and observer is None and not careful
        remote = None if here else run.executors.get(REMOTE)
        max_tasks = remote.max_tasks if remote is not None else None
        if max_tasks:
            self.slots = asyncio.Semaphore(max_tasks)
        elif not here and not self.produces:  # nothing kept: only tasks could pile up
            self.slots = asyncio.Semaphore(OPEN_MOST)
        if block.windows:
            self.windows = Windows(run, block, self.vals, self.path, max_tasks)
        windows = self.windows
        slots = self.slots
        one: Callable[[int, Any], Any] | None = None
        many: Callable[[Batch], Any] = self.ship
        size, gathering = 1, None
        only = frame.steps[0] if len(frame.steps) == 1 else None
        auto: Callable[[object], int] | None = None  # a shipped batch's size, measured
        queue: Shared | None = None  # a threaded block's items, shared by its thread jobs
        if block.shipped:
            size = (remote.batch_size if remote else None) or 1
            auto = getattr(remote, "auto_batch", None) if remote and not remote.batch_size else None
            if auto is not None:  # a free worker takes the items at once; busy, they gather
                gathering, size = slots, auto(frame)
        elif observer is not None or careful:
            one = self.local
        elif block.threaded:
            many = self.on_thread
            batch_size = remote.batch_size if remote else None
            size = batch_size or BATCH_MOST
            if batch_size is None:
                queue = thread_queue(self, max_tasks or OPEN_MOST)
        elif only is not None and only.mode == ASYNC:
            one = async_branch(self, only)
        else:
            one = self.local
        appends = [values.append for values in self.lists]
        sync_items, async_items = split(source)
        chunked = block.shipped and observer is None and windows is None and not self.streamed
        if chunked and sync_items is not None and takes_chunks(remote):
            return await pump_chunks(self, sync_items, remote)  # type: ignore[arg-type]
        clock = time.perf_counter
        # Tasks: hand the loop over after the first item, so that branch 0 starts at once.
        deadline = clock() + YIELD_INTERVAL if here else 0.0
        # A slot per task (per batch); gathered batches take theirs when they leave.
        first_slot = slots if gathering is None and queue is None else None
        index = 0
        async with asyncio.TaskGroup() as tg:
            if windows is not None:
                for j in range(len(block.windows)):
                    tg.create_task(windows.run_windows(j))
            batch: Batch = []
            while True:
                if windows is not None and windows.full(index):
                    if batch:  # its branches may be what the window waits for: send them
                        tg.create_task(many(batch))
                        batch = []
                    await windows.room(index)
                if first_slot is not None and not batch:
                    await first_slot.acquire()
                try:
                    if sync_items is not None:
                        item = next(sync_items, END)
                    else:
                        item = await anext(async_items, END)
                except BaseException as exc:
                    error = run.caught(exc, name, self.path, producing=index)
                    if error is exc:
                        raise
                    raise error from exc
                if item is END:
                    break
                if windows is not None:
                    windows.took(index)
                if observer is not None:
                    assert info is not None
                    await observer.item_yielded(
                        info, self.step.node, (*self.path, (name, index, item))
                    )
                if self.known is not None and (row := self.known(index, item)) is not None:
                    for append, value in zip(appends, row, strict=True):  # no branch to run
                        append(value)
                    self.filled += 1
                    self._release()
                elif here:
                    branch = self.outer.copy()
                    branch[name] = item
                    run.sync_frame(frame, branch, (*self.path, (name, index, item)))
                    for append, key in zip(appends, self.produces, strict=True):
                        append(branch[key])
                else:
                    for append in appends:
                        append(_UNFILLED)
                    if one is not None:
                        tg.create_task(one(index, item))
                    elif queue is not None:
                        if queue.put(index, item):
                            tg.create_task(share_job(self, queue))
                        if queue.full():
                            await queue.room()
                    else:
                        batch.append((index, item))
                        if gathering is None:
                            if len(batch) >= size:
                                tg.create_task(many(batch))
                                batch = []
                        elif len(batch) >= size or not gathering.locked():
                            # A free thread takes the batch at once; while all are busy,
                            # items gather (up to ``size``) instead of waiting one by one.
                            await gathering.acquire()
                            tg.create_task(many(batch))
                            batch = []
                            if auto is not None:
                                size = auto(frame)
                index += 1
                if clock() > deadline:  # after the branch: inline, it held the loop
                    await let_others_run()
                    deadline = clock() + YIELD_INTERVAL
            if batch:
                if gathering is not None:
                    await gathering.acquire()
                tg.create_task(many(batch))
            elif first_slot is not None:
                first_slot.release()
            if windows is not None:
                windows.end()
        if self.failed:  # aligned Collects drop the same indexes
            failed = self.failed
            for values_list in self.lists:
                values_list[:] = [v for i, v in enumerate(values_list) if i not in failed]
        if not here and self.filled != index:  # a branch task ended cancelled, not by us
            node, where = self.holes[0] if self.holes else (name, self.path)
            raise run.hole(node, where)
        return index

    def _release(self) -> None:
        if self.slots is not None:
            self.slots.release()

    def _fill(self, index: int, values: dict[str, Any]) -> None:
        for values_list, key in zip(self.lists, self.produces, strict=True):
            values_list[index] = values[key]
        if self.windows is not None:
            self.windows.done(index, tuple(values[k] for k in self.step.block.produces))  # type: ignore[union-attr]
        self.filled += 1

    async def _skip(self, index: int, node: str, where: Path, error: BaseException) -> None:
        """Branch ``index`` failed under the skip policy: left out of every Collect and window."""
        assert self.skips is not None
        if self.lists:  # whole lists drop it at the end (windows and streams keep nothing)
            self.failed.add(index)
        # Reported before its window may run: a sink can rely on a dead letter written first.
        await self.skips.skipped(node, where, error)
        if self.windows is not None:
            self.windows.done(index, None)
        self.filled += 1

    async def local(self, index: int, item: Any) -> None:
        """One branch as a task on this loop, running its frame."""
        values = self.outer.copy()
        values[self.name] = item
        where = (*self.path, (self.name, index, item))
        observer, info = self.run.observer, self.run.info
        held: list[tuple[str, BaseException]] | None = None
        if self.skips is not None:
            held = []
            HELD.set(held)  # this task's context only: its failures are held, not the run's
        try:
            await self.run.frame(self.frame, values, where)
        except asyncio.CancelledError:
            undone = next((s.node.name for s in self.frame.steps if s.key not in values), "")
            self.holes.append((undone or self.name, where))
            raise
        except BaseException as exc:
            if observer is not None:
                assert info is not None
                await observer.branch_finished(info, self.step.node, where, exc)
            if held is not None and isinstance(exc, Exception) and not _halting(exc):
                node, where, error = _node_error(held, self.name, exc, where)
                if not isinstance(error, BranchFailuresError):  # an inner block's: the run's
                    await self._skip(index, node, where, error)
                    return
            raise
        finally:
            self._release()
        if observer is not None:
            assert info is not None
            await observer.branch_finished(info, self.step.node, where, None)
        self._fill(index, values)

    async def on_thread(self, batch: Batch) -> None:
        """Branches of sync calls for one thread executor: a batch of them in one thread job."""
        only = self.frame.steps[0]
        calls = only.calls or (only,)
        task = asyncio.current_task()
        assert task is not None
        unit = BranchRun(
            self.name, calls, self.outer, batch, self.produces, format_path(self.path), task
        )
        try:
            rows = await self.run.executors[only.executor or ""].submit(unit)
        except BaseException as exc:
            index, item = batch[unit.at]
            error = self.run.caught(exc, unit.node, (*self.path, (self.name, index, item)))
            if error is exc:
                raise
            raise error from exc
        finally:
            self._release()
        self._rows(batch, rows)

    async def ship(self, batch: Batch) -> None:
        """Send branches to the remote executor as one unit; its errors come back noted."""
        try:
            rows = await self._shipped(batch)
        finally:
            self._release()
        observer, info = self.run.observer, self.run.info
        for (index, item), row in zip(batch, rows, strict=True):
            where = (*self.path, (self.name, index, item))
            if type(row) is BranchFailed:
                if observer is not None:
                    assert info is not None
                    node = _node_named(self.frame.steps, row.node) or self.step.node
                    given = {self.name: item}  # its arguments stayed in the worker
                    await observer.node_finished(info, node, where, given, None, row.error)
                    await observer.branch_finished(info, self.step.node, where, row.error)
                await self._skip(index, row.node, where, row.error)
                continue
            self._row(index, row)
            if observer is not None:
                assert info is not None
                for node, at in self.streamed:  # ran elsewhere: told here, from the row
                    await observer.node_finished(info, node, where, {}, row[at], None)
                await observer.branch_finished(info, self.step.node, where, None)

    async def _shipped(self, batch: Batch) -> list[Any]:
        """The rows of ``batch`` from the remote executor (skipping: a row may be a failure)."""
        run = self.run
        block = self.step.block
        assert block is not None
        skip = self.skips is not None
        unit = BranchBatch(
            self.name,
            self.frame,
            self.outer,
            tuple(batch),
            block.produces,
            self.path,
            run.branches,
            skip,
        )
        try:
            rows: list[Any] = await run.executors[REMOTE].submit(unit)
        except BaseException as exc:
            if skip and isinstance(exc, ExecutorError):  # a crash or a value that cannot travel
                if len(batch) == 1:
                    return [BranchFailed(getattr(exc, "node", None) or self.name, exc)]
                return [row for one in batch for row in await self._shipped([one])]
            error = run.arrived(exc, self.name, unit.branch, self.path)
            if error is exc:
                raise
            raise error from exc
        return rows

    def _row(self, index: int, row: tuple[Any, ...]) -> None:
        for values_list, at in zip(self.lists, self.picks, strict=True):
            values_list[index] = row[at]
        if self.windows is not None:
            self.windows.done(index, row)
        self.filled += 1

    def _rows(self, batch: Batch, rows: list[tuple[Any, ...]]) -> None:
        for (index, _), row in zip(batch, rows, strict=True):
            for values_list, value in zip(self.lists, row, strict=True):
                values_list[index] = value
        self.filled += len(batch)


def _halting(exc: BaseException) -> bool:
    """A node's ``SystemExit``/``KeyboardInterrupt`` on its way out: never skipped."""
    return isinstance(exc, Halt)


def _node_error(
    held: list[tuple[str, BaseException]], expander: str, exc: BaseException, where: Path
) -> tuple[str, Path, BaseException]:
    node, error = failure_of(held, expander, exc)
    return node, where, error


def _node_named(steps: tuple[Step, ...], name: str) -> Any:
    for step in steps:
        for call in step.calls or (step,):
            if call.node.name == name:
                return call.node
    return None
