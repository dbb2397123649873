"""Worker logging and output, re-emitted in the parent: a record logged by a node in a worker
is handled there by ``Forwarding``, sent to the parent as an answer with the ``LOG`` status,
and handled again in the parent on the logger of the same name, with ``node`` and ``branch``
set. What a node writes to ``sys.stdout`` or ``sys.stderr`` goes the same way, a line at a
time (``Output``), and is written to the parent's stream of the same name."""

from __future__ import annotations

import io
import logging
import os
import pickle
import sys
import threading
from collections.abc import Callable
from typing import Any

_FORMAT = logging.Formatter()
LOG_LEVEL = "ASYNCDAG_LOG_LEVEL"  # environment variable: the lowest level the parent handles


def lowest_level() -> int:
    """The lowest level any logger of this process lets through (what a worker forwards)."""
    levels = [logging.getLogger().getEffectiveLevel()]
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger) and logger.level:
            levels.append(logger.level)
    return min(levels)


class Forwarding(logging.Handler):
    """A worker's root handler: each record goes to the parent, tagged with the running node."""

    def __init__(self, send: Callable[[bytes], None], where: Callable[[], tuple[str, str]]) -> None:
        super().__init__()
        self.send, self.where = send, where

    def emit(self, record: logging.LogRecord) -> None:
        try:
            node, branch = self.where()
            fields: dict[str, Any] = {
                "name": record.name,
                "levelno": record.levelno,
                "levelname": record.levelname,
                "msg": record.getMessage(),
                "args": None,
                "pathname": record.pathname,
                "filename": record.filename,
                "module": record.module,
                "lineno": record.lineno,
                "funcName": record.funcName,
                "created": record.created,
                "msecs": record.msecs,
                "process": record.process,
                "processName": "asyncdag-worker",
                "thread": record.thread,
                "threadName": record.threadName,
                "exc_text": _FORMAT.formatException(record.exc_info) if record.exc_info else None,
                "stack_info": record.stack_info,
                "node": node,
                "branch": branch,
            }
            self.send(pickle.dumps(fields))
        except Exception:
            self.handleError(record)


def install(
    send: Callable[[bytes], None], where: Callable[[], tuple[str, str]], level: int
) -> None:
    """In a worker: forward every record at ``level`` or above to the parent."""
    root = logging.getLogger()
    root.handlers[:] = [Forwarding(send, where)]
    root.setLevel(level)


def reemit(body: bytes) -> None:
    """In the parent: handle a worker's record on the logger of the same name, or write its
    output to the parent's stream of the same name."""
    fields = pickle.loads(body)
    if "stream" in fields:
        stream = sys.stdout if fields["stream"] == "stdout" else sys.stderr
        if stream is not None:
            stream.write(fields["text"])
            stream.flush()
        return
    logger = logging.getLogger(fields["name"])
    if logger.isEnabledFor(fields["levelno"]):
        logger.handle(logging.makeLogRecord(fields))


class Output(io.TextIOBase):
    """A worker's ``sys.stdout`` or ``sys.stderr``: whole lines go to the parent as they are
    written, the rest when flushed (and before each answer, see ``flush_all``)."""

    def __init__(self, name: str, send: Callable[[bytes], None], fallback: int) -> None:
        super().__init__()
        self.name, self.send, self.fallback = name, send, fallback
        self.pending = ""
        self.lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.fallback  # for code that writes to the descriptor itself

    def write(self, text: str) -> int:
        with self.lock:
            self.pending += text
            cut = self.pending.rfind("\n") + 1
            ready, self.pending = self.pending[:cut], self.pending[cut:]
        self._send(ready)
        return len(text)

    def flush(self) -> None:
        with self.lock:
            ready, self.pending = self.pending, ""
        self._send(ready)

    def _send(self, text: str) -> None:
        if not text:
            return
        try:
            self.send(pickle.dumps({"stream": self.name, "text": text}))
        except Exception:  # no parent to send to (the pipe closed): keep it on the worker's fd
            os.write(self.fallback, text.encode(errors="replace"))


_outputs: list[Output] = []


def capture(send: Callable[[bytes], None], fallback: int) -> None:
    """In a worker: send what is written to ``sys.stdout`` and ``sys.stderr`` to the parent."""
    sys.stdout = Output("stdout", send, fallback)
    sys.stderr = Output("stderr", send, fallback)
    _outputs[:] = [sys.stdout, sys.stderr]


def flush_all() -> None:
    """In a worker: send partial lines, so they reach the parent before the next answer."""
    for output in _outputs:
        output.flush()
