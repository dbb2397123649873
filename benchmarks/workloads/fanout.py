"""Fan-out/fan-in of ``n`` trivial items, as a Hamilton user writes it."""

from hamilton.htypes import Collect, Parallelizable


def item(n: int) -> Parallelizable[int]:
    """One branch per number below ``n``."""
    yield from range(n)


def doubled(item: int) -> int:
    """The trivial work of one branch."""
    return item * 2


def total(doubled: Collect[int]) -> int:
    """Fan in."""
    return sum(doubled)
