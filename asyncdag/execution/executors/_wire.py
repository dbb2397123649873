"""What the parent and its workers agree on: frames, request kinds, statuses, the marker."""

from __future__ import annotations

import mmap
import struct

HEADER = struct.Struct("!Q")  # a frame: its length, then its body
ANSWER = struct.Struct("!QB")  # an answer's body starts with the request id and a status
# Statuses: UNLOADED = the unit did not load; STARTED = a stream's call returned its iterator;
# LAST = an error after which the worker exits (a node ran past its @timeout); LOG = a
# logging record (of no request).
OK, ERROR, UNLOADED, ITEM, DONE, STARTED, LAST, LOG = range(8)
RUN, STREAM, NEXT, CLOSE, CANCEL = range(5)  # request kinds
PARENT_PID = "ASYNCDAG_PARENT_PID"  # environment variable: the pid the worker must not outlive
MARKER_FD = "ASYNCDAG_MARKER_FD"  # environment variable: the fd of the node marker
MARKER_SIZE = 1024


def read_marker(marker: mmap.mmap) -> tuple[str, str]:
    """(node, branch) the worker last marked, ``("", "")`` if none."""
    raw = bytes(marker[:MARKER_SIZE]).split(b"\0")
    if len(raw) < 3 or not raw[0]:
        return "", ""
    return raw[0].decode(errors="replace"), raw[1].decode(errors="replace")
