"""Store requests gathered into batches: one thread hop (and one transaction) per batch.

A 10,000-branch block asks the store 10,000 times at once; a thread hop each would cost
more than the lookups. Requests made while a batch is on its thread wait for the next one,
which starts as soon as the batch returns. The thread's future resolves every request of
its batch, so a cancelled requester leaves the others served; a cancelled requester whose
batch is on its thread waits for that thread, so nothing a run started outlives it.
"""

from __future__ import annotations

import asyncio
import functools
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ..execution.executors.base import uninterrupted

_R = TypeVar("_R")

Outcome = tuple[bool, Any]  # (ok, value or exception)
_T = TypeVar("_T")


async def on_thread(fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` on a thread; a cancellation waits for the thread (it cannot be stopped)."""
    running = asyncio.get_running_loop().run_in_executor(None, functools.partial(fn, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        await uninterrupted(running)
        raise


class Batches(Generic[_R]):
    """Run ``work`` (blocking, on a thread) over the requests gathered on each event loop."""

    def __init__(self, work: Callable[[list[_R]], list[Outcome]]) -> None:
        self._work = work
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopBatches[_R]]
        self._loops = weakref.WeakKeyDictionary()

    async def ask(self, request: _R) -> Any:
        """``request``'s result, computed with the others of its batch; its error raised."""
        loop = asyncio.get_running_loop()
        batches = self._loops.get(loop)
        if batches is None:
            batches = self._loops[loop] = _LoopBatches(loop, self._work)
        future = batches.ask(request)
        try:
            return await future
        except asyncio.CancelledError:
            await batches.withdraw(future)
            raise


class _LoopBatches(Generic[_R]):
    def __init__(
        self, loop: asyncio.AbstractEventLoop, work: Callable[[list[_R]], list[Outcome]]
    ) -> None:
        self._loop, self._work = loop, work
        self._pending: list[tuple[_R, asyncio.Future[Any]]] = []
        self._running: asyncio.Future[list[Outcome]] | None = None

    def ask(self, request: _R) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self._loop.create_future()
        self._pending.append((request, future))
        if self._running is None:
            self._start()
        return future

    async def withdraw(self, future: asyncio.Future[Any]) -> None:
        """A cancelled request: dropped if it waits, else its batch's thread awaited, so
        that no store work of a cancelled run goes on after the run has ended."""
        for i, (_, pending) in enumerate(self._pending):
            if pending is future:
                del self._pending[i]
                return
        if self._running is not None:
            await uninterrupted(self._running)

    def _start(self) -> None:
        batch, self._pending = self._pending, []
        running = self._loop.run_in_executor(None, self._work, [r for r, _ in batch])
        running.add_done_callback(lambda done: self._finished(batch, done))
        self._running = running

    def _finished(self, batch: list[tuple[_R, asyncio.Future[Any]]], done: Any) -> None:
        self._running = None
        error = None if done.cancelled() else done.exception()
        outcomes: list[Outcome] = (
            [(False, error or asyncio.CancelledError())] * len(batch)
            if error is not None or done.cancelled()
            else done.result()
        )
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():  # its requester was cancelled
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if self._pending:
            self._start()
