"""What a node returned that it should not have: the ``TypeError`` that says how to fix it.

Checked where the value first arrives (on the loop, on a thread or in a worker process), so
every executor gives the same message. The checks cost one ``type()`` comparison per call.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import CoroutineType
from typing import Any


def returned_coroutine(node: str, value: Any) -> TypeError:
    """The error for a ``def`` node that returned a coroutine (closed here, never run)."""
    if type(value) is CoroutineType:
        value.close()
    return TypeError(
        f"node {node!r} returned a coroutine: declare it `async def` so that asyncdag awaits "
        "it (a plain `def` node's return value is used as it is)."
    )


def checked(node: str, value: Any) -> Any:
    """``value``, unless it is a coroutine a ``def`` node returned by mistake."""
    if type(value) is CoroutineType:
        raise returned_coroutine(node, value)
    return value


def items_of(node: str, produced: Any) -> Iterator[Any]:
    """An iterator over what a sync ``Parallelizable`` node returned, or a helpful TypeError."""
    if type(produced) is CoroutineType:
        raise returned_coroutine(node, produced)
    try:
        return iter(produced)
    except TypeError as exc:
        raise TypeError(
            f"node {node!r} is Parallelizable but returned a {type(produced).__name__}, which "
            "is not iterable. Return a list or another iterable, or write it as a generator or "
            "an async generator."
        ) from exc
