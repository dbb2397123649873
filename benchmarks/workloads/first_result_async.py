"""The slow producer as an async generator (asyncdag only)."""

import asyncio
import time

from asyncdag import Collect, Parallelizable


async def item(n_items: int, interval: float) -> Parallelizable[int]:  # type: ignore[misc]
    """Yield one item every ``interval`` seconds (sleeping before each)."""
    for i in range(n_items):
        await asyncio.sleep(interval)
        yield i


async def result(item: int, marks: dict[str, float]) -> int:
    """A branch's last node; branch 0 records when it finished in ``marks``."""
    if item == 0:
        marks.setdefault("first", time.perf_counter())
    return item * 2


def results(result: Collect[int]) -> int:
    """Fan in."""
    return sum(1 for _ in result)
