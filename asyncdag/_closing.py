"""``async with x:`` for objects that own resources, and the executes ``aclose()`` waits for."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from types import TracebackType
from typing import Self

from .errors import AsyncDagError


class AsyncClosing:
    """Mixin: entering returns the object; leaving awaits its ``aclose()``."""

    async def aclose(self) -> None:
        """Release what the object holds."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class _OnLoop:
    """The executes running on one event loop, and the ``aclose()`` calls waiting for them."""

    __slots__ = ("closers", "idle", "running")

    def __init__(self) -> None:
        self.running = 0
        self.closers = 0
        self.idle: asyncio.Event | None = None  # made by a closer that has to wait


class InFlight:
    """Counts the executes running on each event loop, so that ``aclose()`` can wait for them.

    A Driver serves several loops at once (``execute_sync`` from many threads), and
    ``aclose()`` closes only what its own loop started, so the count is kept per loop.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()  # the dict is shared by loops in several threads
        self._loops: dict[asyncio.AbstractEventLoop, _OnLoop] = {}

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Count one execute on this loop; refuse it while ``aclose()`` is closing the loop.

        Raises:
            AsyncDagError: ``aclose()`` is under way on this loop.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            here = self._loops.get(loop)
            if here is None:
                here = self._loops[loop] = _OnLoop()
            elif here.closers:
                raise AsyncDagError(
                    "execute() was called while aclose() is closing this Driver on this event "
                    "loop (it waits for the executes already running, then stops the "
                    "executors). Execute again after aclose() has returned: a Driver may be "
                    "used again once it is closed."
                )
            here.running += 1
        try:
            yield
        finally:
            with self._lock:
                here.running -= 1
                if here.running == 0:
                    if here.idle is not None:
                        here.idle.set()
                    if not here.closers:
                        del self._loops[loop]

    @contextlib.asynccontextmanager
    async def closing(self) -> AsyncIterator[None]:
        """Refuse new executes on this loop, wait for the running ones, then run the body."""
        loop = asyncio.get_running_loop()
        with self._lock:
            here = self._loops.get(loop)
            if here is None:
                here = self._loops[loop] = _OnLoop()
            here.closers += 1
            if here.running and here.idle is None:
                here.idle = asyncio.Event()
            idle = here.idle if here.running else None
        try:
            if idle is not None:  # no new execute starts meanwhile: once idle, it stays so
                await idle.wait()
            yield
        finally:
            with self._lock:
                here.closers -= 1
                if not here.closers and not here.running:
                    del self._loops[loop]
