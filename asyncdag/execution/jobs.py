"""Sync calls sent to one thread executor as one job: one thread hop, not one per node.

A job checks between calls whether the task awaiting it is being cancelled, and then stops:
cancelling a run never waits for calls that have not started.

A block's branches share the executor's threads through one queue (``Shared``): each job
(``SharedRun``) takes branches from it one at a time until it is empty, so a free thread
takes what waits and slow branches spread over all threads, while trivial ones still run
many to a job.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import CoroutineType
from typing import Any

from ..graph.plan import Step
from .mistakes import returned_coroutine

JOB_MOST = 256  # branches one shared job runs before its rows go back to the loop


def _call(call: Step, values: dict[str, Any]) -> None:
    value = call.node.fn(**{p: values[k] for p, k in call.args})
    if type(value) is CoroutineType:
        raise returned_coroutine(call.node.name, value)
    values[call.key] = value


class CallRun:
    """A JOB step's calls, in order, on the executor's thread; returns their values.

    ``at`` is the index of the call running (or that raised), so errors name that node.
    """

    __slots__ = ("at", "branch", "calls", "given", "task")
    abandon_on_cancel = False

    def __init__(
        self, step: Step, given: Mapping[str, Any], branch: str, task: asyncio.Task[Any]
    ) -> None:
        self.calls, self.given, self.branch, self.task, self.at = step.calls, given, branch, task, 0

    @property
    def node(self) -> str:
        return self.calls[self.at].node.name

    def __call__(self) -> list[Any]:
        values = dict(self.given)
        cancelling = self.task.cancelling  # an int read: safe from this thread
        for at, call in enumerate(self.calls):
            if at and cancelling():
                raise asyncio.CancelledError  # the rest never starts
            self.at = at
            _call(call, values)
        return [values[call.key] for call in self.calls]

    def shared(self) -> tuple[object, ...]:
        return ()

    def parts(self) -> Iterable[tuple[str, str, Any]]:
        for call in self.calls:
            yield call.node.name, "the function", call.node.fn
        for name, value in self.given.items():
            yield self.calls[0].node.name, f"argument {name!r}", value

    def result_parts(self, result: Any) -> Iterable[tuple[str, str, Any]]:
        for call, value in zip(self.calls, result, strict=True):
            yield call.node.name, "the return value", value


class BranchRun:
    """Branches of one block for a few items, each a run of sync calls, in one thread job.

    Returns one row of produced values per item. ``at`` / ``call_at`` locate the branch and
    the call running (or that raised).
    """

    __slots__ = ("at", "call_at", "calls", "items", "name", "outer", "path", "produces", "task")
    abandon_on_cancel = False

    def __init__(
        self,
        name: str,
        calls: tuple[Step, ...],
        outer: Mapping[str, Any],
        items: Sequence[tuple[int, Any]],
        produces: tuple[str, ...],
        path: str,
        task: asyncio.Task[Any],
    ) -> None:
        self.name, self.calls, self.outer, self.items = name, calls, outer, items
        self.produces, self.path, self.task = produces, path, task
        self.at = self.call_at = 0

    @property
    def node(self) -> str:
        return self.calls[self.call_at].node.name

    @property
    def branch(self) -> str:
        here = f"{self.name}[{self.items[self.at][0]}]"
        return f"{self.path}.{here}" if self.path else here

    def __call__(self) -> list[tuple[Any, ...]]:
        rows = []
        name, calls, outer, produces = self.name, self.calls, self.outer, self.produces
        cancelling = self.task.cancelling  # an int read: safe from this thread
        for at, (_, item) in enumerate(self.items):
            if at and cancelling():
                raise asyncio.CancelledError  # the branches left never start
            self.at = at
            values = dict(outer)
            values[name] = item
            for call_at, call in enumerate(calls):
                self.call_at = call_at
                _call(call, values)
            rows.append(tuple(values[key] for key in produces))
        return rows

    def shared(self) -> tuple[object, ...]:
        return ()

    def parts(self) -> Iterable[tuple[str, str, Any]]:
        yield from _frame_parts(self.name, self.calls, self.outer)
        for index, item in self.items:
            yield self.name, f"item {index}", item

    def result_parts(self, result: Any) -> Iterable[tuple[str, str, Any]]:
        for (index, _), row in zip(self.items, result, strict=True):
            for key, value in zip(self.produces, row, strict=True):
                yield key, f"the return value in branch {self.name}[{index}]", value


class Shared:
    """A block's items waiting for a thread; every job of the block takes from the left.

    ``deque.append``/``popleft`` are atomic, so the loop adds while threads take. The loop
    counts the jobs (``jobs``) and waits for ``room`` once ``most`` items wait: the
    generator feels the threads' pace. ``stop`` (a failure) makes every job stop taking.
    """

    __slots__ = ("items", "jobs", "jobs_most", "loop", "low", "most", "stop", "waiter", "woken")

    def __init__(self, jobs_most: int, most: int) -> None:
        self.items: deque[tuple[int, Any]] = deque()
        self.jobs, self.jobs_most = 0, jobs_most
        self.most, self.low = most, most // 2
        self.stop = self.woken = False
        self.waiter: asyncio.Future[None] | None = None
        self.loop = asyncio.get_running_loop()

    def put(self, index: int, item: Any) -> bool:
        """Queue branch ``index``; true when a job must start for it (a thread is free)."""
        self.items.append((index, item))
        if self.jobs < self.jobs_most:
            self.jobs += 1
            return True
        return False

    def full(self) -> bool:
        return len(self.items) >= self.most

    async def room(self) -> None:
        """Wait until the threads took the queue down to half (or a job ended)."""
        while len(self.items) > self.low and not self.stop:
            self.woken = False
            self.waiter = waiter = self.loop.create_future()
            try:
                if len(self.items) > self.low:  # else a thread took them before it looked
                    await waiter
            finally:
                self.waiter = None

    def taken(self) -> None:
        """On a thread, after taking an item: wake the waiting generator once it is low."""
        if self.waiter is not None and not self.woken and len(self.items) <= self.low:
            self.woken = True
            self.loop.call_soon_threadsafe(self.wake)

    def wake(self) -> None:
        """On the loop: let the generator go on (a thread took items, or a job ended)."""
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class SharedRun:
    """One thread job of a block: branches taken from ``Shared`` until it is empty (or
    ``JOB_MOST`` ran: a job's rows never pile up on its thread).

    Returns ``(index, row)`` per branch it ran. ``current`` / ``call_at`` locate the branch
    and the call running (or that raised); ``current`` is None before the first branch.
    """

    __slots__ = (
        "call_at",
        "calls",
        "current",
        "name",
        "outer",
        "path",
        "produces",
        "queue",
        "task",
    )
    abandon_on_cancel = False

    def __init__(
        self,
        name: str,
        calls: tuple[Step, ...],
        outer: Mapping[str, Any],
        produces: tuple[str, ...],
        path: str,
        queue: Shared,
        task: asyncio.Task[Any],
    ) -> None:
        self.name, self.calls, self.outer, self.produces = name, calls, outer, produces
        self.path, self.queue, self.task = path, queue, task
        self.current: tuple[int, Any] | None = None
        self.call_at = 0

    @property
    def node(self) -> str:
        return self.calls[self.call_at].node.name if self.current is not None else self.name

    @property
    def branch(self) -> str:
        if self.current is None:
            return self.path
        here = f"{self.name}[{self.current[0]}]"
        return f"{self.path}.{here}" if self.path else here

    def __call__(self) -> list[tuple[int, tuple[Any, ...]]]:
        rows = []
        name, calls, outer, produces, queue = (
            self.name,
            self.calls,
            self.outer,
            self.produces,
            self.queue,
        )
        items = queue.items
        take, taken = items.popleft, queue.taken
        cancelling = self.task.cancelling  # an int read: safe from this thread
        while True:
            if not items:
                time.sleep(0)  # hand the GIL to the loop once: it may be adding items
            if queue.stop or cancelling():
                break  # the branches left never start
            try:
                self.current = index, item = take()
            except IndexError:
                break
            taken()
            values = dict(outer)
            values[name] = item
            try:
                for call_at, call in enumerate(calls):
                    self.call_at = call_at
                    _call(call, values)
            except BaseException:
                queue.stop = True  # the block fails: the other jobs take no more
                raise
            rows.append((index, tuple(values[key] for key in produces)))
            if len(rows) == JOB_MOST:
                break  # the rows go back; a job on the loop takes the rest
        return rows

    def shared(self) -> tuple[object, ...]:
        return ()

    def parts(self) -> Iterable[tuple[str, str, Any]]:
        return _frame_parts(self.name, self.calls, self.outer)

    def result_parts(self, result: Any) -> Iterable[tuple[str, str, Any]]:
        for index, row in result:
            for key, value in zip(self.produces, row, strict=True):
                yield key, f"the return value in branch {self.name}[{index}]", value


def _frame_parts(
    name: str, calls: Sequence[Step], outer: Mapping[str, Any]
) -> Iterator[tuple[str, str, Any]]:
    """A thread job's functions and outer values, named for pickling errors."""
    for call in calls:
        yield call.node.name, "the function", call.node.fn
    for key, value in outer.items():
        yield name, f"its value {key!r}", value
