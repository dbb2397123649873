"""Run sync work in worker processes: units are cloudpickled and sent over asyncio pipes.

Each worker runs one unit at a time and talks to the loop over two pipes driven by asyncio
transports, so nothing polls and nothing blocks the loop. The parent always knows which
unit each worker holds: a worker that dies fails exactly that unit with
``WorkerCrashedError``, and a cancelled unit stops exactly its worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import sys
import threading
from typing import Any

import aiologic
import cloudpickle

from ...errors import ExecutorError, WorkerCrashedError
from ._pickling import SharedKeys, SharedParts, dumps_unit, ship_modules_by_value
from .base import Executor, Unit, check_max_tasks, uninterrupted
from .worker import HEADER, OK, PARENT_PID

# How long a worker gets to exit after SIGTERM before it is killed.
TERMINATE_GRACE = 2.0

# One worker spawn at a time in this process, whatever the loop or thread: uvloop refuses
# two at once from two loops ("Racing with another loop to spawn a process"). A lock that
# any loop in any thread can await, so it is process-wide by nature.
_SPAWNING = aiologic.Lock()


class ProcessExecutor(Executor):
    """Run sync nodes, or whole branches of a block, in ``max_tasks`` worker processes.

    Workers are fresh interpreters (like the ``spawn`` start method: safe beside a running
    event loop and threads), started on first use, reused across ``execute`` calls and
    stopped by ``aclose()``. Each event loop gets its own workers (the pipes belong to
    it), so one executor may serve several loops in several threads at once.
    Payloads go through cloudpickle, so closures, lambdas and locally defined classes work.
    ``batch_size`` items of a block travel together in one unit (default 1).
    """

    runs_branches = True

    def __init__(self, max_tasks: int | None = None, batch_size: int | None = None) -> None:
        self.processes: int = check_max_tasks(max_tasks) or os.cpu_count() or 1
        self.max_tasks = self.processes
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None, not {batch_size!r}")
        self.batch_size = batch_size
        # One pool per event loop: its pipes belong to the loop that started it. Loops in
        # other threads reach the dict too, so it changes under the lock.
        self._pools: dict[asyncio.AbstractEventLoop, _Pool] = {}
        self._lock = threading.Lock()
        self._shared = SharedParts()

    async def submit(self, unit: Unit) -> Any:
        ship_modules_by_value()
        shared = self._shared.keys_for(unit)
        payload = dumps_unit(unit, shared)
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            with self._lock:
                self._abandon_closed_loops()
                pool = self._pools.setdefault(loop, _Pool(self.processes, loop))
        return await pool.run(unit, payload, shared)

    async def aclose(self) -> None:
        """Stop the workers started on this loop, and kill those of loops already closed."""
        with self._lock:
            self._abandon_closed_loops()
            pool = self._pools.pop(asyncio.get_running_loop(), None)
        if pool is not None:
            await pool.aclose()

    def _abandon_closed_loops(self) -> None:
        for loop in [loop for loop in self._pools if loop.is_closed()]:
            self._pools.pop(loop).abandon()

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (for tests and monitoring)."""
        with self._lock:
            pools = list(self._pools.values())
        return [pid for pool in pools for pid in pool.pids()]


MultiProcessingExecutor = ProcessExecutor


