"""Run whole branches on a Dask cluster, through ``distributed.Client(asynchronous=True)``.

Everything happens on the running event loop: futures are awaited, never polled from a
thread. A batch of branches is one Dask task; the block's branch frame and the values its
branches read from outside the block are scattered once and passed to every task.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import uuid
from typing import TYPE_CHECKING, Any

from ...errors import ExecutorError, WorkerCrashedError
from . import _batching, _cluster, _interrupts
from .base import Executor, Unit, check_max_tasks, uninterrupted

if TYPE_CHECKING:
    from distributed import Client

CONNECT_TIMEOUT = 10.0  # seconds to reach a scheduler before giving up with ExecutorError
CANCEL_GRACE = 5.0  # seconds to wait for the scheduler to confirm a cancellation


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ExecutorError(
            "DaskExecutor needs Dask's distributed package: pip install 'asyncdag[dask]'"
        ) from exc
    return distributed


class DaskExecutor(_batching.Chunked, Executor):
    """Run a block's branches (in batches) as Dask tasks on a cluster.

    With ``client`` (an asynchronous ``distributed.Client`` of this event loop), tasks go to
    it and it is left open. With ``address``, a client connects to that scheduler on first
    use (an ``ExecutorError`` naming it after ``connect_timeout`` seconds) and ``aclose()``
    closes it. With neither, a ``LocalCluster`` of processes (one single-threaded worker per
    core) starts on first use and ``aclose()`` stops it.

    ``max_tasks`` bounds the branches in flight (default: 8 per worker thread, 64 with
    automatic batches). ``batch_size`` items travel in one task; ``None`` sends an item at
    once while fewer than 2 tasks per worker thread are in flight and gathers the items that
    come while all are busy into the next task (the first item always goes alone). A fixed
    ``batch_size`` sends a block's branches as chunks, one plain list of items per task, and
    ``max_tasks`` then counts tasks.
    A worker that dies while running a task: Dask runs the task again on another worker,
    up to its ``distributed.scheduler.allowed-failures`` setting (3 by default), then the
    run fails with ``WorkerCrashedError``. Under ``@on_branch_error("skip")``, a unit whose
    task failed so (with the whole batch, or queued on the dying worker) is sent once more
    alone, one at a time, and its branch is skipped only if that fails too. Cancelling an
    ``execute`` cancels its Dask futures and stops its tasks already running on a worker
    thread (see ``_interrupts`` for how, and what cannot be stopped).
    """

    runs_branches = True

    def __init__(
        self,
        client: Client | None = None,
        address: str | None = None,
        batch_size: int | None = None,
        *,
        max_tasks: int | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        if client is not None and address is not None:
            raise ValueError("give DaskExecutor a client or an address, not both")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None, not {batch_size!r}")
        _distributed()  # fail now, with the pip line, when Dask is missing
        self.client, self.address, self.batch_size = client, address, batch_size
        self._max_tasks = check_max_tasks(max_tasks)
        self.connect_timeout = connect_timeout
        self._sessions: dict[asyncio.AbstractEventLoop, _Session] = {}
        self._lock = threading.Lock()

    @property
    def max_tasks(self) -> int | None:
        """Branches in flight at most: as given, else 8 per core known so far (64 when auto)."""
        if self._max_tasks is not None:
            return self._max_tasks
        threads = max((s.threads for s in list(self._sessions.values())), default=0)
        return _batching.in_flight(self, threads or os.cpu_count() or 1)

    @max_tasks.setter
    def max_tasks(self, value: int | None) -> None:
        self._max_tasks = check_max_tasks(value)

    def __repr__(self) -> str:
        where = self.address or ("a given client" if self.client else "a local cluster")
        return f"DaskExecutor({where}, batch_size={self.batch_size!r})"

    async def submit(self, unit: Unit) -> Any:
        return await self._session().run(unit)

    async def start(self) -> None:
        """Connect now (``async with dr:``), starting the local cluster if there is one."""
        await self._session()._client()

    def _session(self) -> _Session:
        loop = asyncio.get_running_loop()
        with self._lock:
            session = self._sessions.get(loop)
            if session is None:
                session = self._sessions[loop] = _Session(self)
        return session

    async def aclose(self) -> None:
        """Close what this executor started on this loop: its client, its local cluster."""
        with self._lock:
            session = self._sessions.pop(asyncio.get_running_loop(), None)
        if session is not None:
            await uninterrupted(session.aclose())


class _Session:
    """The executor on one event loop: a client (and maybe a cluster), the scattered parts."""

    def __init__(self, executor: DaskExecutor) -> None:
        self.executor = executor
        # Dask's classes are typed loosely: the client and cluster are held as Any.
        self.client: Any = executor.client
        self.cluster: Any = None
        self.threads = 0
        self._starting: asyncio.Future[Any] | None = None
        self._stored = _cluster.Stored(lambda future: future.release())
        self._batcher = _batching.Batcher(self._send, self._slots, _batching.most(executor))
        self._stopping: list[str] = []  # tokens of cancelled tasks, for the next interrupt
        self._stopper: asyncio.Future[None] | None = None

    def _slots(self) -> int:
        return _batching.slots(self.executor, self.threads)

    async def _connect(self) -> Any:
        distributed = _distributed()
        executor = self.executor
        # A client's handshake reports this machine's versions, which Dask gathers with
        # blocking calls (a subprocess for the processor name) on first use: do it off the loop.
        await asyncio.to_thread(distributed.versions.get_versions)
        if executor.address is not None:
            seconds = executor.connect_timeout
            client = distributed.Client(executor.address, asynchronous=True, timeout=seconds)
            try:
                async with asyncio.timeout(seconds):
                    await client
            except BaseException as exc:
                with contextlib.suppress(Exception):
                    await client.close()
                if isinstance(exc, OSError | TimeoutError):
                    raise _cluster.unreachable("Dask", executor.address, seconds, exc) from exc
                raise
            return client
        cores = os.cpu_count() or 1
        # Started from a thread, the cluster's scheduler runs on Dask's own loop thread
        # (its blocking reads of /proc stay off the app's loop); our client talks to it.
        self.cluster = await asyncio.to_thread(
            distributed.LocalCluster,
            n_workers=cores,
            threads_per_worker=1,
            processes=True,
            dashboard_address=":0",  # any free port: never clash with another cluster
        )
        client = await distributed.Client(self.cluster.scheduler_address, asynchronous=True)
        return client

    async def _client(self) -> Any:
        if self.client is not None:
            return self.client
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._connect())
        try:
            client = await asyncio.shield(self._starting)
        except BaseException:
            if self._starting.done():
                self._starting = None  # failed: the next unit tries again
            raise
        self.client = client
        self.threads = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        return client

    async def run(self, unit: Unit) -> Any:
        await self._client()  # the cluster's size decides the task slots
        parts = _cluster.shared_parts(unit)
        payload = _cluster.dumps(unit, parts)
        distributed = _distributed()
        try:
            answer = await self._batcher.run(unit, payload, parts)
        except distributed.KilledWorker as exc:
            raise _killed(unit, exc) from exc
        except distributed.client.FutureCancelledError as exc:
            # Cancelled not by us: the workers holding its scattered parts died, twice.
            raise _cluster.crashed(
                unit,
                "a Dask worker holding its scattered inputs",
                "Those inputs were scattered again and the task sent once more, and again the "
                "workers holding them died. Workers die when they run out of memory (see "
                "their memory limit) or crash in native code: look in the workers' logs.",
            ) from exc
        return _cluster.outcome(answer, "a Dask worker")

    async def _send(self, payloads: list[bytes], parts: tuple[object, ...], unit: Unit) -> Any:
        """One Dask task for ``payloads``; their answers."""
        client = await self._client()
        distributed = _distributed()

        async def scatter(part: object) -> Any:
            # On every worker: a worker that dies takes its copy with it, not the run's.
            return await client.scatter(_cluster.keep(unit, part), hash=False, broadcast=True)

        for attempt in (1, 2):
            handles, entries = await self._stored.handles(parts, scatter)
            lost = False
            try:
                token = uuid.uuid4().hex
                future = client.submit(
                    _cluster.run_payloads, payloads, *handles, pure=False, stop_token=token
                )
                try:
                    return await future
                except asyncio.CancelledError:
                    with contextlib.suppress(Exception):
                        async with asyncio.timeout(CANCEL_GRACE):
                            await self._interrupt(client, token)
                            await client.cancel([future])
                    raise
                except distributed.client.FutureCancelledError:
                    # Not by us: the workers holding its scattered parts died. Scatter them
                    # again and run it once more; a second loss is a crash.
                    lost = True
                    if attempt == 2:
                        raise
            finally:
                self._stored.done(entries, lost=lost)
        raise AssertionError("unreachable")

    async def _interrupt(self, client: Any, token: str) -> None:
        """Stop the task of ``token`` if a worker runs it; the tasks cancelled in the same
        moment (an execution's) are stopped with one message to every worker."""
        self._stopping.append(token)
        if self._stopper is None or self._stopper.done():
            self._stopper = asyncio.ensure_future(self._interrupt_soon(client))
        await asyncio.shield(self._stopper)

    async def _interrupt_soon(self, client: Any) -> None:
        await asyncio.sleep(0)  # the other tasks cancelled with this one join in
        tokens, self._stopping = self._stopping, []
        await client.run(_interrupts.interrupt, tokens, on_error="ignore")

    async def aclose(self) -> None:
        await self._batcher.aclose()
        if self._stopper is not None:
            with contextlib.suppress(BaseException):
                await uninterrupted(self._stopper)
        for future in self._stored.clear():
            future.release()
        starting, self._starting = self._starting, None
        if starting is not None and self.client is None:
            with contextlib.suppress(BaseException):
                self.client = await starting
        client, cluster = self.client, self.cluster
        self.client = self.cluster = None
        if client is not None and client is not self.executor.client:
            await client.close()
        if cluster is not None:
            await asyncio.to_thread(cluster.close)


def _killed(unit: Unit, exc: BaseException) -> WorkerCrashedError:
    """The error for ``unit`` whose task Dask gave up on (``KilledWorker``)."""
    worker = getattr(getattr(exc, "last_worker", None), "address", None)
    allowed = getattr(exc, "allowed_failures", None)
    tried = "" if allowed is None else f" on {allowed + 1} worker(s)"
    setting = "" if allowed is None else f", now {allowed}"
    return _cluster.crashed(
        unit,
        f"Dask worker {worker}" if worker else "a Dask worker",
        f"Dask ran its task{tried}, and each worker died while running it "
        f"(distributed.scheduler.allowed-failures{setting}). A worker dies when it runs out "
        "of memory (see its memory limit) or crashes in native code: look in that worker's "
        "log. Raise allowed-failures to let Dask try more workers.",
    )
