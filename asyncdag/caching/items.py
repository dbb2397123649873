"""A block's items for the cache: the first ones taken before its lookup, then the rest."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

from ..execution.turns import YIELD_INTERVAL, let_others_run

TAKE_MOST = 0.025  # seconds a sync expander's items are taken for, before branches start


async def taken(
    source: Iterator[Any] | AsyncIterator[Any],
) -> tuple[list[Any], BaseException | None, Iterator[Any] | AsyncIterator[Any] | None]:
    """The items a sync ``source`` gives within ``TAKE_MOST`` seconds, the error that stopped
    it, and the source when it has more (an async one is left whole: its items may be slow
    to come, and branches start as they come)."""
    if not isinstance(source, Iterator):
        return [], None, source
    items: list[Any] = []
    clock = time.perf_counter
    start = clock()
    deadline = start + YIELD_INTERVAL
    try:
        for item in source:  # on the loop, as the block would step it: hand it over often
            items.append(item)
            now = clock()
            if now > start + TAKE_MOST:
                return items, None, source
            if now > deadline:
                await let_others_run()
                deadline = clock() + YIELD_INTERVAL
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        return items, exc, None
    return items, None, None


def replayed(items: list[Any], error: BaseException) -> Iterator[Any]:
    yield from items
    raise error


def fed(
    items: list[Any], rest: Iterator[Any] | AsyncIterator[Any] | None
) -> Iterator[Any] | AsyncIterator[Any]:
    """The block's items: those taken, then the rest of the source (added to ``items``)."""
    if rest is None:
        return iter(items)
    if isinstance(rest, Iterator):
        return _chained(items, rest)
    return _Streamed(items, rest)


def _chained(items: list[Any], rest: Iterator[Any]) -> Iterator[Any]:
    yield from items[:]
    for item in rest:
        items.append(item)
        yield item


class _Streamed:
    """An async source's items as they come, each also added to ``items``."""

    def __init__(self, items: list[Any], rest: AsyncIterator[Any]) -> None:
        self.items, self.rest = items, rest

    def __aiter__(self) -> _Streamed:
        return self

    async def __anext__(self) -> Any:
        item = await anext(self.rest)
        self.items.append(item)
        return item
