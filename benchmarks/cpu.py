"""CPU-bound branches: inline on the loop against processes (and threads, for contrast)."""

from __future__ import annotations

import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from asyncdag import executors

from . import asyncdag_runs
from .session import LoopSession, asyncio_loop
from .workloads import porting

Row = dict[str, Any]
SKIP_NO_PROCESSES = "skipped: ProcessExecutor not available yet"


def _seconds(
    make_executor: asyncdag_runs.ExecutorFactory,
    n: int,
    work: int,
    repeats: int = 3,
) -> tuple[float, float]:
    """(first, median of the next ``repeats``) seconds; the first run starts any workers.

    The branches run on ``cpu.py`` ported at run time: its functions reach the worker
    processes by value, as a user's ported module would.
    """
    dr = asyncdag_runs.build(porting.asyncdag_module("cpu"), make_executor)
    session = LoopSession(asyncio_loop)

    async def once() -> float:
        start = time.perf_counter()
        await dr.execute(["checksum"], inputs={"n": n, "work": work})
        return time.perf_counter() - start

    try:
        cold = session.run_coro(once())
        warm = statistics.median(session.run_coro(once()) for _ in range(repeats))
        session.run_coro(dr.aclose())
        return cold, warm
    finally:
        session.close()


def _pool_seconds(cores: int, n: int, work: int, repeats: int = 3) -> tuple[float, float]:
    """The same branches on ``concurrent.futures.ProcessPoolExecutor``: what the machine allows."""
    burned = porting.hamilton_module("cpu").burned  # stdlib pickle needs it importable
    with ProcessPoolExecutor(cores) as pool:

        def once() -> float:
            start = time.perf_counter()
            sum(pool.map(burned, range(n), [work] * n))
            return time.perf_counter() - start

        cold = once()
        return cold, statistics.median(once() for _ in range(repeats))


def calibrate(target_s: float) -> int:
    """Loop iterations of ``burned`` that take about ``target_s`` here."""
    burned = porting.asyncdag_module("cpu").burned
    start = time.perf_counter()
    burned(0, 100_000)
    per_iteration = (time.perf_counter() - start) / 100_000
    return max(1, int(target_s / per_iteration))


def run(branches_per_core: int, branch_s: float) -> list[Row]:
    """Inline, threads and processes on ``cores x branches_per_core`` branches of ``branch_s``."""
    cores = os.cpu_count() or 1
    n, work = cores * branches_per_core, calibrate(branch_s)
    _, inline = _seconds(asyncdag_runs.inline, n, work)
    rows: list[Row] = [
        {"system": "asyncdag inline", "seconds": inline, "cold_seconds": inline, "speedup": 1.0}
    ]
    cold, pool = _pool_seconds(cores, n, work)
    rows.append(
        {
            "system": f"floor: ProcessPoolExecutor ({cores})",
            "seconds": pool,
            "cold_seconds": cold,
            "speedup": inline / pool,
        }
    )
    contenders: list[tuple[str, asyncdag_runs.ExecutorFactory | None]] = [
        (f"asyncdag thread ({cores})", asyncdag_runs.threads(cores)),
    ]
    process_cls = getattr(executors, "ProcessExecutor", None)
    contenders.append(
        (
            f"asyncdag process ({cores})",
            None if process_cls is None else (lambda: process_cls(max_tasks=cores)),
        )
    )
    for name, make_executor in contenders:
        if make_executor is None:
            print(f"  cpu  {name:34} {SKIP_NO_PROCESSES}")
            rows.append({"system": name, "skipped": SKIP_NO_PROCESSES})
            continue
        cold, seconds = _seconds(make_executor, n, work)
        rows.append(
            {"system": name, "seconds": seconds, "cold_seconds": cold, "speedup": inline / seconds}
        )
    for row in rows:
        row |= {"branches": n, "branch_ms": branch_s * 1e3, "cores": cores}
        if "speedup" in row:
            row["speedup_per_core"] = row["speedup"] / cores
            print(
                f"  cpu  {row['system']:34} {row['seconds']:6.2f} s (first run "
                f"{row['cold_seconds']:.2f} s) for {n} branches of "
                f"~{branch_s * 1e3:.0f} ms: speed-up {row['speedup']:.2f}x "
                f"({row['speedup_per_core']:.2f} per core)"
            )
    return rows
