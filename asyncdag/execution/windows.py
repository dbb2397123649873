"""``@window`` functions of one block: run over consecutive branches while the block streams.

The pump tells a ``Windows`` when each item is yielded and each branch is done; one task per
``@window`` function (owned by the block's task group) forms windows in yield order and runs
them one after the other. A window ``[start, end)`` is fixed when ``size`` items are in it,
``seconds`` have passed since item ``start`` was yielded, or the source ended; it runs once
every branch in it is done (a skipped branch leaves no row). Rows are dropped once every
window function has used them, and the pump waits while too many rows wait, so memory is
bounded by the window size and the branches in flight, not by the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

from ..graph.plan import INLINE, Block, collected_key
from .paths import Path

if TYPE_CHECKING:
    from .scheduler import Run

WINDOW_MOST = 10_000  # the most items a window closed only by ``seconds`` holds
IN_FLIGHT = 64  # rows that may wait beyond two windows when the executor sets no max_tasks


class Windows:
    """The windows of one block of one execution."""

    def __init__(
        self,
        run: Run,
        block: Block,
        vals: Mapping[str, Any],
        path: Path,
        max_tasks: int | None,
    ) -> None:
        self.run, self.block, self.vals, self.path = run, block, vals, path
        self.rows: dict[int, tuple[Any, ...] | None] = {}  # done branches (None: skipped)
        self.times: dict[int, float] = {}  # when each waiting item was yielded
        self.uses: dict[int, int] = {}  # window functions still to use each row
        self.yielded = 0  # items yielded so far
        self.done_upto = 0  # every branch below this index is done
        self.ended = False
        self.starts = [0] * len(block.windows)  # per window function: its next window's start
        self.results: list[list[Any]] = [[] for _ in block.windows]
        self.wakes = [asyncio.Event() for _ in block.windows]
        self.room_freed = asyncio.Event()
        sizes = [spec.size or WINDOW_MOST for _, spec in block.windows]
        self.limit = 2 * max(sizes) + (max_tasks or IN_FLIGHT)

    # -- told by the pump ------------------------------------------------------------------

    def full(self, index: int) -> bool:
        """Whether item ``index`` must wait: too many rows wait for their window."""
        return index - min(self.starts) >= self.limit

    async def room(self, index: int) -> None:
        """Wait until item ``index`` may be taken: not too many rows wait for their window."""
        while index - min(self.starts) >= self.limit:
            self.room_freed.clear()
            await self.room_freed.wait()

    def took(self, index: int) -> None:
        self.times[index] = time.monotonic()
        self.uses[index] = len(self.starts)
        self.yielded = index + 1
        self._wake()

    def done(self, index: int, row: tuple[Any, ...] | None) -> None:
        """Branch ``index`` finished with ``row`` (its produced values; None: skipped)."""
        self.rows[index] = row
        rows = self.rows
        upto = self.done_upto
        while upto in rows:
            upto += 1
        if upto != self.done_upto:
            self.done_upto = upto
            self._wake()

    def end(self) -> None:
        self.ended = True
        self._wake()

    def _wake(self) -> None:
        for wake in self.wakes:
            wake.set()

    # -- one task per window function ------------------------------------------------------

    async def _changed(self, j: int, seconds: float | None = None) -> None:
        wake = self.wakes[j]
        wake.clear()
        if seconds is None:
            await wake.wait()
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await wake.wait()

    async def run_windows(self, j: int) -> None:
        """Form and run the windows of window function ``j`` until the source has ended."""
        spec = self.block.windows[j][1]
        start = k = 0
        while True:
            while self.yielded <= start and not self.ended:
                await self._changed(j)
            if self.yielded <= start:
                return
            deadline = None if spec.seconds is None else self.times[start] + spec.seconds
            while True:
                if spec.size is not None and self.yielded - start >= spec.size:
                    end = start + spec.size
                    break
                if self.ended:
                    end = self.yielded
                    break
                if deadline is None:
                    await self._changed(j)
                    continue
                left = deadline - time.monotonic()
                if left <= 0:
                    end = self.yielded
                    break
                await self._changed(j, left)
            while self.done_upto < end:
                await self._changed(j)
            await self._run_one(j, k, start, end)
            self._release(start, end)
            start = self.starts[j] = end
            self.room_freed.set()
            k += 1

    async def _run_one(self, j: int, k: int, start: int, end: int) -> None:
        """Window ``k`` of function ``j``: branches ``start`` to ``end`` (those not skipped)."""
        step, _ = self.block.windows[j]
        rows = [row for i in range(start, end) if (row := self.rows[i]) is not None]
        given = self.vals
        vals: MutableMapping[str, Any] = {key: given[key] for _, key in step.args if key in given}
        for at, name in enumerate(self.block.produces):
            vals[collected_key(name)] = [row[at] for row in rows]
        where = (*self.path, (step.node.name, k, range(start, end)))
        run = self.run
        if run.observer is not None:
            await run.observed(step, vals, where)
        elif step.mode == INLINE:
            run.call(step, vals, where)
        else:
            await run.awaitable(step, vals, where)
        self.results[j].append(vals[step.key])

    def _release(self, start: int, end: int) -> None:
        uses, rows, times = self.uses, self.rows, self.times
        for i in range(start, end):
            left = uses[i] - 1
            if left:
                uses[i] = left
            else:
                del uses[i], rows[i], times[i]
