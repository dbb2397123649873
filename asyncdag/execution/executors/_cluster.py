"""What Dask and Ray executors share: a unit as bytes, its shared parts stored once, the outcome.

A unit travels as cloudpickled bytes in which its shared parts (a block's branch frame, the
values its branches read from outside the block) are written as keys; a chunk of branches
(``execution.chunks``, fixed batch sizes) as its block run's ``Shipment`` (pickled once per
block run), its start and its plain list of items. Each shared part is
stored on the cluster once (``client.scatter``, ``ray.put``) as a ``Kept`` wrapper around its
cloudpickled bytes, and a task receives the stored parts beside the payload. The task answers
with bytes too (``OK`` + result, or ``ERROR`` + exception and traceback text), so a user's
exception crosses back as itself, whatever the cluster does with exceptions, and a
``SystemExit`` from a node never ends a cluster worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import pickle
import threading
import traceback
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import cloudpickle

from ...errors import ExecutorError, WorkerCrashedError
from ..chunks import BranchChunk
from ..scheduler import Run
from . import _interrupts
from ._chunked import Counter, run_chunk, sync_columns
from ._pickling import (
    PickledOnce,
    dumps_error,
    dumps_items,
    dumps_unit,
    dumps_value,
    explain_unpicklable,
    loads_error,
    loads_unit,
    ship_modules_by_value,
)
from .base import Unit, run_unit

# Shared parts loaded in this (cluster worker) process, by token: the newest few, so that a
# Ray task, which receives a fresh copy of each stored argument, loads a frame once per
# worker process rather than once per task.
_LOADED: dict[str, object] = {}
_LOADED_MOST = 64
_LOADING = threading.Lock()
_LOOPS = threading.local()  # one event loop per worker thread, for branches with async nodes
OK, ERROR = b"\x00", b"\x01"  # an answer: a status byte, then the result or the error
_SHIPMENTS = PickledOnce()  # the latest block runs' common parts, pickled once each
UNIT, CHUNK = b"u", b"c"  # a payload: its kind, then the unit or the chunk's start and items


class Kept:
    """A shared part as cloudpickled bytes; ``value`` loads it once per process."""

    __slots__ = ("pickled", "token")

    def __init__(self, pickled: bytes) -> None:
        self.pickled, self.token = pickled, uuid.uuid4().hex

    def __getstate__(self) -> tuple[bytes, str]:
        return self.pickled, self.token

    def __setstate__(self, state: tuple[bytes, str]) -> None:
        self.pickled, self.token = state

    @property
    def value(self) -> object:
        with _LOADING:
            found = _LOADED.get(self.token, _LOADING)
        if found is not _LOADING:
            return found
        loaded: object = cloudpickle.loads(self.pickled)
        with _LOADING:
            while len(_LOADED) >= _LOADED_MOST:
                del _LOADED[next(iter(_LOADED))]
            _LOADED[self.token] = loaded
        return loaded


class Loaded:
    """A shared part already loaded in this process: ``Kept``'s stand-in, not fetched again."""

    __slots__ = ("value",)

    def __init__(self, value: object) -> None:
        self.value = value


def loaded(token: str) -> Loaded | None:
    """The part of ``token`` if this process has loaded it (and keeps it), else None."""
    with _LOADING:
        found = _LOADED.get(token, _LOADING)
    return None if found is _LOADING else Loaded(found)


def shared_parts(unit: Unit) -> tuple[object, ...]:
    """The parts of ``unit`` stored once on the cluster: its frame and its outer values."""
    outer = getattr(unit, "outer", None)
    return (*unit.shared(), *(() if outer is None else (outer,)))


