"""The worker side of ``ProcessExecutor``: run units on the worker's loop, answer each.

A request is a frame holding ``(kind, id, keys, drops)`` followed by one raw frame per
shared part to install (``keys`` says under which key) and, for ``RUN`` and ``STREAM``, the
unit itself. Frames are an 8-byte length and a body. An answer is one frame: ``id``, a
status byte, and a body (a cloudpickled result or item, or an error from ``dumps_error``).

Units run as tasks on the worker's own event loop, so ``async def`` nodes of several units
overlap; the parent decides how many units a worker holds at once. A ``STREAM`` unit returns
an iterator over an expander's items: the worker steps it once per ``NEXT`` request, so the
generator runs only as fast as the parent takes its items, and ``CLOSE`` closes it.
Before each node it runs, the worker writes the node's name and branch into a small shared
memory marker, which the parent reads if the worker dies.
"""

from __future__ import annotations

import asyncio
import contextvars
import ctypes
import io
import logging
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from collections.abc import MutableMapping as Values
from typing import Any, cast

import cloudpickle

from ...errors import NodeTimeoutError
from ...graph.plan import GUARDED, Frame, Step
from ..chunks import BranchChunk, Shipment
from ..paths import Path, format_path
from ..policy import TimeoutThreads
from ..remote import BranchBatch
from ..scheduler import Run, run_branches
from ..sources import END
from . import _logs
from ._chunked import run_chunk
from ._marker import Marker
from ._pickling import dumps_error, dumps_value, explain_unpicklable, loads_unit
from ._wire import (
    ANSWER,
    CANCEL,
    CHUNK,
    CLOSE,
    DONE,
    ERROR,
    HEADER,
    ITEM,
    LAST,
    LOG,
    NEXT,
    OK,
    PARENT_PID,
    RUN,
    STARTED,
    STREAM,
    UNLOADED,
)
from .base import run_unit

__all__ = ["PARENT_PID", "current", "serve"]


_marker = Marker()


_RID: contextvars.ContextVar[int] = contextvars.ContextVar("asyncdag_worker_rid")
TIMED_OUT_EXIT = 70  # the exit code of a worker stopped by a node's @timeout
SHIPMENTS_KEPT = 8
SMALL_ANSWER = 1 << 16  # an answer's body this small goes out in the same write as its head


