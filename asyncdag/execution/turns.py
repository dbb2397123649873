"""Handing the loop over after inline work, so that tasks waiting on timers and sockets run."""

from __future__ import annotations

import asyncio

YIELD_INTERVAL = 0.002  # how long inline work may hold the loop before handing it back


async def let_others_run() -> None:
    """Three loop iterations. A task whose ``asyncio.sleep`` fell due while we held the loop
    runs behind us twice over: in the first iteration the loop runs the timer, which sets
    the sleep's future and so schedules the task's wake-up; that wake-up runs in the
    second iteration, still queued behind our own; only in the third do we come after it.
    """
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    await asyncio.sleep(0)
