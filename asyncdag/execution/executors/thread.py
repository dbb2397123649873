"""Run sync work on a pool of worker threads."""

from __future__ import annotations

import asyncio
import contextvars
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .base import Executor, Unit, check_max_tasks


class ThreadExecutor(Executor):
    """Run sync nodes on at most ``max_tasks`` threads; the loop stays free meanwhile.

    A thread cannot be interrupted, so cancelling a run waits for the thread jobs it started
    to finish before the cancellation goes on: nothing keeps running after ``execute``. The
    one exception is a node past its ``@timeout``, which is left to finish on its own.
    """

    def __init__(self, max_tasks: int | None = None) -> None:
        self.max_tasks = check_max_tasks(max_tasks) or min(32, (os.cpu_count() or 1) + 4)
        self._pool: ThreadPoolExecutor | None = None

    async def submit(self, unit: Unit) -> Any:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.max_tasks, thread_name_prefix="asyncdag")
        context = contextvars.copy_context()
        future = asyncio.get_running_loop().run_in_executor(self._pool, context.run, unit)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            if not getattr(unit, "abandon_on_cancel", False):
                await _wait_out(future)
            raise

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)  # every job was awaited: the threads are idle


async def _wait_out(future: asyncio.Future[Any]) -> None:
    """Wait until ``future`` is done, through any number of cancellations."""
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            continue
        except Exception:
            return  # its error loses to the cancellation under way


MultiThreadingExecutor = ThreadExecutor
