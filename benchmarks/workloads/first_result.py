"""A slow producer: ``n_items`` items, ``interval`` seconds apart; branch 0 marks its finish."""

import time

from hamilton.htypes import Collect, Parallelizable


def item(n_items: int, interval: float) -> Parallelizable[int]:
    """Yield one item every ``interval`` seconds (sleeping before each)."""
    for i in range(n_items):
        time.sleep(interval)
        yield i


def result(item: int, marks: dict[str, float]) -> int:
    """A branch's last node; branch 0 records when it finished in ``marks``."""
    if item == 0:
        marks.setdefault("first", time.perf_counter())
    return item * 2


def results(result: Collect[int]) -> int:
    """Fan in."""
    return len(result)
