"""Loop responsiveness: how late a heartbeat on the loop wakes while CPU-bound branches run.

A heartbeat coroutine sleeps ``HEARTBEAT_S`` at a time and records how late each wake-up is
(actual minus expected) while asyncdag runs a fan-out of pure-Python branches on the same loop:
on a ``ProcessExecutor``, a ``ThreadExecutor`` and the default ``InlineExecutor`` (which runs
sync nodes on the loop itself). The idle baseline is the heartbeat alone for as long as the
process run took.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asyncdag import executors

from . import asyncdag_runs
from .cpu import calibrate
from .session import LoopSession, asyncio_loop
from .workloads import porting

Row = dict[str, Any]
HEARTBEAT_S = 0.005
IDLE = "idle (heartbeat alone)"
TARGET_INTERVALS = 2  # informational: process worst lag <= idle worst + 2 heartbeat intervals


async def _heartbeat(stop: asyncio.Event, lags: list[float]) -> None:
    while not stop.is_set():
        expected = time.perf_counter() + HEARTBEAT_S
        await asyncio.sleep(HEARTBEAT_S)
        lags.append(time.perf_counter() - expected)


async def _watched(run: Callable[[], Awaitable[Any]], lags: list[float]) -> float:
    """Seconds ``run()`` took while the heartbeat appended its lags to ``lags``."""
    stop = asyncio.Event()
    beating = asyncio.create_task(_heartbeat(stop, lags))
    await asyncio.sleep(0)  # the heartbeat's first sleep starts before the run does
    start = time.perf_counter()
    await run()
    seconds = time.perf_counter() - start
    stop.set()
    await beating  # a wake-up overdue at the end of the run still counts
    return seconds


def _row(system: str, lags: list[float], seconds: list[float]) -> Row:
    ms = sorted(lag * 1e3 for lag in lags)
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98] if len(ms) > 1 else ms[0]
    return {
        "system": system,
        "wakeups": len(ms),
        "median_lag_ms": statistics.median(ms),
        "p99_lag_ms": p99,
        "worst_lag_ms": ms[-1],
        "seconds": statistics.median(seconds),
        "repeats": len(seconds),
    }


def _system(
    system: str, make_executor: asyncdag_runs.ExecutorFactory, n: int, work: int, repeats: int
) -> Row:
    """``repeats`` watched runs after one warm-up run (which starts any worker processes)."""
    cores = os.cpu_count() or 1
    dr = asyncdag_runs.build(porting.asyncdag_module("cpu"), make_executor)
    session = LoopSession(asyncio_loop)
    lags: list[float] = []

    def run(items: int) -> Awaitable[Any]:
        return dr.execute(["checksum"], inputs={"n": items, "work": work})

    try:
        session.run_coro(_watched(lambda: run(2 * cores), []))
        seconds = [session.run_coro(_watched(lambda: run(n), lags)) for _ in range(repeats)]
        session.run_coro(dr.aclose())
    finally:
        session.close()
    return _row(system, lags, seconds)


def _idle(seconds: float, repeats: int) -> Row:
    session = LoopSession(asyncio_loop)
    lags: list[float] = []
    try:
        runs = [
            session.run_coro(_watched(lambda: asyncio.sleep(seconds), lags)) for _ in range(repeats)
        ]
    finally:
        session.close()
    return _row(IDLE, lags, runs)


def run(branches_per_core: int, branch_s: float, repeats: int) -> list[Row]:
    """Heartbeat lags beside ``cores x branches_per_core`` branches of ``branch_s`` each."""
    cores = os.cpu_count() or 1
    n, work = cores * branches_per_core, calibrate(branch_s)
    systems: list[tuple[str, asyncdag_runs.ExecutorFactory]] = [
        (f"asyncdag process ({cores})", lambda: executors.ProcessExecutor(max_tasks=cores)),
        (f"asyncdag thread ({cores})", asyncdag_runs.threads(cores)),
        ("asyncdag inline", asyncdag_runs.inline),
    ]
    rows = [_system(name, make, n, work, repeats) for name, make in systems]
    rows.insert(0, _idle(rows[0]["seconds"], repeats))
    for row in rows:
        row |= {"branches": n, "branch_ms": branch_s * 1e3, "heartbeat_ms": HEARTBEAT_S * 1e3}
        print(
            f"  loop  {row['system']:26} {row['wakeups']:5} wake-ups, lag median "
            f"{row['median_lag_ms']:5.2f} ms, p99 {row['p99_lag_ms']:6.2f} ms, worst "
            f"{row['worst_lag_ms']:6.2f} ms; run {row['seconds']:.2f} s"
        )
    found = verdict(rows)
    if found is not None:
        print(f"  {found['target']}: {'met' if found['met'] else 'not met'}. {found['detail']}")
    return rows


def verdict(rows: list[Row]) -> Row | None:
    """Informational target: the process run's worst lag beside the idle baseline's."""
    idle = next((r for r in rows if r["system"] == IDLE), None)
    process = next((r for r in rows if r["system"].startswith("asyncdag process")), None)
    if idle is None or process is None:
        return None
    interval = idle["heartbeat_ms"]
    limit = idle["worst_lag_ms"] + TARGET_INTERVALS * interval
    return {
        "target": (
            f"worst heartbeat lag with ProcessExecutor <= idle worst + {TARGET_INTERVALS} "
            f"heartbeat intervals ({TARGET_INTERVALS * interval:.0f} ms), informational"
        ),
        "met": process["worst_lag_ms"] <= limit,
        "detail": (
            f"{process['system']}: {process['worst_lag_ms']:.1f} ms against "
            f"{idle['worst_lag_ms']:.1f} + {TARGET_INTERVALS * interval:.0f} = {limit:.1f} ms; "
            + "; ".join(
                f"{r['system']}: {r['worst_lag_ms']:.1f} ms" for r in rows if r is not process
            )
        ),
    }
