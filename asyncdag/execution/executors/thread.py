"""Run sync work on a pool of worker threads."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from .base import Executor, Unit, check_max_tasks, uninterrupted


class ThreadExecutor(Executor):
    """Run sync nodes on at most ``max_tasks`` threads; the loop stays free meanwhile.

    A thread cannot be interrupted, so cancelling a run drops its queued jobs (they never
    start) and waits for its running ones to finish before the cancellation goes on: nothing
    keeps running after ``execute``. The one exception is a node past its ``@timeout``, which
    is left to finish on its own.

    One pool serves every event loop and thread that uses the executor (``max_tasks`` bounds
    them all); ``aclose()`` on a loop stops the threads once no other loop still uses them.
    """

    def __init__(self, max_tasks: int | None = None) -> None:
        self.max_tasks = check_max_tasks(max_tasks) or min(32, (os.cpu_count() or 1) + 4)
        self._lock = threading.Lock()  # guards the three below, shared by several loops
        self._pool: ThreadPoolExecutor | None = None
        self._users: set[asyncio.AbstractEventLoop] = set()  # loops using the pool
        self._abandoned: set[Future[Any]] = set()  # jobs past their @timeout, still running

    async def submit(self, unit: Unit) -> Any:
        loop = asyncio.get_running_loop()
        pool = self._pool
        if pool is None or loop not in self._users:  # only this loop's aclose() removes it
            pool = self._join(loop)
        job = pool.submit(contextvars.copy_context().run, unit)
        try:
            return await asyncio.wrap_future(job)
        except asyncio.CancelledError:
            if job.cancel():
                raise  # still queued: it never starts
            if getattr(unit, "abandon_on_cancel", False):
                self._abandon(job)
                raise
            with contextlib.suppress(Exception):  # its error loses to the cancellation
                await uninterrupted(asyncio.wrap_future(job))
            raise

    def _join(self, loop: asyncio.AbstractEventLoop) -> ThreadPoolExecutor:
        """The pool, started if need be, with ``loop`` counted among its users."""
        with self._lock:
            self._users = {user for user in self._users if not user.is_closed()}
            self._users.add(loop)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_tasks, thread_name_prefix="asyncdag")
            return self._pool

    def _abandon(self, job: Future[Any]) -> None:
        with self._lock:
            self._abandoned.add(job)
        job.add_done_callback(self._forget)

    def _forget(self, job: Future[Any]) -> None:
        with self._lock:
            self._abandoned.discard(job)

    async def aclose(self) -> None:
        """Stop the threads and wait for them to end, unless another loop still uses them.

        Every job of this loop was awaited, so the threads are idle; only a job left past
        its ``@timeout`` may still run, and it is not waited for.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            self._users.discard(loop)
            self._users = {user for user in self._users if not user.is_closed()}
            if self._users:
                return
            pool, self._pool = self._pool, None
            busy = bool(self._abandoned)
        if pool is None:
            return
        pool.shutdown(wait=False, cancel_futures=True)
        if not busy:  # joining idle threads is quick, but it blocks: do it off the loop
            await uninterrupted(asyncio.to_thread(pool.shutdown))


MultiThreadingExecutor = ThreadExecutor
