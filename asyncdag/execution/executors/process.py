"""Run sync work, or whole branches, in worker processes that talk to the loop over pipes.

Each worker is a fresh interpreter running up to ``child_concurrency`` units at once on its
own event loop; requests and answers are frames on its stdin and stdout, read by an asyncio
subprocess protocol, so nothing polls and nothing blocks the loop. The parent always knows
which units each worker holds: a worker that dies fails exactly those with
``WorkerCrashedError`` (naming the node it had marked as running), and a cancelled unit stops
its worker unless that worker runs others' work too. Serialization is ``_pickling``'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import mmap
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import aiologic

from ...errors import ExecutorError, WorkerCrashedError
from ...graph.plan import Frame
from ..remote import BranchBatch
from . import _logs
from ._pickling import SharedKeys, SharedParts, dumps_unit, loads_error, ship_modules_by_value
from ._wire import (
    ANSWER,
    CANCEL,
    CLOSE,
    DONE,
    HEADER,
    ITEM,
    LAST,
    LOG,
    MARKER_FD,
    MARKER_SIZE,
    NEXT,
    OK,
    PARENT_PID,
    RUN,
    STARTED,
    STREAM,
    UNLOADED,
    read_marker,
)
from .base import Executor, Unit, check_max_tasks, uninterrupted

# How long a worker gets to exit after SIGTERM before it is killed, and how long a cancelled
# unit on a worker shared with other work gets to stop before that worker is replaced.
TERMINATE_GRACE = 2.0

# Automatic batches (batch_size=None): a batch should take about BATCH_TIME in its worker,
# so the round trip's fixed cost is paid over many items; a batch at most doubles the last.
BATCH_TIME = 0.01
BATCH_MOST = 512

# One worker spawn at a time in this process, whatever the loop or thread: uvloop refuses
# two at once from two loops ("Racing with another loop to spawn a process"). A lock that
# any loop in any thread can await, so it is process-wide by nature.
_SPAWNING = aiologic.Lock()


class ProcessExecutor(Executor):
    """Run sync nodes, or whole branches of a block, in ``max_tasks`` worker processes.

    Workers are fresh interpreters (like the ``spawn`` start method: safe beside a running
    event loop and threads), started together on first use or by ``start()`` (``async
    with dr:`` calls it), reused across ``execute`` calls and stopped by ``aclose()``. Each
    event loop gets its own workers (the pipes belong to it), so one executor may serve
    several loops in several threads at once. Each worker runs up to ``child_concurrency``
    units at once on its event loop (``async def`` nodes overlap). Payloads go through
    cloudpickle, so closures, lambdas and locally defined classes work; the parts every
    unit of a block shares (its branch frame, its outer values) travel once per worker.
    ``batch_size`` items of a block travel together in one unit (default 1).
    """

    runs_branches = True

    def __init__(
        self,
        max_tasks: int | None = None,
        batch_size: int | None = None,
        child_concurrency: int = 1,
    ) -> None:
        self.processes: int = check_max_tasks(max_tasks) or os.cpu_count() or 1
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None, not {batch_size!r}")
        if not isinstance(child_concurrency, int) or child_concurrency < 1:
            raise ValueError(f"child_concurrency must be a positive int, not {child_concurrency!r}")
        self.child_concurrency = child_concurrency
        self.max_tasks = self.processes * child_concurrency  # units in flight at once
        self.batch_size = batch_size
        # One pool per event loop: its pipes belong to the loop that started it. Loops in
        # other threads reach the dict too, so it changes under the lock.
        self._pools: dict[asyncio.AbstractEventLoop, _Pool] = {}
        self._lock = threading.Lock()
        self._frames = SharedParts()  # branch frames: kept while blocks keep coming
        self._values = SharedParts(kept=4)  # outer values of the latest blocks
        self._per_item = 0.0  # measured seconds per item of a batch, round trip included
        self._last_batch = 1

    def __repr__(self) -> str:
        return (
            f"ProcessExecutor(max_tasks={self.processes!r}, batch_size={self.batch_size!r}, "
            f"child_concurrency={self.child_concurrency!r})"
        )

    async def start(self) -> None:
        """Start this loop's workers now, so that the first unit does not wait for them."""
        await self._pool().ready()

    async def submit(self, unit: Unit) -> Any:
        shared, payload = self._pickled(unit)
        if self.batch_size is not None or not isinstance(unit, BranchBatch):
            return await self._pool().run(unit, payload, shared)
        started = time.perf_counter()
        result = await self._pool().run(unit, payload, shared)
        per_item = (time.perf_counter() - started) / len(unit.items)
        self._per_item = per_item if not self._per_item else 0.7 * self._per_item + 0.3 * per_item
        return result

    def auto_batch(self) -> int:
        """The size of the next batch when ``batch_size`` is None: one item until a batch
        was measured, then as many as take about ``BATCH_TIME``, growing at most twofold."""
        if not self._per_item:
            return 1
        fits = int(BATCH_TIME / self._per_item)
        self._last_batch = max(1, min(fits, 2 * self._last_batch, BATCH_MOST))
        return self._last_batch

    async def stream(self, unit: Unit) -> AsyncIterator[Any]:
        """Call ``unit`` in a worker; the items of the iterator it returns, as yielded there.

        The worker steps the iterator one item ahead of the caller, no further, and closes
        it when the caller stops early (``aclose()``, a failure or a cancellation).
        """
        shared, payload = self._pickled(unit)
        return await self._pool().stream(unit, payload, shared)

    def _pickled(self, unit: Unit) -> tuple[SharedKeys, bytes]:
        ship_modules_by_value()
        parts = unit.shared()
        frames = [part for part in parts if isinstance(part, Frame)]
        shared = self._frames.keys_for(unit, frames)
        if len(frames) < len(parts):
            values = [part for part in parts if not isinstance(part, Frame)]
            shared.update(self._values.keys_for(unit, values))
        payload = dumps_unit(unit, shared)
        return shared, payload

    def _live(self, key: int) -> bool:
        """Whether the part under ``key`` is still kept here (workers drop the others)."""
        return self._frames.live(key) or self._values.live(key)

    def _pool(self) -> _Pool:
        loop = asyncio.get_running_loop()
        pool = self._pools.get(loop)
        if pool is None:
            with self._lock:
                self._abandon_closed_loops()
                pool = self._pools.setdefault(
                    loop, _Pool(self.processes, self.child_concurrency, loop, self._live)
                )
        return pool

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


