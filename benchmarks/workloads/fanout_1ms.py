"""Fan-out/fan-in of ``n`` items whose branch costs 1 ms, as a Hamilton user writes it."""

import time

from hamilton.htypes import Collect, Parallelizable


def item(n: int) -> Parallelizable[int]:
    """One branch per number below ``n``."""
    yield from range(n)


def doubled(item: int) -> int:
    """A branch that takes 1 ms (a blocking call: it holds the loop, as real sync work does)."""
    time.sleep(0.001)
    return item * 2


def total(doubled: Collect[int]) -> int:
    """Fan in."""
    return sum(doubled)
