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
# Request kinds; a CHUNK unit is two frames: the chunk without its items, then the items.
RUN, STREAM, NEXT, CLOSE, CANCEL, CHUNK = range(6)
PARENT_PID = "ASYNCDAG_PARENT_PID"  # environment variable: the pid the worker must not outlive
MARKER_FD = "ASYNCDAG_MARKER_FD"  # environment variable: the fd of the node marker
MARKER_SIZE = 1024
# The marker: the request id of the chunk running (-1: none) and the number of node calls
# of it started so far minus one (8-byte ints, written in place), then "node\0branch\0" of
# the node last marked by name.
POSITION = struct.Struct("=qq")
TEXT_AT = POSITION.size


def read_marker(marker: mmap.mmap) -> tuple[str, str]:
    """(node, branch) the worker last marked by name, ``("", "")`` if none."""
    raw = bytes(marker[TEXT_AT:MARKER_SIZE]).split(b"\0")
    if len(raw) < 3 or not raw[0]:
        return "", ""
    return raw[0].decode(errors="replace"), raw[1].decode(errors="replace")


def read_position(marker: mmap.mmap) -> tuple[int, int]:
    """(request id, node calls started minus one) of the chunk running, ``(-1, 0)`` if none."""
    rid, at = POSITION.unpack_from(marker, 0)
    return int(rid), int(at)