_DIED = -1  # the status a stream gets when its worker's answer pipe closes


class _Stream:
    """An expander's items, stepped in a worker one item ahead of the caller, no further."""

    def __init__(self, pool: _Pool, worker: _Worker, unit: Unit, shared: SharedKeys) -> None:
        self.pool, self.worker, self.unit, self.shared = pool, worker, unit, shared
        self.rid = next(_ids)
        self.answers: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
        self.finished = False
        self.closed = False
        worker.streams += 1

    def __aiter__(self) -> _Stream:
        return self

    async def __anext__(self) -> Any:
        if self.finished:
            raise StopAsyncIteration
        worker, unit = self.worker, self.unit
        try:
            status, body = await self.answers.get()
        except asyncio.CancelledError:
            alone = worker.load == 0 and worker.streams == 1
            if worker.usable and (unit.abandon_on_cancel or alone):
                self.finished = True
                await uninterrupted(self.pool._replace(worker))  # it may be stuck in a step
            raise
        if status == ITEM:
            item = _loads(unit, body)
            worker.notify(NEXT, self.rid)  # the worker steps while the caller uses this one
            return item
        self.finished = True
        await self.aclose()
        if status == DONE:
            raise StopAsyncIteration
        if status == _DIED:
            raise await self.pool._crashed(worker, unit)
        _outcome(worker, unit, self.shared, status, body)  # raises the generator's error

    async def aclose(self) -> None:
        """Stop stepping; the worker closes the generator (its ``finally`` runs there)."""
        if self.closed:
            return
        self.closed = True
        self.worker.streams -= 1
        self.worker.protocol.streams.pop(self.rid, None)
        if not self.finished:
            self.finished = True
            self.worker.notify(CLOSE, self.rid)


class _Died(Exception):
    """The worker's answer pipe closed: it died (or is dying) with this request unanswered."""


