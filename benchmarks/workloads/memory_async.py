"""The peak-memory fan-out with an ``async def`` branch node (asyncdag only)."""

from asyncdag import Collect, Parallelizable


def item(n: int) -> Parallelizable[int]:
    """One branch per number below ``n``, produced lazily."""
    yield from range(n)


async def even(item: int) -> bool:
    """The trivial work of one branch, as a coroutine (one task per branch)."""
    return item % 2 == 0


def evens(even: Collect[bool]) -> int:
    """Fan in."""
    return sum(even)
