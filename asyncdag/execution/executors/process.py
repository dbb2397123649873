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
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import FunctionType
from typing import Any

from ...errors import WorkerCrashedError
from ...graph.plan import Frame
from ..chunks import BranchChunk
from ..remote import BranchBatch
from ._answers import closed_error, crash_site, loads_result, outcome
from ._pace import Pace
from ._pickling import (
    PickledOnce,
    SharedKeys,
    SharedParts,
    dumps_items,
    dumps_unit,
    explain_unpicklable,
    plain_mapping,
    ship_modules_by_value,
)
from ._wire import (
    CANCEL,
    CHUNK,
    CLOSE,
    DONE,
    ITEM,
    LAST,
    NEXT,
    RUN,
    STARTED,
    STREAM,
)
from ._workers import DIED, TERMINATE_GRACE, Died, Worker, request_ids
from .base import Call, Executor, Unit, check_max_tasks, uninterrupted


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
    takes_chunks = True  # a block's branches come as ``BranchChunk`` units (``execution.chunks``)

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
        self._frames = SharedParts()  # branch frames and node functions: kept while they come
        self._values = SharedParts(kept=4)  # outer values of the latest blocks
        self._pace = Pace()  # measured cost per item of each block, for automatic batches
        self._shipments = PickledOnce()  # of the latest block runs shipped in chunks

    def __repr__(self) -> str:
        return (
            f"ProcessExecutor(max_tasks={self.processes!r}, batch_size={self.batch_size!r}, "
            f"child_concurrency={self.child_concurrency!r})"
        )

    async def start(self) -> None:
        """Start this loop's workers now and wait until each has answered a first request,
        so that the first unit waits neither for a spawn nor for a worker's imports."""
        pool = self._pool()
        await pool.ready()
        warm = Call("<warm-up>", "", os.getpid, {})
        shared, payload = self._pickled(warm)
        async with asyncio.TaskGroup() as tg:  # the least busy worker takes each one
            for _ in range(self.processes):
                tg.create_task(pool.run(warm, payload, shared))

    async def submit(self, unit: Unit) -> Any:
        shared, payload = self._pickled(unit)
        kind = CHUNK if isinstance(unit, BranchChunk) else RUN
        if self.batch_size is not None or not isinstance(unit, BranchBatch | BranchChunk):
            return await self._pool().run(unit, payload, shared, kind)
        started = time.perf_counter()
        result = await self._pool().run(unit, payload, shared, kind)
        self._pace.measured(unit.frame, time.perf_counter() - started, len(unit.items))
        return result

    def auto_batch(self, frame: object = None) -> int:
        """The size of the next batch of ``frame``'s block when ``batch_size`` is None: one
        item until a batch of it was measured, then as many as take about ``_pace.BATCH_TIME``
        in a worker (growing at most ``_pace.GROWTH``-fold from one batch to the next)."""
        return self._pace.batch(frame)

    async def stream(self, unit: Unit) -> AsyncIterator[Any]:
        """Call ``unit`` in a worker; the items of the iterator it returns, as yielded there.

        The worker steps the iterator one item ahead of the caller, no further, and closes
        it when the caller stops early (``aclose()``, a failure or a cancellation).
        """
        shared, (payload,) = self._pickled(unit)
        return await self._pool().stream(unit, payload, shared)

    def _pickled(self, unit: Unit) -> tuple[SharedKeys, tuple[bytes, ...]]:
        """The keys of the unit's shared parts, and its frames: the unit with those parts
        as keys; or, for a chunk, its block run's ``Shipment`` (pickled once) and then
        ``(frame key, outer key, start, items)``."""
        ship_modules_by_value()
        parts = unit.shared()
        if isinstance(unit, Call) and type(unit.fn) is FunctionType:
            parts = (unit.fn,)  # a node's function: it travels once per worker, as frames do
        frames = [part for part in parts if isinstance(part, Frame | FunctionType)]
        shared = self._frames.keys_for(unit, frames)
        if len(frames) < len(parts):
            values = [part for part in parts if not isinstance(part, Frame)]
            shared.update(self._values.keys_for(unit, values))
        if not isinstance(unit, BranchChunk):
            plain = isinstance(unit, Call) and parts == (unit.fn,) and plain_mapping(unit.kwargs)
            return shared, (dumps_unit(unit, shared, plain=plain),)
        try:
            shipment = self._shipments.dumps(unit.of)
        except Exception as exc:
            raise explain_unpicklable(unit.parts(), unit.node, exc) from exc
        outer = shared[id(unit.outer)][0] if unit.outer else -1
        head = (shared[id(unit.frame)][0], outer, unit.start)
        return shared, (shipment, dumps_items(unit, head))

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


