"""Worker processes against the best pools: per-item cost of trivial branches, CPU speed-up,
async branches with ``child_concurrency``.

The same trivial work (``x + 1``) on 2 processes: ``ProcessExecutor`` with automatic
batches and with batch 1, against ``concurrent.futures.ProcessPoolExecutor.map`` and loky's
``map`` at their best ``chunksize``. CPU speed-up: branches that burn the CPU, on 2
workers against inline. Async branches: each awaits 0.1 s, on 2 workers, at
``child_concurrency`` 1 and 10.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

from asyncdag import Builder, Collect, Parallelizable, executors, tag
from asyncdag.ad_hoc_utils import create_temporary_module

Row = dict[str, Any]
PROCESSES = 2
CHUNKSIZES = (1, 16, 64, 256, 1024)
TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def trivial(x: int) -> int:
    return x + 1


def burn(x: int, work: int) -> int:
    total = 0
    for i in range(work):
        total += (i * x) % 7
    return total


def _driver(work: Callable[..., Any], executor: executors.Executor | None) -> Any:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def results(work: Collect[int]) -> int:
        return len(work)

    module = create_temporary_module(item, work, results)
    builder = Builder().with_modules(module)
    if executor is not None:
        builder = builder.with_remote_executor(executor)
    return builder.build()


def _cpu(pids: list[int]) -> float:
    """CPU seconds (user + system) the processes ``pids`` used so far (Linux; else nan)."""
    total = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return math.nan
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def _seconds(dr: Any, inputs: dict[str, Any], repeats: int, pool: Any = None) -> float:
    return _timed(dr, inputs, repeats, pool)[0]


def _timed(dr: Any, inputs: dict[str, Any], repeats: int, pool: Any) -> tuple[float, float]:
    """Median seconds of an execute, and the CPU seconds of one (this process and ``pool``'s
    workers), after a first execute that warms up."""

    async def measure() -> tuple[float, float]:
        async with dr:  # starts the workers first
            await dr.execute(["results"], inputs=inputs)  # warm: frames sent, batch measured
            pids = [os.getpid(), *(pool.worker_pids() if pool is not None else ())]
            times = []
            used = _cpu(pids)
            for _ in range(repeats):
                start = time.perf_counter()
                await dr.execute(["results"], inputs=inputs)
                times.append(time.perf_counter() - start)
            return statistics.median(times), (_cpu(pids) - used) / repeats

    return asyncio.run(measure())


def _asyncdag_us(n: int, batch_size: int | None, repeats: int) -> tuple[float, float]:
    def work(item: int) -> int:
        return item + 1

    executor = executors.ProcessExecutor(max_tasks=PROCESSES, batch_size=batch_size)
    seconds, cpu = _timed(_driver(work, executor), {"n": n}, repeats, executor)
    return seconds / n * 1e6, cpu / n * 1e6


def _map_us(pool: Any, n: int, chunksize: int, repeats: int) -> tuple[float, float]:
    list(pool.map(trivial, range(n), chunksize=chunksize))  # warm
    pids = [os.getpid(), *getattr(pool, "_processes", {})]
    times = []
    used = _cpu(pids)
    for _ in range(repeats):
        start = time.perf_counter()
        list(pool.map(trivial, range(n), chunksize=chunksize))
        times.append(time.perf_counter() - start)
    cpu = (_cpu(pids) - used) / repeats
    return statistics.median(times) / n * 1e6, cpu / n * 1e6


def _best_map_us(make: Callable[[], Executor], n: int, repeats: int) -> tuple[float, float, int]:
    with make() as pool:
        costs = {size: _map_us(pool, n, size, repeats) for size in CHUNKSIZES}
    best = min(costs, key=lambda size: costs[size][0])
    return (*costs[best], best)


def per_item(n: int, repeats: int) -> list[Row]:
    """Wall time per item, and CPU time per item of the parent and its workers together
    (which other work on the machine disturbs less)."""
    rows: list[Row] = []

    def row(name: str, us: float, cpu_us: float, **extra: Any) -> None:
        print(f"  {name:44} {us:8.2f} us/item  (CPU {cpu_us:7.2f} us/item)")
        rows.append({"contender": name, "us_per_item": us, "cpu_us_per_item": cpu_us, **extra})

    row("asyncdag ProcessExecutor, batch_size=None", *_asyncdag_us(n, None, repeats))
    row("asyncdag ProcessExecutor, batch_size=1", *_asyncdag_us(n // 4, 1, repeats))
    with ProcessPoolExecutor(PROCESSES) as pool:
        row("ProcessPoolExecutor.map, chunksize=1", *_map_us(pool, n // 4, 1, repeats))
    us, cpu_us, size = _best_map_us(lambda: ProcessPoolExecutor(PROCESSES), n, repeats)
    row(f"ProcessPoolExecutor.map, best chunksize={size}", us, cpu_us, chunksize=size)
    try:
        from loky import get_reusable_executor
    except ImportError:
        print("  loky: not installed (pip install -e '.[bench]')")
    else:
        us, cpu_us, size = _best_map_us(lambda: get_reusable_executor(PROCESSES), n, repeats)
        row(f"loky map, best chunksize={size}", us, cpu_us, chunksize=size)
    return rows


def cpu_speedup(branches: int, work: int, repeats: int) -> Row:
    def work_node(item: int, effort: int) -> int:
        total = 0
        for i in range(effort):
            total += (i * item) % 7
        return total

    work_node.__name__ = "work"
    inline = _seconds(_driver(work_node, None), {"n": branches, "effort": work}, repeats)
    executor = executors.ProcessExecutor(max_tasks=PROCESSES)
    shipped = _seconds(_driver(work_node, executor), {"n": branches, "effort": work}, repeats)
    speedup = inline / shipped
    print(f"  {branches} CPU branches: inline {inline:.3f} s, {PROCESSES} processes "
          f"{shipped:.3f} s: speed-up {speedup:.2f}x")  # fmt: skip
    return {"inline_s": inline, "processes_s": shipped, "speedup": speedup}


def async_branches(branches: int, repeats: int) -> list[Row]:
    async def work(item: int) -> int:
        await asyncio.sleep(0.1)
        return item

    rows = []
    for k in (1, 10):
        executor = executors.ProcessExecutor(max_tasks=PROCESSES, child_concurrency=k)
        seconds = _seconds(_driver(work, executor), {"n": branches}, repeats)
        print(f"  {branches} branches awaiting 0.1 s, child_concurrency={k:<3} {seconds:.3f} s")
        rows.append({"child_concurrency": k, "seconds": seconds})
    return rows


def queued_calls(calls: int, at_once: int, repeats: int) -> list[Row]:
    """A node tagged onto a ``ProcessExecutor`` of 2 workers: the cost of one call when the
    executes come one at a time, and per call when ``at_once`` executes queue for it."""

    @tag(executor="cpu")
    def work(x: int) -> int:
        return x + 1

    module = create_temporary_module(work)
    executor = executors.ProcessExecutor(max_tasks=PROCESSES)
    dr = Builder().with_modules(module).with_executor("cpu", executor).build()

    async def one_at_a_time() -> float:
        start = time.perf_counter()
        for x in range(calls // 4):
            await dr.execute(["work"], inputs={"x": x})
        return (time.perf_counter() - start) / (calls // 4)

    async def queued() -> float:
        start = time.perf_counter()
        for first in range(0, calls, at_once):
            xs = range(first, min(first + at_once, calls))
            await asyncio.gather(*(dr.execute(["work"], inputs={"x": x}) for x in xs))
        return (time.perf_counter() - start) / calls

    async def measure() -> tuple[float, float]:
        async with dr:
            await one_at_a_time()
            await queued()
            alone = statistics.median([await one_at_a_time() for _ in range(repeats)])
            busy = statistics.median([await queued() for _ in range(repeats)])
            return alone, busy

    alone, busy = asyncio.run(measure())
    rows = [
        {"case": "one execute at a time", "us_per_call": alone * 1e6},
        {"case": f"{at_once} executes at once", "us_per_call": busy * 1e6},
    ]
    for row in rows:
        print(f"  tagged process node, {row['case']:26} {row['us_per_call']:8.1f} us per call")
    return rows


def run(n: int = 20_000, repeats: int = 3) -> dict[str, Any]:
    """Every measurement of this suite, printed as it goes."""
    print(f"  trivial branches, {n} items on {PROCESSES} processes")
    return {
        "per_item": per_item(n, repeats),
        "cpu": cpu_speedup(8, 3_000_000, repeats),
        "async": async_branches(20, repeats),
        "queued": queued_calls(2_000, 64, repeats),
    }


if __name__ == "__main__":
    run()
