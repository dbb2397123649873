"""Per-item cost of a 3-node sync branch on ``ProcessExecutor``: what a shipped branch costs.

A batch of branches runs in a worker, where its frame was planned as plain calls. Measured
with one item per batch (the pipe round trip dominates) and with 100 (the worker's own cost
per branch shows).
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from asyncdag import executors

from . import asyncdag_runs
from .session import LoopSession, asyncio_loop
from .workloads import porting

Row = dict[str, Any]
PROCESSES = 2


def _per_item_us(n: int, batch_size: int, repeats: int) -> float:
    dr = asyncdag_runs.build(
        porting.asyncdag_module("branch3"),
        lambda: executors.ProcessExecutor(max_tasks=PROCESSES, batch_size=batch_size),
    )
    session = LoopSession(asyncio_loop)

    async def once() -> float:
        start = time.perf_counter()
        await dr.execute(["total"], inputs={"n": n})
        return time.perf_counter() - start

    try:
        session.run_coro(once())  # starts the workers
        seconds = statistics.median(session.run_coro(once()) for _ in range(repeats))
        session.run_coro(dr.aclose())
    finally:
        session.close()
    return seconds / n * 1e6


def run(n: int, repeats: int) -> list[Row]:
    """One row per batch size, printed as it is measured."""
    rows = []
    for batch_size in (1, 100):
        us = _per_item_us(n if batch_size > 1 else n // 10, batch_size, repeats)
        where = f"{PROCESSES} processes, batch_size={batch_size}"
        print(f"  3-node sync branch on {where:28} {us:8.2f} us/item")
        rows.append({"batch_size": batch_size, "processes": PROCESSES, "us_per_item": us})
    return rows