class _Stream:
    """An expander's items, stepped in a worker one item ahead of the caller, no further."""

    def __init__(self, pool: _Pool, worker: Worker, unit: Unit, shared: SharedKeys) -> None:
        self.pool, self.worker, self.unit, self.shared = pool, worker, unit, shared
        self.rid = next(request_ids)
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
            if unit.abandon_on_cancel and worker.usable:  # past its @timeout: stop it there
                self.finished = True
                await uninterrupted(self.pool._replace(worker))
            await uninterrupted(self.aclose())
            raise
        if status == ITEM:
            item = loads_result(unit, body)
            worker.notify(NEXT, self.rid)  # the worker steps while the caller uses this one
            return item
        self.finished = True
        await self.aclose()
        if status == DONE:
            raise StopAsyncIteration
        if status == DIED:
            raise await self.pool._crashed(worker, unit)
        outcome(worker, unit, self.shared, status, body)  # raises the generator's error

    async def aclose(self) -> None:
        """Stop stepping: the worker closes the generator (its ``finally`` runs there). A
        worker that does not say so within ``TERMINATE_GRACE`` (stuck in a step) is replaced."""
        if self.closed:
            return
        self.closed = True
        worker = self.worker
        try:
            if not self.finished and worker.usable:
                self.finished = True
                worker.notify(CLOSE, self.rid)
                try:
                    async with asyncio.timeout(TERMINATE_GRACE):
                        while (await self.answers.get())[0] not in (DONE, DIED):
                            pass  # an item stepped ahead, or the generator's last error
                except TimeoutError:
                    await self.pool._replace(worker)
        finally:
            worker.streams -= 1
            worker.protocol.streams.pop(self.rid, None)


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
        self._workers: list[Worker] = []
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
                    raise closed_error(unit)
                worker = await Worker.start(self.live)
                if self._closed:  # closed while it started: it must not outlive the pool
                    await uninterrupted(worker.stop())
                    raise closed_error(unit)
                self._workers.append(worker)

    async def _take(self, unit: Unit) -> Worker:
        """The least busy live worker (the pool filled first if one is missing)."""
        if self._closed:
            raise closed_error(unit)
        workers = self._workers
        if len(workers) < self.size or not all(w.usable for w in workers):
            await self.ready(unit)
        return min(self._workers, key=lambda w: (w.load, w.streams))

    async def run(
        self, unit: Unit, payload: bytes | tuple[bytes, ...], shared: SharedKeys, kind: int = RUN
    ) -> Any:
        async with self._slots:
            worker = await self._take(unit)
            worker.load += 1
            try:
                return await self._answer(worker, unit, payload, shared, kind)
            finally:
                worker.load -= 1

    async def _answer(
        self,
        worker: Worker,
        unit: Unit,
        payload: bytes | tuple[bytes, ...],
        shared: SharedKeys,
        kind: int,
    ) -> Any:
        rid = -1
        try:
            rid, future = worker.request(kind, shared, payload)
            status, body = await future
        except asyncio.CancelledError:
            await uninterrupted(self._cancelled(worker, unit, rid))
            raise
        except Died:
            raise await self._crashed(worker, unit, rid) from None
        if status == LAST:  # its last answer: the worker is exiting
            await uninterrupted(self._replace_dead(worker))
        return outcome(worker, unit, shared, status, body)

    async def _cancelled(self, worker: Worker, unit: Unit, rid: int) -> None:
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
        except (TimeoutError, Died):
            await self._replace(worker)

    async def _replace(self, worker: Worker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)
        await worker.stop(force=True)

    async def _crashed(self, worker: Worker, unit: Unit, rid: int = -1) -> WorkerCrashedError:
        # Its pipes closed: it is dying. No signal now: it would race the exit code.
        await self._replace_dead(worker)
        node, branch = crash_site(worker, unit, rid)
        code = worker.transport.get_returncode()
        return WorkerCrashedError(node or unit.node, branch or unit.branch, code)

    async def _replace_dead(self, worker: Worker) -> None:
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
            if status == DIED:
                raise await self._crashed(worker, unit)
            outcome(worker, unit, shared, status, body)
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
