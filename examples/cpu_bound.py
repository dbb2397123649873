"""A pure-Python CPU-heavy map-reduce: inline on the loop against worker processes.

Each branch counts the primes below a bound by trial division, which is pure Python and
holds the GIL, so only processes make it faster. Run ``python examples/cpu_bound.py``.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from asyncdag import Builder, Collect, Parallelizable, executors


def bound(chunks: int, chunk_size: int) -> Parallelizable[tuple[int, int]]:
    """Split [2, chunks * chunk_size) into ranges, one branch each."""
    for i in range(chunks):
        yield 2 + i * chunk_size, 2 + (i + 1) * chunk_size


def primes_in_range(bound: tuple[int, int]) -> int:
    """How many primes lie in ``[low, high)``, by trial division (slow on purpose)."""
    low, high = bound
    count = 0
    for n in range(low, high):
        if n < 2:
            continue
        d = 2
        while d * d <= n:
            if n % d == 0:
                break
            d += 1
        else:
            count += 1
    return count


def prime_count(primes_in_range: Collect[int]) -> int:
    return sum(primes_in_range)


async def _timed(executor: executors.Executor, inputs: dict[str, int]) -> tuple[int, float]:
    dr = Builder().with_modules(sys.modules[__name__]).with_remote_executor(executor).build()
    async with dr:  # stops the workers on the way out
        await dr.execute(["prime_count"], inputs={"chunks": 8, "chunk_size": 10})  # warm up
        start = time.perf_counter()
        result = await dr.execute(["prime_count"], inputs=inputs)
        return result["prime_count"], time.perf_counter() - start


async def main() -> None:
    cores = os.cpu_count() or 1
    inputs = {"chunks": 4 * cores, "chunk_size": 100_000}
    inline_count, inline_s = await _timed(executors.InlineExecutor(), inputs)
    process_count, process_s = await _timed(executors.ProcessExecutor(max_tasks=cores), inputs)
    assert inline_count == process_count
    print(f"primes below {2 + inputs['chunks'] * inputs['chunk_size']:,}: {inline_count:,}")
    print(f"InlineExecutor                 {inline_s:6.2f} s")
    print(f"ProcessExecutor(max_tasks={cores})    {process_s:6.2f} s")
    print(f"speed-up {inline_s / process_s:.2f}x on {cores} cores (workers started beforehand)")


if __name__ == "__main__":
    asyncio.run(main())
