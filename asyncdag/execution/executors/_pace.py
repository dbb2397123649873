"""Automatic batch sizes: how many items of a block fit in about ``BATCH_TIME`` of a worker.

A unit's round trip is a fixed part (pickling, the pipes, the wake-ups) plus a part per item.
The fixed part is the least round trip seen; what is left, summed over the recent units of
a block (older ones decaying), divided by their items, is that block's cost per item. Sums,
not a mean of ratios, so a large unit weighs as many items as it holds and a one-item unit,
all fixed cost, does not make the next batches small.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

BATCH_TIME = 0.01  # a batch should take about this long in its worker
BATCH_MOST = 8192  # the largest automatic batch
GROWTH = 8  # a batch is at most this many times the block's last one
ROUND_TRIP = 200e-6  # the fixed part of a unit's round trip, until a shorter one is seen
DECAY = 0.7  # the weight of the sums so far against the newest unit
KEPT = 64  # blocks measured, the newest


@dataclass(slots=True)
class _Block:
    frame: object
    seconds: float = 0.0  # decayed sum of the units' round trips less their fixed part
    items: float = 0.0  # decayed sum of their items
    last: int = 1  # the last batch given


class Pace:
    """Measured cost per item of each recent block (keyed by its branch frame)."""

    def __init__(self) -> None:
        self.fixed = ROUND_TRIP
        self._blocks: dict[int, _Block] = {}  # by id of the frame
        self._lock = threading.Lock()  # loops in several threads share the executor

    def measured(self, frame: object, seconds: float, items: int) -> None:
        """A unit of ``items`` items of ``frame``'s block took ``seconds``, round trip."""
        with self._lock:
            self.fixed = min(self.fixed, seconds)
            block = self._blocks.get(id(frame))
            if block is None or block.frame is not frame:
                while len(self._blocks) >= KEPT:
                    del self._blocks[next(iter(self._blocks))]
                block = self._blocks[id(frame)] = _Block(frame)
            block.seconds = DECAY * block.seconds + max(seconds - self.fixed, 0.0)
            block.items = DECAY * block.items + items

    def batch(self, frame: object) -> int:
        """The next batch of ``frame``'s block: one item until a unit of it was measured."""
        with self._lock:
            block = self._blocks.get(id(frame))
            if block is None or block.frame is not frame or not block.items:
                return 1
            seconds = block.seconds
            fits = int(BATCH_TIME * block.items / seconds) if seconds > 0 else BATCH_MOST
            block.last = max(1, min(fits, GROWTH * block.last, BATCH_MOST))
            return block.last
