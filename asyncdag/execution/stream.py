"""``Driver.stream``: a run reported as events through a small bounded buffer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from types import TracebackType
from typing import Any

import anyio
from anyio.streams.memory import MemoryObjectSendStream

from ..events import Event
from ..graph.node import Node
from .observe import Observer, RunInfo
from .paths import Path

# Events waiting for the consumer; past this many the run waits for it.
BUFFER = 16


def _index(path: Path) -> tuple[int, ...]:
    return tuple(index for _, index, _ in path)


class _Listener(Observer):
    """Sends the run's events into the stream; ``send`` waits while the buffer is full."""

    def __init__(self, send: MemoryObjectSendStream[Event]) -> None:
        self._send = send

    def describe(self, method: str) -> str:
        return "Driver.stream"

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
            await self._send.send(Event("node", node.name, _index(path), result))

    async def branch_finished(
        self, run: RunInfo, expander: Node, path: Path, error: BaseException | None
    ) -> None:
        if error is None:
            await self._send.send(Event("branch", expander.name, _index(path), None))

    async def block_finished(self, run: RunInfo, expander: Node, path: Path, branches: int) -> None:
        await self._send.send(Event("block", expander.name, _index(path), branches))


async def _produce(
    run: Callable[[Observer], Coroutine[Any, Any, Any]], send: MemoryObjectSendStream[Event]
) -> None:
    async with send:
        result = await run(_Listener(send))
        await send.send(Event("done", None, (), result))


class EventStream(AsyncIterator[Event]):
    """Iterate to run; the run starts at the first ``__anext__`` and is owned by this object.

    ``aclose()`` (or leaving ``async with``) cancels a run still going and waits until it has
    stopped. A stream dropped mid-way (``break`` out of ``async for``) cancels its run too.
    """

    def __init__(self, run: Callable[[Observer], Coroutine[Any, Any, Any]]) -> None:
        self._send, self._receive = anyio.create_memory_object_stream[Event](BUFFER)
        self._run = run
        self._task: asyncio.Task[None] | None = None

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        if self._task is None:
            # The run must not hold this object: dropping the stream is what cancels it.
            self._task = asyncio.get_running_loop().create_task(_produce(self._run, self._send))
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            task, self._task = self._task, None
            self._receive.close()
            await task  # the run's own exception, if it failed
            raise StopAsyncIteration from None
        except BaseException:
            await self.aclose()
            raise

    async def aclose(self) -> None:
        """Stop the run if it is still going, and wait until everything it started stopped."""
        self._receive.close()
        task = self._task
        if task is None:
            return
        task.cancel()
        interrupted = False
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                interrupted = interrupted or not task.done()
            except Exception:
                break  # the run's error: the consumer left, it is not theirs to handle
        if interrupted:
            raise asyncio.CancelledError

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __del__(self) -> None:
        task = self._task
        if task is not None and not task.done():
            self._receive.close()
            task.cancel()