def keep(unit: Unit, part: object) -> Kept:
    """``part`` pickled for storing on the cluster, or the error naming what cannot be pickled."""
    ship_modules_by_value()
    try:
        return Kept(cloudpickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:
        raise explain_unpicklable(unit.parts(), unit.node, exc) from exc


def dumps(unit: Unit, parts: tuple[object, ...]) -> bytes:
    """``unit`` as a payload, each of ``parts`` written as its position among them; a chunk
    as its pickled ``Shipment``, its start and its items, plainly pickled."""
    if isinstance(unit, BranchChunk):
        try:
            shipment = _SHIPMENTS.dumps(unit.of)
        except Exception as exc:
            raise explain_unpicklable(unit.parts(), unit.node, exc) from exc
        return CHUNK + dumps_items(unit, (shipment, unit.start))
    return UNIT + dumps_unit(unit, {id(part): (at, b"") for at, part in enumerate(parts)})


def run_payloads(
    payloads: list[bytes], *kept: Kept | Loaded, stop_token: str | None = None
) -> list[bytes]:
    """The cluster task: run each unit of ``payloads`` with the stored parts; their outcomes.

    Each unit runs to its own outcome, so a failure is attributed to exactly its unit.
    With ``stop_token``, ``_interrupts.interrupt([stop_token])`` stops the task.
    """
    with _interrupts.registered(stop_token) as running:
        parts = [part.value for part in kept]
        answers = []
        for payload in payloads:
            if running.stopped:  # cancelled: the units left never start
                raise _interrupts.Interrupted
            answers.append(_answer(payload, parts, running))
        return answers


def _answer(payload: bytes, parts: list[Any], running: _interrupts.Running) -> bytes:
    """Run one payload's unit (or chunk); its outcome as bytes (every exception is the
    unit's to report)."""
    unit: Any = None
    try:
        if payload[:1] == CHUNK:
            shipment, start, items = pickle.loads(payload[1:])
            frame, outer = (*parts, {})[:2]  # as ``shared_parts`` gave them
            unit = BranchChunk(pickle.loads(shipment), frame, outer, start, items)
            if unit.frame.sync_only:  # plain calls in one loop, in this thread: no event loop
                try:
                    result, error = sync_columns(unit, Counter(), Run({})), None
                except BaseException as exc:
                    result, error = None, exc
            else:
                result, error = _on_loop(_outcome(run_chunk(unit, Counter(), Run({}))), running)
        else:
            unit = loads_unit(payload[1:], dict(enumerate(parts)))
            result, error = _on_loop(_outcome(run_unit(unit)), running)
    except BaseException as exc:  # the unit did not load, or the loop was interrupted
        return ERROR + dumps_error(exc, _traceback_text(exc))
    if error is not None:
        return ERROR + dumps_error(error, _traceback_text(error))
    try:
        body = dumps_value(result)
    except Exception as exc:
        return ERROR + dumps_error(
            explain_unpicklable(unit.result_parts(result), unit.node, exc), ""
        )
    return OK + body


def _on_loop(
    work: Coroutine[Any, Any, tuple[Any, BaseException | None]], running: _interrupts.Running
) -> tuple[Any, BaseException | None]:
    """Run ``work`` on this thread's event loop, as the task ``running`` may cancel."""
    loop = _thread_loop()
    task = loop.create_task(work)
    running.running(loop, task)
    try:
        return loop.run_until_complete(task)
    except BaseException:
        # Interrupted in the loop's own code, or by a KeyboardInterrupt (Ray's cancel):
        # tasks left pending on the loop must never resume under a later unit.
        if asyncio.all_tasks(loop):
            _LOOPS.loop = None
            with contextlib.suppress(RuntimeError):  # still marked running
                loop.close()
        raise
    finally:
        running.running(None, None)


async def _outcome(work: Awaitable[Any]) -> tuple[Any, BaseException | None]:
    try:
        return await work, None
    except BaseException as exc:  # SystemExit included: out of a task it would end the loop
        return None, exc


def _traceback_text(exc: BaseException) -> str:
    """The traceback, without the notes: they travel with the exception itself."""
    notes = exc.__dict__.pop("__notes__", None)
    try:
        return "".join(traceback.format_exception(exc))
    finally:
        if notes is not None:
            exc.__notes__ = notes


def _thread_loop() -> asyncio.AbstractEventLoop:
    """This worker thread's event loop, for branches with async nodes."""
    loop: asyncio.AbstractEventLoop | None = getattr(_LOOPS, "loop", None)
    # A loop left marked running (Ray's cancel interrupts a task anywhere, even inside the
    # loop's own bookkeeping) cannot run again: the task gets a fresh one.
    if loop is None or loop.is_closed() or loop.is_running():
        loop = _LOOPS.loop = asyncio.new_event_loop()
    return loop


def outcome(answer: bytes, where: str) -> Any:
    """The result in ``answer``, or raise the unit's exception with the remote traceback noted."""
    status, body = answer[:1], answer[1:]
    if status == OK:
        return cloudpickle.loads(body)
    error, remote_traceback = loads_error(body)
    if remote_traceback:
        error.add_note(f"asyncdag: traceback in {where}:\n{remote_traceback}")
    raise error


def unreachable(backend: str, address: str, seconds: float, exc: BaseException) -> ExecutorError:
    """The error for a cluster address that did not answer in time."""
    return ExecutorError(
        f"could not reach the {backend} cluster at {address!r} within {seconds:g} s "
        f"({type(exc).__name__}: {exc}). Check that the scheduler is running and that the "
        "address (host and port) is right and reachable from this machine."
    )


def crashed(unit: Unit, worker: str, cluster: str) -> WorkerCrashedError:
    """The error for ``unit`` whose cluster task lost its worker ``worker``.

    The parent cannot read a dead cluster worker's memory, so the node named is the
    branch's first; when the branch has more, the message says which could have been
    running. ``cluster`` says what the cluster did and what to do.
    """
    nodes = list(dict.fromkeys(node for node, what, _ in unit.parts() if what == "the function"))
    node = nodes[0] if nodes else unit.node
    if len(nodes) > 1:
        names = ", ".join(repr(name) for name in nodes)
        cluster = (
            f"(On a cluster the parent cannot see which of the branch's nodes {names} was "
            f"running; {node!r} is its first.) {cluster}"
        )
    return WorkerCrashedError(node, unit.branch, None, worker, cluster)


def where_of(unit: Unit) -> str:
    """``node 'x' in branch url[3]`` for messages."""
    return f"node {unit.node!r}" + (f" in branch {unit.branch}" if unit.branch else "")


class _Entry:
    """One stored part: the part, the future of its stored handle, the units using it."""

    __slots__ = ("handle", "part", "users")

    def __init__(self, part: object, handle: asyncio.Future[Any]) -> None:
        self.part, self.handle, self.users = part, handle, 0

    def stored(self) -> Any | None:
        future = self.handle
        if future.done() and not future.cancelled() and future.exception() is None:
            return future.result()
        return None


class Stored:
    """Shared parts stored on a cluster, by id of the part, kept while units use them.

    A part stays stored while a unit that carries it is in flight, and afterwards among the
    newest ``kept`` idle parts, so the branches of one execution store their frame and
    outer values once. ``drop`` releases a stored handle on the cluster.
    """

    def __init__(self, drop: Callable[[Any], None], kept: int = 8) -> None:
        self._drop, self._kept = drop, kept
        self._entries: dict[int, _Entry] = {}

    async def handles(
        self, parts: tuple[object, ...], store: Callable[[object], Awaitable[Any]]
    ) -> tuple[list[Any], list[_Entry]]:
        """The stored handle of each part, storing those not stored yet (once, however many
        units ask at the same time), and the entries to pass to ``done`` afterwards."""
        entries = []
        for part in parts:
            entry = self._entries.get(id(part))
            if entry is None or entry.part is not part:
                entry = _Entry(part, asyncio.ensure_future(store(part)))
                self._entries[id(part)] = entry
            entry.users += 1
            entries.append(entry)
        try:
            return [await asyncio.shield(e.handle) for e in entries], entries
        except BaseException:
            self.done(entries)
            raise

    def done(self, entries: list[_Entry], *, lost: bool = False) -> None:
        """The unit that used ``entries`` has finished; ``lost``: their stored copies are gone."""
        for entry in entries:
            entry.users -= 1
            failed = entry.handle.done() and entry.stored() is None
            if (lost or failed) and self._entries.get(id(entry.part)) is entry:
                del self._entries[id(entry.part)]  # the next unit stores it again
                handle = entry.stored()
                if handle is not None:
                    self._drop(handle)
        idle = [key for key, entry in self._entries.items() if entry.users <= 0]
        for key in idle[: max(0, len(idle) - self._kept)]:
            handle = self._entries.pop(key).stored()
            if handle is not None:
                self._drop(handle)

    def clear(self) -> list[Any]:
        """Forget every part; the handles stored, for releasing them."""
        entries, self._entries = list(self._entries.values()), {}
        for entry in entries:
            entry.handle.cancel()  # still storing: nobody waits for it any more
        return [h for h in (e.stored() for e in entries) if h is not None]
