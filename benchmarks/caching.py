"""What the cache costs and saves on the 10,000-item fan-out (``Builder.with_cache``).

Rows, one process, one event loop each: the run without a cache; a cold run with a cache
(every branch a miss: fingerprints and writes); a rerun (every branch a hit: reads); a
rerun with one new item (one branch computed). Each cold run gets an empty cache directory.
The ratio is against the uncached run. The branch node is trivial, so this is the cache's
own cost per branch; a cached rerun wins when a branch costs more than a lookup.
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


def _driver(cache: Path | None) -> Driver:
    builder = Builder().with_modules(porting.asyncdag_module("fanout"))
    return (builder if cache is None else builder.with_cache(cache)).build()


def _timed(runner: asyncio.Runner, dr: Driver, n: int) -> float:
    start = time.perf_counter()
    runner.run(dr.execute(["total"], inputs={"n": n}))
    return time.perf_counter() - start


def _ways(n: int, root: Path) -> dict[str, Callable[[asyncio.Runner, int], float]]:
    def uncached(runner: asyncio.Runner, i: int) -> float:
        return _timed(runner, _driver(None), n)

    def cold(runner: asyncio.Runner, i: int) -> float:
        return _timed(runner, _driver(root / f"cold{i}"), n)

    def warm(runner: asyncio.Runner, i: int) -> float:
        dr = _driver(root / "warm")
        if i == 0:
            _timed(runner, dr, n)  # fill it once
        return _timed(runner, dr, n)

    def one_new(runner: asyncio.Runner, i: int) -> float:
        dr = _driver(root / f"grow{i}")
        _timed(runner, dr, n)
        return _timed(runner, dr, n + 1)

    return {
        "no cache": uncached,
        "cache, cold (all misses)": cold,
        "cache, rerun (all hits)": warm,
        "cache, rerun + 1 new item": one_new,
    }


def run(repeats: int, n: int = N) -> list[dict[str, Any]]:
    """One row per way of running, with the median seconds and the ratio to no cache."""
    rows: list[dict[str, Any]] = []
    base: float | None = None
    with tempfile.TemporaryDirectory(prefix="asyncdag-cache-bench-") as tmp:
        for way, once in _ways(n, Path(tmp)).items():
            with asyncio.Runner() as runner:
                times = sorted(once(runner, i) for i in range(repeats))
            median = times[len(times) // 2]
            base = base or median
            row = {"workload": "fanout", "way": way, "n": n, "seconds": median}
            row["ratio"] = median / base
            print(f"  {way:28} {median * 1e3:9.1f} ms  {row['ratio']:6.2f}x")
            rows.append(row)
    return rows


if __name__ == "__main__":
    run(3)
