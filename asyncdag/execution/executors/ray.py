"""Run whole branches as Ray tasks: ``await ref`` on the running event loop.

A batch of branches is one remote task; the block's branch frame and the values its
branches read from outside the block are ``ray.put`` once and passed to every task.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import threading
from typing import Any
from urllib.parse import urlsplit

from ...errors import ExecutorError, WorkerCrashedError
from . import _batching, _cluster
from .base import Executor, Unit, check_max_tasks, uninterrupted

CONNECT_TIMEOUT = 10.0  # seconds to reach a cluster's address before giving up
CANCEL_GRACE = 5.0  # seconds a cancelled task gets to stop before it is left to Ray
FINISH_GRACE = 0.25  # seconds a task gets to finish by itself before it is cancelled
WARM_MOST = 64  # worker processes started on entering the Driver, at most


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ExecutorError("RayExecutor needs Ray: pip install 'asyncdag[ray]'") from exc
    return ray


class RayExecutor(_batching.Chunked, Executor):
    """Run a block's branches (in batches) as Ray tasks.

    On first use, if Ray is not initialised in this process, ``ray.init(address,
    num_cpus=num_cpus)`` starts (or, with ``address``, connects to) a cluster, and
    ``aclose()`` shuts it down; a Ray the application initialised itself is used and left
    running. An ``address`` that does not answer within ``connect_timeout`` seconds raises
    ``ExecutorError`` naming it.

    ``max_tasks`` bounds the branches in flight (default: 8 per CPU, 64 with automatic
    batches). ``batch_size`` items travel in one task; ``None`` sends an item at once while
    fewer than 2 tasks per CPU are in flight and gathers the items that come while all are
    busy into the next task (the first item always goes alone). A fixed ``batch_size``
    sends a block's branches as chunks, one plain list of items per task, and ``max_tasks``
    then counts tasks. A worker that
    dies while running a task: Ray runs the task again, up to ``max_retries`` times (Ray's
    default for tasks, 3), then the run fails with ``WorkerCrashedError``; under
    ``@on_branch_error("skip")`` the unit is sent once more alone (Ray retrying it again),
    then its branch is skipped. Cancelling an
    ``execute`` cancels its tasks (``ray.cancel``, which interrupts a running one).
    """

    runs_branches = True

    def __init__(
        self,
        address: str | None = None,
        num_cpus: int | None = None,
        batch_size: int | None = None,
        *,
        max_tasks: int | None = None,
        max_retries: int = 3,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None, not {batch_size!r}")
        _ray()  # fail now, with the pip line, when Ray is missing
        self.address, self.num_cpus, self.batch_size = address, num_cpus, batch_size
        self._max_tasks = check_max_tasks(max_tasks)
        self.max_retries, self.connect_timeout = max_retries, connect_timeout
        self._cpus = 0
        self._started = False  # this executor called ray.init, so it shuts Ray down
        self._remote: Any = None
        self._starting: dict[asyncio.AbstractEventLoop, asyncio.Future[Any]] = {}
        self._stored: dict[asyncio.AbstractEventLoop, _cluster.Stored] = {}
        self._batchers: dict[asyncio.AbstractEventLoop, _batching.Batcher] = {}
        self._lock = threading.Lock()

    @property
    def max_tasks(self) -> int | None:
        """Branches in flight at most: as given, else 8 per core known so far (64 when auto)."""
        if self._max_tasks is not None:
            return self._max_tasks
        return _batching.in_flight(self, self._cpus or self.num_cpus or os.cpu_count() or 1)

    @max_tasks.setter
    def max_tasks(self, value: int | None) -> None:
        self._max_tasks = check_max_tasks(value)

    def __repr__(self) -> str:
        return f"RayExecutor({self.address or 'local'}, batch_size={self.batch_size!r})"

    async def start(self) -> None:
        """Start or connect to Ray now (``async with dr:``), not on the first task.

        Ray starts the worker processes that run tasks only when tasks come: an empty task
        per CPU (up to ``WARM_MOST``) starts them now, so the first request does not wait.
        """
        remote = await self._start()
        await asyncio.gather(*(remote.remote([], []) for _ in range(min(self._cpus, WARM_MOST))))

    async def _start(self) -> Any:
        ray = _ray()
        if self._remote is not None and ray.is_initialized():
            return self._remote
        loop = asyncio.get_running_loop()
        starting = self._starting.get(loop)
        if starting is None:
            starting = self._starting[loop] = asyncio.ensure_future(self._init(ray))
        try:
            return await asyncio.shield(starting)
        finally:
            if starting.done():
                self._starting.pop(loop, None)

    async def _init(self, ray: Any) -> Any:
        if not ray.is_initialized():
            if self.address not in (None, "auto", "local"):
                await self._probe(self.address)
            await asyncio.to_thread(self._init_in_thread, ray)
        self._cpus = int(ray.cluster_resources().get("CPU", 0))
        remote = ray.remote(max_retries=self.max_retries)(_run_payloads)
        self._remote = remote
        return remote

    def _init_in_thread(self, ray: Any) -> None:
        with self._lock:
            if not ray.is_initialized():  # another loop's thread may have started it
                options: dict[str, Any] = {}
                if self.address is None:  # a local Ray: its workers import what we import
                    path = os.pathsep.join(p for p in sys.path if p)
                    options["runtime_env"] = {"env_vars": {"PYTHONPATH": path}}
                ray.init(
                    address=self.address,
                    num_cpus=self.num_cpus,
                    include_dashboard=False,
                    **options,
                )
                self._started = True

    async def _probe(self, address: str) -> None:
        """Connect to ``address`` once, so that a wrong one fails fast (Ray would retry)."""
        parts = urlsplit(address if "://" in address else f"ray://{address}")
        host, port = parts.hostname or "localhost", parts.port or 6379
        seconds = self.connect_timeout
        try:
            async with asyncio.timeout(seconds):
                _, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as exc:
            raise _cluster.unreachable("Ray", address, seconds, exc) from exc
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

    async def submit(self, unit: Unit) -> Any:
        ray = _ray()
        await self._start()  # the cluster's size decides the task slots
        loop = asyncio.get_running_loop()
        batcher = self._batchers.get(loop)
        if batcher is None:
            slots = lambda: _batching.slots(self, self._cpus)  # noqa: E731
            batcher = _batching.Batcher(self._send, slots, _batching.most(self))
            self._batchers[loop] = batcher
        parts = _cluster.shared_parts(unit)
        payload = _cluster.dumps(unit, parts)
        try:
            answer = await batcher.run(unit, payload, parts)
        except (
            ray.exceptions.WorkerCrashedError,
            ray.exceptions.NodeDiedError,
            ray.exceptions.OutOfMemoryError,
        ) as exc:
            raise self._crashed(unit, exc) from exc
        return _cluster.outcome(answer, "a Ray worker")

    def _crashed(self, unit: Unit, exc: BaseException) -> WorkerCrashedError:
        """The error for ``unit`` whose task's worker died on each of Ray's tries."""
        tries = self.max_retries + 1
        return _cluster.crashed(
            unit,
            "a Ray worker",
            f"Ray ran its task {tries} time(s), and each time the worker died "
            f"(RayExecutor(max_retries={self.max_retries})). Ray said: {exc} A worker dies "
            "when it runs out of memory (Ray's memory monitor kills tasks) or crashes in "
            "native code. Raise max_retries to let Ray try again.",
        )

    async def _send(self, payloads: list[bytes], parts: tuple[object, ...], unit: Unit) -> Any:
        """One Ray task for ``payloads``; their answers."""
        ray = _ray()
        remote = await self._start()
        loop = asyncio.get_running_loop()
        stored = self._stored.get(loop)
        if stored is None:
            stored = self._stored[loop] = _cluster.Stored(lambda ref: None)

        async def put(part: object) -> Any:
            kept = _cluster.keep(unit, part)
            return kept.token, ray.put(kept)

        stores, entries = await stored.handles(parts, put)
        try:
            ref = remote.remote(payloads, stores)
            try:
                return await ref
            except asyncio.CancelledError:
                # A task about to finish is let finish: Ray (2.60) aborts the driver process
                # when a cancelled task's completion arrives just after the cancel ("Tried to
                # complete task that was not pending"). Only a task still running after a
                # short wait is cancelled, which makes that race unlikely.
                finished = asyncio.ensure_future(_settled(ref))
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait({finished}, timeout=FINISH_GRACE)
                if not finished.done():
                    ray.cancel(ref)
                    with contextlib.suppress(Exception, asyncio.CancelledError):
                        async with asyncio.timeout(CANCEL_GRACE):
                            await asyncio.shield(finished)
                raise
        finally:
            stored.done(entries)

    async def aclose(self) -> None:
        """Forget the stored parts; shut Ray down if this executor started it."""
        loop = asyncio.get_running_loop()
        batcher = self._batchers.pop(loop, None)
        if batcher is not None:
            await uninterrupted(batcher.aclose())
        stored = self._stored.pop(loop, None)
        if stored is not None:
            stored.clear()
        starting = self._starting.pop(loop, None)
        if starting is not None:
            with contextlib.suppress(BaseException):
                await uninterrupted(starting)
        if self._started and not self._stored:
            self._started, self._remote, self._cpus = False, None, 0
            await uninterrupted(asyncio.to_thread(_shutdown))


def _shutdown() -> None:
    """``ray.shutdown()``, after freeing the refs held in garbage cycles: one collected
    later, in any thread, would make Ray end the process."""
    gc.collect()
    _ray().shutdown()


def _run_payloads(payloads: list[bytes], stores: list[tuple[str, Any]]) -> list[bytes]:
    """The Ray task: ``_cluster.run_payloads`` with the stored parts fetched here, once per
    worker process.

    The parts' refs come nested in ``stores`` with their tokens, so Ray does not resolve
    them for every task (measured: two top-level ref arguments cost ~200 us a task); a part
    this worker process has loaded before is not fetched again.
    """
    ray = _ray()
    kept = [_cluster.loaded(token) or ray.get(ref) for token, ref in stores]
    return _cluster.run_payloads(payloads, *kept)


async def _settled(ref: Any) -> None:
    """Wait for ``ref``'s task to end, however it ends."""
    with contextlib.suppress(Exception):
        await ref
