"""Fan-out for the peak-memory runs: branch values are shared ``bool`` singletons.

The ``Collect`` list itself (one pointer per item, 8 MB at 1,000,000 items) is inherent to
fan-in; small shared values keep anything else it holds from hiding the engine's own memory.
"""

from hamilton.htypes import Collect, Parallelizable


def item(n: int) -> Parallelizable[int]:
    """One branch per number below ``n``, produced lazily."""
    yield from range(n)


def even(item: int) -> bool:
    """The trivial work of one branch."""
    return item % 2 == 0


def evens(even: Collect[bool]) -> int:
    """Fan in."""
    return sum(even)