class _Protocol(asyncio.SubprocessProtocol):
    """Answers read off a worker's stdout as they arrive, each to the future awaiting it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buffer = bytearray()
        self.waiting: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self.streams: dict[int, asyncio.Queue[tuple[int, bytes]]] = {}  # answers of streams
        self.exited = loop.create_future()
        self.drained = loop.create_future()  # its stdout reached its end: every answer is in
        self.open = True

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        buffer = self.buffer
        buffer += data
        head = HEADER.size
        while len(buffer) >= head:
            (size,) = HEADER.unpack_from(buffer)
            if len(buffer) < head + size:
                return
            rid, status = ANSWER.unpack_from(buffer, head)
            body = bytes(buffer[head + ANSWER.size : head + size])
            del buffer[: head + size]
            if status == LOG:
                with contextlib.suppress(Exception):  # a bad record must not break the pool
                    _logs.reemit(body)
                continue
            future = self.waiting.pop(rid, None)
            if future is not None:
                if not future.done():
                    future.set_result((status, body))
            elif (queue := self.streams.get(rid)) is not None:
                queue.put_nowait((status, body))

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:  # after the last answer was read: whatever is unanswered never will be
            self.lost()

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost()
        self.process_exited()

    def lost(self) -> None:
        self.open = False
        if not self.drained.done():
            self.drained.set_result(None)
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(_Died())
        for queue in self.streams.values():
            queue.put_nowait((_DIED, b""))


class _Worker:
    """One worker process (a fresh interpreter running ``worker.serve``).

    Requests go in on its stdin and answers come back on its stdout, through an asyncio
    subprocess transport: nothing polls, nothing blocks the loop. The worker moves the
    user's own prints to stderr. A plain subprocess, not a multiprocessing one: the worker
    never re-imports the user's ``__main__``.
    """

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: _Protocol,
        marker: mmap.mmap | None,
        live: Callable[[int], bool],
    ) -> None:
        self.transport, self.protocol, self.marker = transport, protocol, marker
        self.live = live  # whether the parent still keeps a shared part
        self.alive = True
        self.load = 0  # units running here
        self.streams = 0  # expanders stepped here
        self.holds: set[int] = set()  # keys of the shared parts this worker keeps

    @classmethod
    async def start(cls, live: Callable[[int], bool]) -> _Worker:
        loop = asyncio.get_running_loop()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # import what we import
        env[PARENT_PID] = str(os.getpid())
        env[_logs.LOG_LEVEL] = str(_logs.lowest_level())
        marker: mmap.mmap | None = None
        fds: tuple[int, ...] = ()
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("asyncdag-marker")
            os.ftruncate(fd, MARKER_SIZE)
            marker, fds = mmap.mmap(fd, MARKER_SIZE), (fd,)
            env[MARKER_FD] = str(fd)
        protocol = _Protocol(loop)
        try:
            async with _SPAWNING:  # cancelled while waiting here: nothing has started yet
                spawn = asyncio.ensure_future(
                    loop.subprocess_exec(
                        lambda: protocol,
                        sys.executable,
                        "-c",
                        "from asyncdag.execution.executors.worker import serve; serve()",
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=None,
                        env=env,
                        pass_fds=fds,
                    )
                )
                try:
                    transport, _ = await asyncio.shield(spawn)
                except asyncio.CancelledError:
                    # Cancelled mid-spawn: finish starting it, then stop it: it cannot outlive us.
                    await uninterrupted(_stop_when_started(spawn, protocol))
                    raise
        finally:
            for fd in fds:
                os.close(fd)  # the mapping and the worker keep their own
        return cls(transport, protocol, marker, live)

    @property
    def usable(self) -> bool:
        """Alive as far as the loop knows: not exited, its answer pipe still open."""
        return self.alive and self.protocol.open and self.transport.get_returncode() is None

    @property
    def pid(self) -> int:
        return self.transport.get_pid()

    @property
    def idle(self) -> bool:
        return self.load == 0 and self.streams == 0

    def request(
        self,
        kind: int,
        shared: SharedKeys | None = None,
        payload: bytes | None = None,
        rid: int | None = None,
        queue: asyncio.Queue[tuple[int, bytes]] | None = None,
    ) -> tuple[int, asyncio.Future[tuple[int, bytes]]]:
        """Send a request; its id and the future of its answer (``_Died`` if none comes).

        With ``queue``, the request opens a stream: its answers go there, one by one.
        """
        if not self.usable:
            raise _Died()
        rid = next(_ids) if rid is None else rid
        future = self.protocol.loop.create_future()
        if queue is None:
            self.protocol.waiting[rid] = future
        else:
            self.protocol.streams[rid] = queue
        installs = [entry for entry in (shared or {}).values() if entry[0] not in self.holds]
        drops = [key for key in self.holds if not self.live(key)]
        self.holds.difference_update(drops)
        self.holds.update(key for key, _ in installs)
        head = pickle.dumps((kind, rid, [key for key, _ in installs], drops))
        stdin = self._stdin()
        stdin.write(HEADER.pack(len(head)) + head)
        for _, data in installs:  # written as they are, never copied into one message
            stdin.write(HEADER.pack(len(data)))
            stdin.write(data)
        if payload is not None:
            stdin.write(HEADER.pack(len(payload)))
            stdin.write(payload)
        return rid, future

    def notify(self, kind: int, rid: int) -> None:
        """Send a request that is not answered (``CLOSE``, ``CANCEL``)."""
        if self.usable:
            head = pickle.dumps((kind, rid, [], []))
            self._stdin().write(HEADER.pack(len(head)) + head)

    def _stdin(self) -> asyncio.WriteTransport:
        return cast(asyncio.WriteTransport, self.transport.get_pipe_transport(0))

    def unload(self, shared: SharedKeys) -> None:
        """The worker failed to load a unit: it keeps none of the parts it was sent with it."""
        self.holds.difference_update(key for key, _ in shared.values())

    def marked(self) -> tuple[str, str]:
        """(node, branch) the worker said it was running, ``("", "")`` if unknown."""
        return read_marker(self.marker) if self.marker is not None else ("", "")

    async def stop(self, *, force: bool = False) -> None:
        """End the process (SIGTERM when ``force``, else by closing its stdin) and reap it."""
        self.alive = False
        if self.transport.get_returncode() is None:
            stdin = self.transport.get_pipe_transport(0)
            if stdin is not None:
                stdin.close()
            if force:
                with contextlib.suppress(ProcessLookupError):
                    self.transport.terminate()
            try:
                async with asyncio.timeout(TERMINATE_GRACE):
                    await asyncio.shield(self.protocol.exited)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.transport.kill()
        await asyncio.shield(self.protocol.exited)
        with contextlib.suppress(TimeoutError):  # answers written before it exited still count
            async with asyncio.timeout(TERMINATE_GRACE):
                await asyncio.shield(self.protocol.drained)
        self.transport.close()

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.transport.kill()


_ids = itertools.count()


class _Pool:
    """``size`` workers on one event loop, each running up to ``per_worker`` units at once;
    started together (on first use, or by ``start()``), replaced when they die."""

    def __init__(
        self,
        size: int,
        per_worker: int,
        loop: asyncio.AbstractEventLoop,
        live: Callable[[int], bool],
    ) -> None:
        self.loop, self.size, self.per_worker, self.live = loop, size, per_worker, live
        self._slots = asyncio.Semaphore(size * per_worker)
        self._workers: list[_Worker] = []
        self._filling = asyncio.Lock()
        self._closed = False

    async def ready(self, unit: Unit | None = None) -> None:
        """Replace dead workers and start missing ones, until there are ``size``."""
        async with self._filling:
            for worker in [w for w in self._workers if not w.usable]:
                self._workers.remove(worker)
                await worker.stop()  # died while idle (killed, OOM): reap it
            while len(self._workers) < self.size:
                if self._closed:
                    raise _closed_error(unit)
                worker = await _Worker.start(self.live)
                if self._closed:  # closed while it started: it must not outlive the pool
                    await uninterrupted(worker.stop())
                    raise _closed_error(unit)
                self._workers.append(worker)

    async def _take(self, unit: Unit) -> _Worker:
        """The least busy live worker (the pool filled first if one is missing)."""
        if self._closed:
            raise _closed_error(unit)
        workers = self._workers
        if len(workers) < self.size or not all(w.usable for w in workers):
            await self.ready(unit)
        return min(self._workers, key=lambda w: (w.load, w.streams))

    async def run(self, unit: Unit, payload: bytes, shared: SharedKeys) -> Any:
        async with self._slots:
            worker = await self._take(unit)
            worker.load += 1
            try:
                return await self._answer(worker, unit, payload, shared)
            finally:
                worker.load -= 1

    async def _answer(self, worker: _Worker, unit: Unit, payload: bytes, shared: SharedKeys) -> Any:
        try:
            rid, future = worker.request(RUN, shared, payload)
            status, body = await future
        except asyncio.CancelledError:
            await uninterrupted(self._cancelled(worker, unit, rid))
            raise
        except _Died:
            raise await self._crashed(worker, unit) from None
        if status == LAST:  # its last answer: the worker is exiting
            await uninterrupted(self._replace_dead(worker))
        return _outcome(worker, unit, shared, status, body)

    async def _cancelled(self, worker: _Worker, unit: Unit, rid: int) -> None:
        """Stop a cancelled unit: its worker, unless that worker runs others' work too."""
        if unit.abandon_on_cancel or (worker.load == 1 and worker.streams == 0):
            await self._replace(worker)
            return
        if not worker.usable:
            return
        future = worker.protocol.waiting[rid] = self.loop.create_future()  # the old one is
        worker.notify(CANCEL, rid)  # cancelled with us; the answer still comes
        try:
            async with asyncio.timeout(TERMINATE_GRACE):
                await future
        except (TimeoutError, _Died):
            await self._replace(worker)

    async def _replace(self, worker: _Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        await worker.stop(force=True)

    async def _crashed(self, worker: _Worker, unit: Unit) -> WorkerCrashedError:
        # Its pipes closed: it is dying. No signal now: it would race the exit code.
        await self._replace_dead(worker)
        node, branch = worker.marked()
        code = worker.transport.get_returncode()
        return WorkerCrashedError(node or unit.node, branch or unit.branch, code)

    async def _replace_dead(self, worker: _Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        await worker.stop()

    async def stream(self, unit: Unit, payload: bytes, shared: SharedKeys) -> _Stream:
        """Start the expander ``unit`` in a worker; its items then come from the stream.

        The call's own failure (before any item) is raised here, as if it ran here.
        """
        worker = await self._take(unit)
        stream = _Stream(self, worker, unit, shared)
        try:
            worker.request(STREAM, shared, payload, rid=stream.rid, queue=stream.answers)
            status, body = await stream.answers.get()
        except BaseException:
            await stream.aclose()
            raise
        if status != STARTED:
            stream.finished = True
            await stream.aclose()
            if status == _DIED:
                raise await self._crashed(worker, unit)
            _outcome(worker, unit, shared, status, body)
        return stream

    def pids(self) -> list[int]:
        return [w.pid for w in list(self._workers) if w.usable]  # list(): other threads ask too

    async def aclose(self) -> None:
        self._closed = True
        async with self._filling:
            workers, self._workers = list(self._workers), []
        await asyncio.gather(*(w.stop() for w in workers))

    def abandon(self) -> None:
        """The pool's loop is closed: kill its processes without it."""
        self._closed = True
        for worker in self._workers:
            worker.kill()
        self._workers = []


def _loads(unit: Unit, body: bytes) -> Any:
    try:
        return pickle.loads(body)
    except Exception as exc:
        where = f" in branch {unit.branch}" if unit.branch else ""
        raise ExecutorError(
            f"the result of node {unit.node!r}{where} could not be unpickled in the parent "
            f"process ({type(exc).__name__}: {exc}). Return values whose types and modules "
            "this process can import too."
        ) from exc


def _outcome(worker: _Worker, unit: Unit, shared: SharedKeys, status: int, body: bytes) -> Any:
    """The unit's result, or its error raised with the worker's traceback as a note."""
    if status == OK:
        return _loads(unit, body)
    error, remote_traceback = loads_error(body)
    if remote_traceback:
        error.add_note(f"asyncdag: traceback in worker process {worker.pid}:\n{remote_traceback}")
    if status == UNLOADED:
        worker.unload(shared)
        where = f" in branch {unit.branch}" if unit.branch else ""
        error.add_note(
            f"asyncdag: a worker process could not load the work of node {unit.node!r}{where}: "
            "a module or a value it needs cannot be imported there. Make it importable from "
            "the parent's sys.path, or define it in a module loaded by file path."
        )
    raise error


def _closed_error(unit: Unit | None) -> ExecutorError:
    if unit is None:
        return ExecutorError("this ProcessExecutor's aclose() stopped its workers meanwhile")
    where = f" in branch {unit.branch}" if unit.branch else ""
    return ExecutorError(
        f"node {unit.node!r}{where} was sent to a ProcessExecutor whose aclose() had already "
        "stopped the workers of this event loop. Close the executor (or the Driver) only "
        "after the executes using it have finished."
    )


async def _stop_when_started(spawn: asyncio.Future[Any], protocol: _Protocol) -> None:
    with contextlib.suppress(Exception):
        transport, _ = await spawn
        await _Worker(transport, protocol, None, lambda key: False).stop(force=True)
