"""Run sync work on worker threads, through anyio's thread pool."""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Callable
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

from .base import Executor, check_max_tasks

_T = TypeVar("_T")


class ThreadExecutor(Executor):
    """Run sync nodes on at most ``max_tasks`` threads; the loop stays free meanwhile.

    Cancelling a run waits for the thread jobs it started to finish (a thread cannot be
    interrupted), so nothing keeps running after ``execute`` returns.
    """

    def __init__(self, max_tasks: int | None = None) -> None:
        self.max_tasks = check_max_tasks(max_tasks) or min(32, (os.cpu_count() or 1) + 4)
        # One limiter per event loop: a limiter belongs to the loop that first used it.
        self._limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter]
        self._limiters = weakref.WeakKeyDictionary()

    async def submit(self, fn: Callable[[], _T]) -> _T:
        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = CapacityLimiter(self.max_tasks or 1)
        return await anyio.to_thread.run_sync(fn, limiter=limiter)


MultiThreadingExecutor = ThreadExecutor
