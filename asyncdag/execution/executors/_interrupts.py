"""Stopping a cluster task that is already running in a worker's thread.

Dask cannot interrupt a task once a worker thread runs it: cancelling its future only makes
the scheduler forget it. So a cluster task registers itself here, in the worker process,
under a token the parent chose, and the parent asks the workers (``client.run``) to
``interrupt`` the tokens of a cancelled execution:

1. the task stops between units, and a unit awaiting on the thread's event loop is
   cancelled there (``call_soon_threadsafe``), which ends ``async def`` nodes at their
   ``await``;
2. a thread still busy after ``GENTLE`` seconds (a sync node in a Python loop) gets
   ``Interrupted`` raised in it (``PyThreadState_SetAsyncExc``) at its next bytecode.

Limits: code in C (a long ``time.sleep``, a NumPy call, a blocking socket read) is
interrupted only when it returns to Python; a node that catches ``BaseException`` and goes
on cannot be stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import threading
from collections.abc import Iterator

GENTLE = 0.2  # seconds a task gets to stop at an await before it is interrupted in its thread
PATIENT = 2.0  # seconds ``interrupt`` waits for interrupted tasks to end (within CANCEL_GRACE)

# The tasks running in this (cluster worker) process, by token: a worker-side registry,
# since the thread that runs a task is chosen by the cluster, not by us.
_RUNNING: dict[str, Running] = {}
_RUNNING_LOCK = threading.Lock()
# Tokens already interrupted, the newest few: a task of theirs that a worker starts after
# the interrupt (it was queued there) stops before running anything.
_STOPPED: dict[str, None] = {}
_STOPPED_MOST = 4096


class Interrupted(BaseException):
    """Raised in a cluster task's thread when its execution was cancelled."""


class Running:
    """A cluster task running in this process: its thread and the unit's loop task."""

    __slots__ = ("done", "finished", "ident", "lock", "loop", "stopped", "task")

    def __init__(self) -> None:
        self.ident = threading.get_ident()
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[object] | None = None
        self.stopped = self.finished = False
        self.done = threading.Event()

    def running(
        self, loop: asyncio.AbstractEventLoop | None, task: asyncio.Task[object] | None
    ) -> None:
        """From the task's thread: ``task`` on ``loop`` runs the current unit (None: none)."""
        with self.lock:
            self.loop, self.task = loop, task
            if self.stopped and task is not None:
                task.cancel()

    def stop(self) -> None:
        """Stop between units, and cancel the unit's loop task."""
        with self.lock:
            self.stopped = True
            if self.loop is not None and self.task is not None:
                with contextlib.suppress(RuntimeError):  # the loop has just closed
                    self.loop.call_soon_threadsafe(self.task.cancel)

    def interrupt(self) -> None:
        """Raise ``Interrupted`` in the task's thread, unless the task has finished."""
        with self.lock:
            if not self.finished:
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.ident), ctypes.py_object(Interrupted)
                )

    def finish(self) -> None:
        """From the task's thread: no interruption may reach it any more."""
        with self.lock:
            self.finished = True
            # An interruption set but not yet raised would hit the cluster's own code.
            ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(self.ident), None)
        self.done.set()


@contextlib.contextmanager
def registered(token: str | None) -> Iterator[Running]:
    """Register the calling thread's task under ``token`` while it runs."""
    running = Running()
    if token is not None:
        with _RUNNING_LOCK:
            _RUNNING[token] = running
            running.stopped = token in _STOPPED
    try:
        yield running
    finally:
        if token is not None:
            with _RUNNING_LOCK:
                _RUNNING.pop(token, None)
        running.finish()


async def interrupt(tokens: list[str]) -> int:
    """Stop the tasks of ``tokens`` running in this process; how many there were.

    Runs on a cluster worker's event loop (Dask's ``client.run``); returns once they have
    ended, or after ``PATIENT`` seconds.
    """
    with _RUNNING_LOCK:
        found = [_RUNNING[token] for token in tokens if token in _RUNNING]
        for token in tokens:
            _STOPPED[token] = None
        while len(_STOPPED) > _STOPPED_MOST:
            del _STOPPED[next(iter(_STOPPED))]
    for running in found:
        running.stop()
    ended = await asyncio.gather(*(_ended(running, GENTLE) for running in found))
    for running, done in zip(found, ended, strict=True):
        if not done:
            running.interrupt()
    await asyncio.gather(*(_ended(running, PATIENT) for running in found))
    return len(found)


async def _ended(running: Running, seconds: float) -> bool:
    return await asyncio.to_thread(running.done.wait, seconds)