class _Worker:
    """One worker process (a fresh interpreter running ``worker.serve``), one unit at a time.

    Units go in on its stdin and answers come back on its stdout, both asyncio streams;
    the worker moves the user's own prints to stderr. A plain subprocess, not a
    multiprocessing one: the worker never re-imports the user's ``__main__``.
    """

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.alive = True
        self.holds: set[int] = set()  # keys of the shared parts this worker keeps

    @classmethod
    async def start(cls) -> _Worker:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # import what we import
        env[PARENT_PID] = str(os.getpid())
        async with _SPAWNING:  # cancelled while waiting here: nothing has started yet
            spawn = asyncio.ensure_future(
                asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    "from asyncdag.execution.executors.worker import serve; serve()",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    env=env,
                    limit=2**20,
                )
            )
            try:
                return cls(await asyncio.shield(spawn))
            except asyncio.CancelledError:
                # Cancelled mid-spawn: finish starting it, then stop it, so it cannot outlive us.
                await uninterrupted(_stop_when_started(spawn))
                raise

    @property
    def usable(self) -> bool:
        """Alive as far as the loop knows: not exited, its answer pipe still open."""
        stdout = self.process.stdout
        return (
            self.alive
            and self.process.returncode is None
            and stdout is not None
            and not stdout.at_eof()
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    async def run(self, unit: Unit, payload: bytes, shared: SharedKeys) -> Any:
        """Send ``payload``, wait for the answer; a dead worker raises ``WorkerCrashedError``."""
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        installs = {key: part for key, part in shared.values() if key not in self.holds}
        message = pickle.dumps((installs, payload), protocol=pickle.HIGHEST_PROTOCOL)
        self.holds.update(installs)
        try:
            stdin.write(HEADER.pack(len(message)) + message)
            await stdin.drain()
            (size,) = HEADER.unpack(await stdout.readexactly(HEADER.size))
            answer = await stdout.readexactly(size)
        except asyncio.CancelledError:
            await uninterrupted(self.stop(force=True))
            raise
        except (asyncio.IncompleteReadError, ConnectionError, RuntimeError) as exc:
            # Its pipes closed (uvloop says so with a RuntimeError on write): it is dying. No
            # signal now: Popen.send_signal would reap it itself and hide the exit code from
            # asyncio's child watcher.
            await self.stop()
            raise WorkerCrashedError(unit.node, unit.branch, self.process.returncode) from exc
        status, body = answer[:1], answer[1:]
        if status == OK:
            return cloudpickle.loads(body)
        error, remote_traceback = cloudpickle.loads(body)
        if remote_traceback:
            error.add_note(f"asyncdag: traceback in worker process {self.pid}:\n{remote_traceback}")
        raise error

    async def stop(self, *, force: bool = False) -> None:
        """End the process (SIGTERM when ``force``, else by closing its stdin) and reap it."""
        self.alive = False
        if self.process.returncode is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            if force:
                self.process.terminate()
            try:
                async with asyncio.timeout(TERMINATE_GRACE):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
        await self.process.wait()


class _Pool:
    """Up to ``size`` workers on one event loop, started on demand, replaced when they die."""

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._slots = asyncio.Semaphore(size)
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._closed = False

    async def run(self, unit: Unit, payload: bytes, shared: SharedKeys) -> Any:
        async with self._slots:
            worker = await self._take(unit)
            try:
                return await worker.run(unit, payload, shared)
            finally:
                if worker.alive:
                    self._idle.append(worker)
                else:
                    self._all.discard(worker)

    async def _take(self, unit: Unit) -> _Worker:
        """An idle worker that is still alive, or a new one; dead idle ones are reaped."""
        while self._idle:
            worker = self._idle.pop()
            if worker.usable:
                return worker
            self._all.discard(worker)
            await worker.stop()  # died while idle (killed, OOM): reap it, use another
        if self._closed:
            raise _closed_error(unit)
        worker = await _Worker.start()
        if self._closed:  # closed while it started: it must not outlive the pool
            await uninterrupted(worker.stop())
            raise _closed_error(unit)
        self._all.add(worker)
        return worker

    def pids(self) -> list[int]:
        return [w.pid for w in list(self._all) if w.usable]  # list(): other threads ask too

    async def aclose(self) -> None:
        self._closed = True
        workers, self._all, self._idle = list(self._all), set(), []
        await asyncio.gather(*(w.stop() for w in workers))

    def abandon(self) -> None:
        """The pool's loop is closed: kill its processes without it."""
        self._closed = True
        for worker in self._all:
            with contextlib.suppress(ProcessLookupError):
                worker.process.kill()
        self._all, self._idle = set(), []


def _closed_error(unit: Unit) -> ExecutorError:
    where = f" in branch {unit.branch}" if unit.branch else ""
    return ExecutorError(
        f"node {unit.node!r}{where} was sent to a ProcessExecutor whose aclose() had already "
        "stopped the workers of this event loop. Close the executor (or the Driver) only "
        "after the executes using it have finished."
    )


async def _stop_when_started(spawn: asyncio.Future[asyncio.subprocess.Process]) -> None:
    with contextlib.suppress(Exception):
        await _Worker(await spawn).stop(force=True)
