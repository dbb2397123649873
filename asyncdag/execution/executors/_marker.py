"""The worker's side of the node marker: which node and branch it runs, in shared memory.

The parent reads it after the worker died (``_wire.read_marker``, ``read_position``).
"""

from __future__ import annotations

import ctypes
import mmap
import os

from ..chunks import BranchChunk
from ..paths import format_path
from ._wire import MARKER_FD, MARKER_SIZE, TEXT_AT


class Marker:
    """The worker's side of the marker: the node it is about to run, in shared memory.

    A chunk's tight loop only moves a counter (``at``); the node and the branch are then
    worked out from the chunk, by the parent after a crash, or here for a log record.
    """

    def __init__(self) -> None:
        fd = os.environ.get(MARKER_FD)
        self.memory = mmap.mmap(int(fd), MARKER_SIZE) if fd else None
        self.node = self.branch = ""
        memory = self.memory
        self.rid = ctypes.c_int64.from_buffer(memory, 0) if memory else ctypes.c_int64()
        self.at = ctypes.c_int64.from_buffer(memory, 8) if memory else ctypes.c_int64()
        self.rid.value = -1
        self.chunk: BranchChunk | None = None

    def where(self) -> tuple[str, str]:
        chunk = self.chunk
        if self.rid.value >= 0 and chunk is not None and chunk.frame.steps:
            position, step = divmod(self.at.value, len(chunk.frame.steps))
            if position < len(chunk.items):
                return chunk.frame.steps[step].node.name, format_path(chunk.where(position))
        return self.node, self.branch

    def mark(self, node: str, branch: str) -> None:
        self.rid.value = -1
        self.node, self.branch = node, branch
        memory = self.memory
        if memory is not None:
            data = f"{node}\0{branch}\0".encode()[: MARKER_SIZE - TEXT_AT - 1]
            memory[TEXT_AT : TEXT_AT + len(data)] = data

    def mark_chunk(self, rid: int, chunk: BranchChunk) -> None:
        self.chunk = chunk
        self.at.value = 0
        self.rid.value = rid

    def end_chunk(self) -> None:
        """What ran last stays marked (output read after the chunk still names it), by name."""
        self.mark(*self.where())
        self.chunk = None  # its items are not kept
