"""The worker side of ``ProcessExecutor``: read a unit, run it, send back the outcome.

Frames are an 8-byte length and a body. A reply body starts with ``OK`` (the cloudpickled
result) or ``ERROR`` (the cloudpickled ``(exception, traceback text)``).
"""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import struct
import sys
import traceback
from collections.abc import Awaitable
from typing import Any

import cloudpickle

from ._pickling import explain_unpicklable, loads_unit
from .base import run_unit

HEADER = struct.Struct("!Q")
OK, ERROR = b"\x00", b"\x01"
PARENT_PID = "ASYNCDAG_PARENT_PID"  # environment variable: the pid the worker must not outlive


def serve() -> None:
    """Run units read from stdin until the parent closes it; answers go to the old stdout."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent()
    read_fd, write_fd = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # the user's prints go to stderr, not into the answers
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)
    loop = asyncio.new_event_loop()  # one loop for the worker's life: async nodes run on it
    asyncio.set_event_loop(loop)
    kept: dict[int, object] = {}  # shared parts of units (branch frames), by key
    try:
        while True:
            try:
                installs, payload = pickle.loads(_read_frame(read_fd))
            except EOFError:
                return
            _write_frame(write_fd, _run(loop, payload, installs, kept))
    finally:
        loop.close()


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this worker when its parent dies, even busy in a node.

    Without it, a worker whose parent was killed (OOM killer, SIGKILL) would keep running,
    reparented to init. Elsewhere the worker still exits when its stdin closes, between units.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if str(os.getppid()) != os.environ.get(PARENT_PID, str(os.getppid())):
        os._exit(1)  # the parent died before the signal was armed


def _run(
    loop: asyncio.AbstractEventLoop,
    payload: bytes,
    installs: dict[int, bytes],
    kept: dict[int, object],
) -> bytes:
    try:
        for key, part in installs.items():
            kept[key] = cloudpickle.loads(part)
        unit = loads_unit(payload, kept)
        # The outcome comes back as a value: a SystemExit out of a task would end the loop.
        result, error = loop.run_until_complete(_outcome(run_unit(unit)))
        if error is not None:
            raise error
    except BaseException as exc:
        return _error(exc, _traceback_text(exc))
    try:
        body: bytes = cloudpickle.dumps(result)
    except Exception as exc:
        return _error(explain_unpicklable(unit.result_parts(result), unit.node, exc), "")
    return OK + body


async def _outcome(work: Awaitable[Any]) -> tuple[Any, BaseException | None]:
    try:
        return await work, None
    except BaseException as exc:  # every kind, SystemExit included: it is the node's to report
        return None, exc


def _traceback_text(exc: BaseException) -> str:
    """The traceback, without the notes: they travel with the exception itself."""
    notes = exc.__dict__.pop("__notes__", None)
    try:
        return "".join(traceback.format_exception(exc))
    finally:
        if notes is not None:
            exc.__notes__ = notes


def _error(exc: BaseException, text: str) -> bytes:
    try:
        body: bytes = cloudpickle.dumps((exc, text))
    except Exception:  # the exception itself cannot travel: send its description
        stand_in = RuntimeError(f"{type(exc).__qualname__}: {exc}")
        for note in getattr(exc, "__notes__", ()):
            stand_in.add_note(note)
        stand_in.add_note("asyncdag: the original exception could not be pickled")
        body = cloudpickle.dumps((stand_in, text))
    return ERROR + body


def _read_exactly(fd: int, size: int) -> bytes:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _read_frame(fd: int) -> bytes:
    (size,) = HEADER.unpack(_read_exactly(fd, HEADER.size))
    return _read_exactly(fd, size)


def _write_frame(fd: int, body: bytes) -> None:
    view = memoryview(HEADER.pack(len(body)) + body)
    while view:
        view = view[os.write(fd, view) :]
