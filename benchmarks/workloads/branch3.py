"""Fan-out whose branches are three sync nodes in a row, as a Hamilton user writes it."""

from hamilton.htypes import Collect, Parallelizable


def item(n: int) -> Parallelizable[int]:
    """One branch per number below ``n``."""
    yield from range(n)


def first(item: int) -> int:
    """Branch node 1 of 3."""
    return item + 1


def second(first: int) -> int:
    """Branch node 2 of 3."""
    return first * 2


def third(second: int) -> int:
    """Branch node 3 of 3."""
    return second - 1


def total(third: Collect[int]) -> int:
    """Fan in."""
    return sum(third)
