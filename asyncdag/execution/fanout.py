"""A block's fan-out: take the expander's items one by one and run a branch for each.

How a branch runs was fixed by the planner; the pump only picks the cheapest way to start it:

- plain calls, here, when the branch is all inline sync calls (no task at all);
- the node's coroutine in one task, when the branch is one ``async def`` node;
- batches of branches in one thread job, when the branch is sync calls for one thread
  executor: an item goes at once while a slot is free, and items gather into a batch only
  while every slot is busy (they could not start anyway), so streaming never waits;
- batches shipped whole, when the remote executor runs branches in other processes;
- otherwise one task per branch, running its frame.

At most ``max_tasks`` tasks (or batches) are in flight; the generator waits for a free slot
(a gathering thread batch waits once it is full).
A slot is filled when its branch is done; a branch task that ends cancelled while the run was
not leaves its slot unfilled, and that is a ``NodeCancelledError``, never a ``None``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

from ..graph.plan import ASYNC, REMOTE, Step
from .jobs import BranchRun
from .paths import Path, format_path
from .remote import BranchBatch
from .sources import END, split

if TYPE_CHECKING:
    from .scheduler import Run

YIELD_INTERVAL = 0.002  # how long inline work may hold the loop before handing it back
BATCH_MOST = 64  # the largest automatic thread batch

_UNFILLED: Any = object()  # a branch's slot in a Collect list until the branch is done

Batch = list[tuple[int, Any]]  # (index, item)


async def let_others_run() -> None:
    """Hand the loop over after inline work: two iterations, because a task sleeping on a
    timer needs one to see the timer fire and another to run."""
    await asyncio.sleep(0)
    await asyncio.sleep(0)


class Fan:
    """One block of one execution: its items in, its branches' values out, in yield order."""

    def __init__(
        self, run: Run, step: Step, outer: dict[str, Any], lists: list[list[Any]], path: Path
    ) -> None:
        block = step.block
        assert block is not None
        self.run, self.step, self.outer, self.lists, self.path = run, step, outer, lists, path
        self.name, self.frame, self.produces = step.node.name, block.frame, block.produces
        self.filled = 0
        self.holes: list[tuple[str, Path]] = []  # (node, branch) of branch tasks cancelled
        self.slots: asyncio.Semaphore | None = None

    async def pump(self, source: Iterator[Any] | AsyncIterator[Any]) -> int:
        """Start a branch per item as it comes; return the number of branches once all are done.

        With observers, every branch is a task (or a shipped batch) that reports.
        """
        block, run, name, frame = self.step.block, self.run, self.name, self.frame
        assert block is not None
        observer, info = run.observer, run.info
        here = frame.sync_only and not block.shipped and observer is None
        remote = None if here else run.executors.get(REMOTE)
        if remote is not None and remote.max_tasks:
            self.slots = asyncio.Semaphore(remote.max_tasks)
        slots = self.slots
        one: Callable[[int, Any], Any] | None = None
        many: Callable[[Batch], Any] = self.ship
        size, gathering = 1, None
        only = frame.steps[0] if len(frame.steps) == 1 else None
        auto: Callable[[], int] | None = None  # a shipped batch's size, measured as it goes
        if block.shipped:
            size = (remote.batch_size if remote else None) or 1
            auto = getattr(remote, "auto_batch", None) if remote and not remote.batch_size else None
            if auto is not None:  # a free worker takes the items at once; busy, they gather
                gathering, size = slots, auto()
        elif observer is not None:
            one = self.local
        elif block.threaded:
            many = self.on_thread
            batch_size = remote.batch_size if remote else None
            size = batch_size or BATCH_MOST
            gathering = slots if batch_size is None else None
        elif only is not None and only.mode == ASYNC:
            one = self.async_branch(only)
        else:
            one = self.local
        appends = [values.append for values in self.lists]
        sync_items, async_items = split(source)
        clock = time.perf_counter
        # Tasks: hand the loop over after the first item, so that branch 0 starts at once.
        deadline = clock() + YIELD_INTERVAL if here else 0.0
        # A slot per task (per batch); gathered batches take theirs when they leave.
        first_slot = slots if gathering is None else None
        index = 0
        async with asyncio.TaskGroup() as tg:
            batch: Batch = []
            while True:
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
                now = clock()
                if observer is not None:
                    assert info is not None
                    await observer.item_yielded(
                        info, self.step.node, (*self.path, (name, index, item))
                    )
                if here:
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
                                size = auto()
                index += 1
                if now > deadline:
                    await let_others_run()
                    deadline = clock() + YIELD_INTERVAL
            if batch:
                if gathering is not None:
                    await gathering.acquire()
                tg.create_task(many(batch))
            elif first_slot is not None:
                first_slot.release()
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
        self.filled += 1

    async def local(self, index: int, item: Any) -> None:
        """One branch as a task on this loop, running its frame."""
        values = self.outer.copy()
        values[self.name] = item
        where = (*self.path, (self.name, index, item))
        observer, info = self.run.observer, self.run.info
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
            raise
        finally:
            self._release()
        if observer is not None:
            assert info is not None
            await observer.branch_finished(info, self.step.node, where, None)
        self._fill(index, values)

    def async_branch(self, only: Step) -> Callable[[int, Any], Any]:
        """A branch of one ``async def`` node: its task runs the node's coroutine, little else."""
        run, name, path, lists = self.run, self.name, self.path, self.lists
        node = only.node
        fn, node_name = node.fn, node.name
        fixed = {p: self.outer[k] for p, k in only.args if k != name}
        item_params = tuple(p for p, k in only.args if k == name)
        picks = tuple(key == name for key in self.produces)  # else the node's value

        slots = self.slots
        (param,) = item_params if len(item_params) == 1 and not fixed else (None,)

        async def branch(index: int, item: Any) -> None:
            # The one coroutine a branch task adds to the node's own: kept small, it is per item.
            if param is not None:
                kwargs = {param: item}
            else:
                kwargs = fixed.copy()
                for p in item_params:
                    kwargs[p] = item
            try:
                value = await fn(**kwargs)
            except BaseException as exc:
                where = (*path, (name, index, item))
                error = run.caught(exc, node_name, where)
                if error is exc:
                    if isinstance(exc, asyncio.CancelledError):
                        self.holes.append((node_name, where))
                    raise
                raise error from exc
            finally:
                if slots is not None:
                    slots.release()
            for values_list, pick in zip(lists, picks, strict=True):
                values_list[index] = item if pick else value
            self.filled += 1

        return branch

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
        run = self.run
        unit = BranchBatch(
            self.name, self.frame, self.outer, tuple(batch), self.produces, self.path, run.branches
        )
        try:
            rows = await run.executors[REMOTE].submit(unit)
        except BaseException as exc:
            error = run.arrived(exc, self.name, unit.branch, self.path)
            if error is exc:
                raise
            raise error from exc
        finally:
            self._release()
        self._rows(batch, rows)

        observer, info = run.observer, run.info
        if observer is not None:
            assert info is not None
            for index, item in batch:
                where = (*self.path, (self.name, index, item))
                await observer.branch_finished(info, self.step.node, where, None)

    def _rows(self, batch: Batch, rows: list[tuple[Any, ...]]) -> None:
        for (index, _), row in zip(batch, rows, strict=True):
            for values_list, value in zip(self.lists, row, strict=True):
                values_list[index] = value
        self.filled += len(batch)