class _Watchdog:
    """A worker's stand-in for the run's timeout threads: a timed sync node runs on the
    worker's main thread, and if it is still running at its deadline, the worker answers
    its unit with ``NodeTimeoutError`` and exits, so the parent replaces it. Nothing is
    left running, and the node may call ``signal.signal``."""

    def __init__(self) -> None:
        self.timed: tuple[str, str, float] | None = None  # node, branch, seconds

    async def call(self, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        timed, self.timed = self.timed, None
        server = _current
        if timed is None or server is None:
            return fn(**kwargs)
        rid = _RID.get()
        timer = threading.Timer(timed[2], server.timed_out, (rid, *timed))
        timer.daemon = True
        timer.start()
        try:
            return fn(**kwargs)
        finally:
            timer.cancel()


class _MarkedRun(Run):
    """A worker's run of shipped branches: each node call is marked before it starts, and
    a timed sync node runs under the worker's watchdog."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__({})
        self.timeout_threads = cast(TimeoutThreads, _Watchdog())

    def call(self, step: Step, vals: Values[str, Any], path: Path) -> None:
        _marker.mark(step.node.name, format_path(path))
        super().call(step, vals, path)

    async def awaitable(self, step: Step, vals: Values[str, Any], path: Path) -> None:
        branch = format_path(path)
        _marker.mark(step.node.name, branch)
        node = step.node
        if step.mode == GUARDED and not node.is_async and node.policy and node.policy.timeout:
            watchdog = cast(_Watchdog, self.timeout_threads)
            watchdog.timed = (node.name, branch, node.policy.timeout)
        await super().awaitable(step, vals, path)


def serve() -> None:
    """Serve requests read from stdin until the parent closes it; answers go to stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent()
    read_fd, write_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # writes to the descriptors themselves go to stderr, not into the answers
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    global _current
    _current = server = _Server(read_fd, write_fd)
    _logs.capture(lambda body: server.answer(0, LOG, body), _marker.where)  # fd 1, fd 2 too
    level = int(os.environ.get(_logs.LOG_LEVEL, logging.WARNING))
    _logs.install(lambda body: server.answer(0, LOG, body), _marker.where, level)
    try:
        asyncio.run(server.serve())
    finally:
        _logs.close()


_current: _Server | None = None


def current() -> _Server | None:
    """The worker's server, in a worker process (for tests and diagnostics)."""
    return _current


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies, even busy in a node.

    Without it, a worker whose parent was killed (OOM killer, SIGKILL) would keep running,
    reparented to init. Elsewhere the worker still exits when its stdin closes.
    """
    if not sys.platform.startswith("linux"):
        return

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != os.environ.get(PARENT_PID, str(os.getppid())):
        os._exit(1)  # the parent died before the signal was armed


_Request = tuple[int, int, dict[int, bytes], tuple[bytes, ...], list[int]]


class _Server:
    """Requests in (read on a thread, so a busy loop still receives them), answers out."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd, self.write_fd = read_fd, write_fd
        self.write_lock = threading.Lock()
        self.kept: dict[int, object] = {}  # shared parts (branch frames, outer values) by key
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.streams: dict[int, Iterator[Any]] = {}
        self.shipments: dict[bytes, Shipment] = {}  # the latest block runs' chunks share

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        inbox: asyncio.Queue[_Request | None] = asyncio.Queue()
        reader = threading.Thread(target=self.read, args=(loop, inbox), daemon=True)
        reader.start()
        try:
            while (request := await inbox.get()) is not None:
                kind, rid, installs, payload, drops = request
                self.handle(kind, rid, installs, payload)
                self.drop(drops)  # after the units sent before it were loaded, in order
        finally:  # stdin closed: finish the units already sent, then exit
            await asyncio.gather(*self.tasks.values(), return_exceptions=True)
            for stream in self.streams.values():
                _close(stream)

    def read(
        self,
        loop: asyncio.AbstractEventLoop,
        inbox: asyncio.Queue[_Request | None],
    ) -> None:
        raw = io.FileIO(self.read_fd, "rb", closefd=False)
        requests = io.BufferedReader(raw, 1 << 16)  # a small request: one system call
        try:
            while True:
                kind, rid, keys, drops = pickle.loads(_read_frame(requests))
                installs = {key: _read_frame(requests) for key in keys}
                payload: tuple[bytes, ...] = ()
                if kind in (RUN, STREAM, CHUNK):
                    payload = (_read_frame(requests),)
                if kind == CHUNK:  # its items, apart
                    payload += (_read_frame(requests),)
                loop.call_soon_threadsafe(inbox.put_nowait, (kind, rid, installs, payload, drops))
        except EOFError:
            loop.call_soon_threadsafe(inbox.put_nowait, None)
        except RuntimeError:  # the loop closed: the worker is exiting anyway
            return

    def drop(self, keys: list[int]) -> None:
        for key in keys:
            self.kept.pop(key, None)

    def handle(
        self, kind: int, rid: int, installs: dict[int, bytes], payload: tuple[bytes, ...]
    ) -> None:
        if kind == NEXT:
            self.step(rid)
        elif kind == CLOSE:
            stream = self.streams.pop(rid, None)
            if stream is not None:
                _close(stream)
            self.answer(rid, DONE, b"")  # the last answer of a stream: it is closed
        elif kind == CANCEL:
            task = self.tasks.get(rid)
            if task is not None:
                task.cancel()
        else:
            try:
                for key, part in installs.items():
                    self.kept[key] = cloudpickle.loads(part)
                unit = self.chunk(payload) if kind == CHUNK else loads_unit(payload[0], self.kept)
            except BaseException as exc:
                for key in installs:
                    self.kept.pop(key, None)
                self.answer(rid, UNLOADED, dumps_error(exc, _traceback_text(exc)))
                return
            if kind == STREAM:
                self.start_stream(rid, unit)
            else:
                task = asyncio.get_running_loop().create_task(self.run(rid, unit))
                self.tasks[rid] = task

    def chunk(self, payload: tuple[bytes, ...]) -> BranchChunk:
        """A ``BranchChunk`` from its block run's ``Shipment`` (unpickled once) and its
        ``(frame key, outer key, start, items)``."""
        shipment = self.shipments.get(payload[0])
        if shipment is None:
            shipment = cloudpickle.loads(payload[0])
            while len(self.shipments) >= SHIPMENTS_KEPT:
                del self.shipments[next(iter(self.shipments))]
            self.shipments[payload[0]] = shipment
        frame, outer, start, items = pickle.loads(payload[1])
        kept = self.kept
        values = cast(Values[str, Any], kept[outer]) if outer >= 0 else {}
        return BranchChunk(shipment, cast(Frame, kept[frame]), values, start, items)

    def timed_out(self, rid: int, node: str, branch: str, seconds: float) -> None:
        """A node ran past its ``@timeout`` (called on the watchdog's thread): answer, exit."""
        error = NodeTimeoutError(node, branch, seconds)
        error.add_note(f"asyncdag: raised by node {node!r} in branch {branch}")
        error.add_note("asyncdag: the worker process running it was stopped and replaced")
        self.answer(rid, LAST, dumps_error(error, ""))
        os._exit(TIMED_OUT_EXIT)

    async def run(self, rid: int, unit: Any) -> None:
        _RID.set(rid)
        result: Any
        try:
            if isinstance(unit, BranchChunk):
                _marker.mark_chunk(rid, unit)
                try:
                    result = await run_chunk(unit, _marker.at, _MarkedRun())
                finally:
                    _marker.end_chunk()
            elif isinstance(unit, BranchBatch):
                _marker.mark(unit.node, unit.branch)
                work = run_branches(
                    unit.frame, unit.node, unit.outer, unit.items, unit.produces, unit.path,
                    unit.skip, _MarkedRun(),
                )  # fmt: skip
                result = await work
            else:
                _marker.mark(unit.node, unit.branch)
                result = await run_unit(unit)
        except BaseException as exc:  # every kind, SystemExit included: the node's to report
            self.answer(rid, ERROR, dumps_error(exc, _traceback_text(exc)))
            return
        finally:
            self.tasks.pop(rid, None)
        self.answer_value(rid, OK, unit, result)

    def start_stream(self, rid: int, unit: Any) -> None:
        try:
            _marker.mark(unit.node, unit.branch)
            self.streams[rid] = unit()
        except BaseException as exc:
            self.answer(rid, ERROR, dumps_error(exc, _traceback_text(exc)))
            return
        self.answer(rid, STARTED, b"")
        self.step(rid)

    def step(self, rid: int) -> None:
        stream = self.streams.get(rid)
        if stream is None:
            return
        try:
            item = next(stream, END)
        except BaseException as exc:
            del self.streams[rid]
            self.answer(rid, ERROR, dumps_error(exc, _traceback_text(exc)))
            return
        if item is END:
            del self.streams[rid]
            self.answer(rid, DONE, b"")
        else:
            self.answer_value(rid, ITEM, None, item)

    def answer_value(self, rid: int, status: int, unit: Any, value: Any) -> None:
        try:
            body = dumps_value(value)
        except Exception as exc:
            parts = unit.result_parts(value) if unit is not None else ()
            node = unit.node if unit is not None else "?"
            self.answer(rid, ERROR, dumps_error(explain_unpicklable(parts, node, exc), ""))
            return
        self.answer(rid, status, body)

    def answer(self, rid: int, status: int, body: bytes) -> None:
        if status != LOG:
            _logs.drain()  # what the unit wrote arrives before its answer
        head = HEADER.pack(ANSWER.size + len(body)) + ANSWER.pack(rid, status)
        with self.write_lock:
            if len(body) < SMALL_ANSWER:  # one system call
                _write(self.write_fd, head + body)
            else:  # never copied
                _write(self.write_fd, head)
                _write(self.write_fd, body)


def _close(stream: Iterator[Any]) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        try:
            close()
        except Exception:  # a generator failing while it closes: nobody is left to tell
            traceback.print_exc()


def _traceback_text(exc: BaseException) -> str:
    """The traceback, without the notes: they travel with the exception itself."""
    notes = exc.__dict__.pop("__notes__", None)
    try:
        return "".join(traceback.format_exception(exc))
    finally:
        if notes is not None:
            exc.__notes__ = notes


def _read_frame(requests: io.BufferedIOBase) -> bytes:
    head = requests.read(HEADER.size)
    if len(head) < HEADER.size:
        raise EOFError
    (size,) = HEADER.unpack(head)
    body = requests.read(size)  # reads until it has them all, or the end
    if len(body) < size:
        raise EOFError
    return body


def _write(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
