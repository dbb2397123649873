"""Worker logging and output, re-emitted in the parent.

A record logged by a node in a worker is handled there by ``Forwarding``, sent to the parent
as an answer with the ``LOG`` status, and handled again in the parent on the logger of the
same name, with ``node`` and ``branch`` set. Output (``_output``) goes the same way, a line at
a time, and is written to the parent's stream of the same name."""

from __future__ import annotations

import logging
import os
import pickle
import sys
from collections.abc import Callable
from typing import Any

from ._output import Leftovers as Leftovers
from ._output import capture as capture
from ._output import close as close
from ._output import drain as drain
from ._output import forked, settle

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
            if forked():  # a process forked by a node: the answer pipe is not its own
                os.write(2, f"{self.format(record)}\n".encode(errors="replace"))
                return
            settle()  # what was written to fd 1 or 2 before the record goes first
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
