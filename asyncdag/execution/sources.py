"""Where a block's items come from: sync iterators stepped on the loop or on an executor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, cast

from .executors.base import Call, Executor
from .mistakes import items_of

END = object()  # what a source gives when it has no more items


def split(
    source: Iterator[Any] | AsyncIterator[Any],
) -> tuple[Iterator[Any] | None, AsyncIterator[Any]]:
    """``(iterator, _)`` for a sync source, ``(None, iterator)`` for an async one.

    Two typed names keep the per-item step a plain ``next`` call on the hot path.
    """
    if isinstance(source, Iterator):
        return source, cast(AsyncIterator[Any], None)  # never read when the first is set
    return None, source


def started(node: str, fn: Callable[..., Any], /, **kwargs: Any) -> Iterator[Any]:
    """Call a sync expander on a thread; its items are then stepped there one by one."""
    return items_of(node, fn(**kwargs))


def listed(node: str, fn: Callable[..., Any], /, **kwargs: Any) -> list[Any]:
    """Call a sync expander in another process and list its items (a generator cannot travel)."""
    produced = items_of(node, fn(**kwargs))
    items: list[Any] = []
    try:
        items.extend(produced)
    except Exception as exc:
        exc.add_note(f"asyncdag: while producing item {len(items)}")
        raise
    return items


def _next(it: Iterator[Any]) -> Any:
    return next(it, END)


async def iterate_on(
    executor: Executor, node: str, branch: str, it: Iterator[Any], abandon: bool = False
) -> AsyncIterator[Any]:
    """Step a sync iterator on ``executor`` (a thread), one item per ``submit``.

    ``abandon``: a step cut off by a ``@timeout`` is not waited for.
    """
    step = Call(node, branch, _next, {"it": it}, abandon)
    stepping = False
    try:
        while True:
            stepping = True
            item = await executor.submit(step)
            stepping = False
            if item is END:
                return
            yield item
    finally:
        close: Callable[[], Any] | None = getattr(it, "close", None)
        if close is not None and not (abandon and stepping):  # never close it under a step
            await executor.submit(Call(node, branch, close, {}))
