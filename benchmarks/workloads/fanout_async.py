"""Fan-out/fan-in of ``n`` trivial items with an ``async def`` branch node (asyncdag only)."""

from asyncdag import Collect, Parallelizable


def item(n: int) -> Parallelizable[int]:
    """One branch per number below ``n``."""
    yield from range(n)


async def doubled(item: int) -> int:
    """The trivial work of one branch, as a coroutine."""
    return item * 2


async def total(doubled: Collect[int]) -> int:
    """Fan in."""
    return sum(doubled)
