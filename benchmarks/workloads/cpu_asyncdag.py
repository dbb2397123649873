"""``cpu.py`` written for asyncdag, importable by worker processes under its own name."""

from asyncdag import Collect, Parallelizable


def item(n: int) -> Parallelizable[int]:
    """One branch per number below ``n``."""
    yield from range(n)


def burned(item: int, work: int) -> int:
    """Pure-Python arithmetic that holds the GIL for the whole call."""
    x = item
    for i in range(work):
        x = (x * 31 + i) % 1_000_003
    return x


def checksum(burned: Collect[int]) -> int:
    """Fan in."""
    return sum(burned)
