"""What the cache costs and saves on the 10,000-item fan-out (``Builder.with_cache``).

Rows, one process, one event loop each: the run without a cache; a cold run with a cache
(every branch a miss: fingerprints and writes); a rerun (nothing changed: the block is read
back whole, in one lookup); a rerun with one new item (the block's other branches read from
that one lookup, one branch computed). Each cold run gets an empty cache directory. The
branch node is trivial, so this is the cache's own cost per branch. Then the same fan-out of
1,000 items whose branch costs 1 ms, without a cache and as a cached rerun. Ratios are
against the uncached run of the same workload.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from asyncdag import Builder, Driver

from .workloads import porting

N = 10_000
N_SLOW = 1_000  # items of the 1 ms branch (10 s a run otherwise)

Way = Callable[[asyncio.Runner, int], float]


def _driver(workload: str, cache: Path | None) -> Driver:
    builder = Builder().with_modules(porting.asyncdag_module(workload))
    return (builder if cache is None else builder.with_cache(cache)).build()


def _timed(runner: asyncio.Runner, dr: Driver, n: int) -> float:
    start = time.perf_counter()
    runner.run(dr.execute(["total"], inputs={"n": n}))
    return time.perf_counter() - start


def _ways(workload: str, n: int, root: Path, every: bool) -> dict[str, Way]:
    def uncached(runner: asyncio.Runner, i: int) -> float:
        return _timed(runner, _driver(workload, None), n)

    def cold(runner: asyncio.Runner, i: int) -> float:
        return _timed(runner, _driver(workload, root / f"{workload}-cold{i}"), n)

    def warm(runner: asyncio.Runner, i: int) -> float:
        dr = _driver(workload, root / f"{workload}-warm")
        if i == 0:
            _timed(runner, dr, n)  # fill it once
        return _timed(runner, dr, n)

    def one_new(runner: asyncio.Runner, i: int) -> float:
        dr = _driver(workload, root / f"{workload}-grow{i}")
        _timed(runner, dr, n)
        return _timed(runner, dr, n + 1)

    if not every:
        return {"no cache": uncached, "cache, rerun (all hits)": warm}
    return {
        "no cache": uncached,
        "cache, cold (all misses)": cold,
        "cache, rerun (all hits)": warm,
        "cache, rerun + 1 new item": one_new,
    }


def run(repeats: int, n: int = N, n_slow: int = N_SLOW) -> list[dict[str, Any]]:
    """One row per workload and way of running, with the median seconds, the microseconds per
    branch and the ratio to the same workload without a cache."""
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="asyncdag-cache-bench-") as tmp:
        for workload, size, every in (("fanout", n, True), ("fanout_1ms", n_slow, False)):
            base: float | None = None
            for way, once in _ways(workload, size, Path(tmp), every).items():
                with asyncio.Runner() as runner:
                    times = sorted(once(runner, i) for i in range(repeats))
                median = times[len(times) // 2]
                base = base or median
                row = {"workload": workload, "way": way, "n": size, "seconds": median}
                row["us_per_branch"] = median / size * 1e6
                row["ratio"] = median / base
                print(
                    f"  {workload:10} {way:28} {median * 1e3:9.1f} ms"
                    f" {row['us_per_branch']:8.2f} us/branch {row['ratio']:8.3f}x"
                )
                rows.append(row)
    return rows


if __name__ == "__main__":
    run(3)
