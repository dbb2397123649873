"""``Driver.stream``: a run reported as events through a small bounded queue."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from .._closing import AsyncClosing
from ..events import Event
from ..graph.node import Node
from .executors.base import uninterrupted
from .observe import Observer, RunInfo
from .paths import Path

# Events waiting for the consumer; past this many the run waits for it.
BUFFER = 64

_END = Event("done", None, (), None)  # marks the end of the queue (never yielded)


def _index(path: Path) -> tuple[int, ...]:
    return tuple(index for _, index, _ in path)


class _Listener(Observer):
    """Puts the run's events on the queue; waits only while the queue is full."""

    def __init__(self, queue: asyncio.Queue[Event]) -> None:
        self._queue = queue

    def describe(self, method: str) -> str:
        return "Driver.stream"

    async def _put(self, event: Event) -> None:
        if self._queue.full():
            await self._queue.put(event)
        else:  # room: no trip round the loop per event
            self._queue.put_nowait(event)

    async def node_finished(
        self,
        run: RunInfo,
        node: Node,
        path: Path,
        kwargs: Any,
        result: Any,
        error: BaseException | None,
    ) -> None:
        if error is None:
            await self._put(Event("node", node.name, _index(path), result))

    async def branch_finished(
        self, run: RunInfo, expander: Node, path: Path, error: BaseException | None
    ) -> None:
        if error is None:
            await self._put(Event("branch", expander.name, _index(path), None))

    async def block_finished(self, run: RunInfo, expander: Node, path: Path, branches: int) -> None:
        await self._put(Event("block", expander.name, _index(path), branches))

    async def branch_skipped(
        self, run: RunInfo, expander: Node, node: str, path: Path, error: BaseException
    ) -> None:
        await self._put(Event("error", node, _index(path), error))


async def _produce(
    run: Callable[[Observer], Coroutine[Any, Any, Any]], queue: asyncio.Queue[Event]
) -> None:
    listener = _Listener(queue)
    try:
        result = await run(listener)
        await listener._put(Event("done", None, (), result))
    finally:
        if not queue.full():
            queue.put_nowait(_END)  # a full queue: the consumer left, or learns from the task


class EventStream(AsyncClosing, AsyncIterator[Event]):
    """Iterate to run; the run starts at the first ``__anext__`` and is owned by this object.

    ``aclose()`` (or leaving ``async with``) cancels a run still going and waits until it has
    stopped. A stream dropped mid-way (``break`` out of ``async for``) cancels its run too.
    """

    def __init__(self, run: Callable[[Observer], Coroutine[Any, Any, Any]]) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(BUFFER + 1)  # + room for the end
        self._run = run
        self._task: asyncio.Task[None] | None = None
        self._finished = False

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._finished:
            raise StopAsyncIteration
        task = self._task
        if task is None:
            # The run must not hold this object: dropping the stream is what cancels it.
            task = self._task = asyncio.get_running_loop().create_task(
                _produce(self._run, self._queue)
            )
        try:
            event = self._queue.get_nowait() if self._queue.qsize() else await self._next(task)
        except BaseException:
            await self.aclose()
            raise
        if event is _END:
            self._finished = True
            await task  # the run's own exception, if it failed
            raise StopAsyncIteration
        return event

    async def _next(self, task: asyncio.Task[None]) -> Event:
        """The next event, or the end when the run stopped without saying so.

        The run puts the end on the queue when it stops, unless the queue is full; then the
        consumer is not waiting, and finds the task done once it has drained the queue.
        """
        if task.done():
            return _END
        return await self._queue.get()

    async def aclose(self) -> None:
        """Stop the run if it is still going, and wait until everything it started stopped."""
        self._finished = True
        task = self._task
        if task is None:
            return
        task.cancel()
        # The run's own error (or its cancellation) is not the consumer's to handle: it left.
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await uninterrupted(task)
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise asyncio.CancelledError  # this close was itself cancelled meanwhile

    def __del__(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
