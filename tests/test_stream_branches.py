"""stream() of a node inside a block: its value per branch as an event, nothing kept."""

from __future__ import annotations

import asyncio
import contextlib
import tracemalloc
from typing import Any

import pytest
from conftest import HANG_GUARD, build

from asyncdag import Collect, Event, Parallelizable, executors
from asyncdag.errors import GraphError

pytestmark = pytest.mark.timeout(120)


def endless() -> tuple[Any, ...]:
    async def record() -> Parallelizable[int]:
        i = 0
        while True:
            yield i
            i += 1

    async def parsed(record: int) -> bytes:
        await asyncio.sleep(0)
        return bytes(20_000)

    return record, parsed


def finite() -> tuple[Any, ...]:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def double(item: int) -> int:
        return item * 2

    def total(double: Collect[int]) -> int:
        return sum(double)

    return item, double, total


async def test_streaming_a_branch_node_gives_its_value_per_branch() -> None:
    dr = build(*finite())
    async with asyncio.timeout(HANG_GUARD):
        events = [e async for e in dr.stream(["double"], inputs={"n": 4})]
    doubles = sorted((e.index, e.value) for e in events if e.node == "double")
    assert doubles == [((0,), 0), ((1,), 2), ((2,), 4), ((3,), 6)]
    assert events[-1] == Event("done", None, (), {})


async def test_streaming_a_branch_node_beside_a_collect_returns_only_the_collect() -> None:
    dr = build(*finite())
    async with asyncio.timeout(HANG_GUARD):
        events = [e async for e in dr.stream(["double", "total"], inputs={"n": 4})]
    assert events[-1].value == {"total": 12}
    assert len([e for e in events if e.node == "double"]) == 4


async def test_execute_still_refuses_a_branch_node_naming_the_collect() -> None:
    dr = build(*finite())
    with pytest.raises(GraphError, match="'total'"):
        await dr.execute(["double"], inputs={"n": 4})


async def test_streaming_a_branch_node_on_processes() -> None:
    dr = build(*finite(), remote=executors.ProcessExecutor(max_tasks=2, batch_size=2))
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            events = [e async for e in dr.stream(["double"], inputs={"n": 5})]
    assert sorted(e.value for e in events if e.node == "double") == [0, 2, 4, 6, 8]


async def _traced_after(events: Any, counts: tuple[int, ...]) -> list[int]:
    """Traced memory once each of ``counts`` branch values has arrived."""
    seen, at = 0, []
    async for event in events:
        if event.node != "parsed":
            continue
        seen += 1
        if seen in counts:
            at.append(tracemalloc.get_traced_memory()[0])
            if len(at) == len(counts):
                return at
    raise AssertionError("the endless stream ended")


async def test_an_endless_source_streams_in_flat_memory() -> None:
    dr = build(*endless())
    tracemalloc.start()
    try:
        async with asyncio.timeout(HANG_GUARD * 3):
            async with contextlib.aclosing(dr.stream(["parsed"])) as events:
                early, late = await _traced_after(events, (500, 2_000))
    finally:
        tracemalloc.stop()
    # 1,500 more values of 20 kB each would be 30 MB if kept.
    assert late - early < 5_000_000, f"grew {(late - early) / 1e6:.1f} MB"
