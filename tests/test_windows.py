"""@window: a Collect function run once per window of consecutive branches, in yield order."""

from __future__ import annotations

import asyncio
import tracemalloc
from typing import Any

import pytest
from conftest import HANG_GUARD, build

from asyncdag import Collect, Event, Parallelizable, executors, window
from asyncdag.errors import GraphError

pytestmark = pytest.mark.timeout(60)


def out_of_order(size: int | None = None, seconds: float | None = None) -> tuple[Any, ...]:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    async def double(item: int) -> int:
        await asyncio.sleep(0.001 * (3 - item % 3))  # branches finish out of yield order
        return item * 2

    @window(size=size, seconds=seconds)
    def batch(double: Collect[int]) -> list[int]:
        return list(double)

    return item, double, batch


async def test_window_by_size_runs_once_per_consecutive_window_in_yield_order() -> None:
    dr = build(*out_of_order(size=4))
    out = await dr.execute(["batch"], inputs={"n": 10})
    assert out == {"batch": [[0, 2, 4, 6], [8, 10, 12, 14], [16, 18]]}


async def test_window_of_an_empty_source_never_runs() -> None:
    dr = build(*out_of_order(size=4))
    assert await dr.execute(["batch"], inputs={"n": 0}) == {"batch": []}


async def test_aligned_collects_in_a_window_stay_aligned() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    async def square(item: int) -> int:
        await asyncio.sleep(0.001 * (item % 4))
        return item * item

    def label(item: int) -> str:
        return f"#{item}"

    @window(size=3)
    def pairs(label: Collect[str], square: Collect[int]) -> list[tuple[str, int]]:
        return list(zip(label, square, strict=True))

    dr = build(item, square, label, pairs)
    out = await dr.execute(["pairs"], inputs={"n": 5})
    assert out["pairs"] == [[("#0", 0), ("#1", 1), ("#2", 4)], [("#3", 9), ("#4", 16)]]


async def test_windows_run_one_at_a_time_in_window_order() -> None:
    log: list[str] = []

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    async def value(item: int) -> int:
        await asyncio.sleep(0)
        return item

    @window(size=2)
    async def sink(value: Collect[int]) -> int:
        log.append(f"start {value[0]}")
        await asyncio.sleep(0.002)
        log.append(f"end {value[0]}")
        return len(value)

    dr = build(item, value, sink)
    out = await dr.execute(["sink"], inputs={"n": 6})
    assert out == {"sink": [2, 2, 2]}
    assert log == ["start 0", "end 0", "start 2", "end 2", "start 4", "end 4"]


async def test_window_by_seconds_closes_without_waiting_for_more_items() -> None:
    first_window_ran = asyncio.Event()

    async def item(n: int) -> Parallelizable[int]:
        for i in range(3):
            yield i
        await first_window_ran.wait()  # only a window closed by its time lets the source go on
        for i in range(3, n):
            yield i

    def value(item: int) -> int:
        return item

    @window(seconds=0.05)
    def batch(value: Collect[int]) -> list[int]:
        first_window_ran.set()
        return list(value)

    dr = build(item, value, batch)
    async with asyncio.timeout(HANG_GUARD):
        out = await dr.execute(["batch"], inputs={"n": 6})
    assert out == {"batch": [[0, 1, 2], [3, 4, 5]]}


async def test_window_results_are_streamed_as_node_events_indexed_by_window() -> None:
    dr = build(*out_of_order(size=4))
    async with asyncio.timeout(HANG_GUARD):
        events = [e async for e in dr.stream(["batch"], inputs={"n": 9})]
    windows = [e for e in events if e.kind == "node" and e.node == "batch"]
    assert windows == [
        Event("node", "batch", (0,), [0, 2, 4, 6]),
        Event("node", "batch", (1,), [8, 10, 12, 14]),
        Event("node", "batch", (2,), [16]),
    ]
    assert events[-1].value == {"batch": [[0, 2, 4, 6], [8, 10, 12, 14], [16]]}


async def test_node_downstream_of_a_window_receives_the_list_of_window_results() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def value(item: int) -> int:
        return item

    @window(size=2)
    def subtotal(value: Collect[int]) -> int:
        return sum(value)

    def total(subtotal: list[int]) -> tuple[list[int], int]:
        return subtotal, sum(subtotal)

    dr = build(item, value, subtotal, total)
    assert await dr.execute(["total"], inputs={"n": 5}) == {"total": ([1, 5, 4], 10)}


async def test_window_reads_outer_values_beside_its_collects() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def value(item: int) -> int:
        return item

    def prefix() -> str:
        return "w"

    @window(size=2)
    def named(value: Collect[int], prefix: str) -> str:
        return f"{prefix}{list(value)}"

    dr = build(item, value, prefix, named)
    assert await dr.execute(["named"], inputs={"n": 3}) == {"named": ["w[0, 1]", "w[2]"]}


async def test_window_beside_a_plain_collect_of_the_same_block() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def value(item: int) -> int:
        return item

    @window(size=2)
    def parts(value: Collect[int]) -> list[int]:
        return list(value)

    def everything(value: Collect[int]) -> list[int]:
        return list(value)

    dr = build(item, value, parts, everything)
    out = await dr.execute(["parts", "everything"], inputs={"n": 3})
    assert out == {"parts": [[0, 1], [2]], "everything": [0, 1, 2]}


async def test_windows_on_a_thread_executor_match_inline() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def value(item: int) -> int:
        return item + 1

    @window(size=3)
    def batch(value: Collect[int]) -> list[int]:
        return list(value)

    dr = build(item, value, batch, remote=executors.ThreadExecutor(max_tasks=3))
    async with dr:
        out = await dr.execute(["batch"], inputs={"n": 7})
    assert out == {"batch": [[1, 2, 3], [4, 5, 6], [7]]}


def _plus_one(item: int) -> int:
    return item + 1


async def test_windows_on_a_process_executor_are_formed_in_the_parent() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def value(item: int) -> int:
        return item + 1

    @window(size=3)
    def batch(value: Collect[int]) -> tuple[int, list[int]]:
        import os

        return os.getpid(), list(value)

    import os

    dr = build(item, value, batch, remote=executors.ProcessExecutor(max_tasks=2, batch_size=2))
    async with dr:
        out = await dr.execute(["batch"], inputs={"n": 7})
    assert [w for _, w in out["batch"]] == [[1, 2, 3], [4, 5, 6], [7]]
    assert {pid for pid, _ in out["batch"]} == {os.getpid()}


async def test_windows_smaller_than_a_process_batch_do_not_wait_for_a_full_batch() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def value(item: int) -> int:
        return item

    @window(size=2)
    def batch(value: Collect[int]) -> list[int]:
        return list(value)

    remote = executors.ProcessExecutor(max_tasks=1, batch_size=64)
    dr = build(item, value, batch, remote=remote)
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            out = await dr.execute(["batch"], inputs={"n": 40})
    assert out == {"batch": [[i, i + 1] for i in range(0, 40, 2)]}


async def test_a_window_in_a_nested_block_windows_each_outer_branch() -> None:
    def group(n: int) -> Parallelizable[int]:
        yield from range(n)

    def member(group: int) -> Parallelizable[int]:
        yield from range(group * 10, group * 10 + 3)

    def value(member: int) -> int:
        return member

    @window(size=2)
    def pairs(value: Collect[int]) -> list[int]:
        return list(value)

    def every(pairs: Collect[list[list[int]]]) -> list[list[list[int]]]:
        return list(pairs)

    dr = build(group, member, value, pairs, every)
    out = await dr.execute(["every"], inputs={"n": 2})
    assert out == {"every": [[[0, 1], [2]], [[10, 11], [12]]]}


async def test_a_window_error_fails_the_run_naming_the_window() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def value(item: int) -> int:
        return item

    @window(size=2)
    def sink(value: Collect[int]) -> int:
        if value[0] == 2:
            raise ValueError("disk full")
        return 0

    dr = build(item, value, sink)
    with pytest.raises(ValueError, match="disk full") as info:
        await dr.execute(["sink"], inputs={"n": 6})
    assert "node 'sink' in branch sink[1]" in "\n".join(info.value.__notes__)


async def test_a_branch_value_is_dropped_once_its_window_ran() -> None:
    """1,500 branches of 50 kB each would hold 75 MB; windows of 50 hold far less."""

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    async def blob(item: int) -> bytes:
        await asyncio.sleep(0)
        return bytes(50_000)

    @window(size=50)
    async def sink(blob: Collect[bytes]) -> int:
        await asyncio.sleep(0.0005)  # slower than the source: back-pressure must hold it
        return len(blob)

    dr = build(item, blob, sink, remote=executors.InlineExecutor(max_tasks=16))
    tracemalloc.start()
    try:
        out = await dr.execute(["sink"], inputs={"n": 1_500})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert sum(out["sink"]) == 1_500
    assert peak < 20_000_000, f"peak {peak / 1e6:.1f} MB"


def test_window_needs_a_size_or_seconds() -> None:
    with pytest.raises(ValueError, match="size"):
        window()
    with pytest.raises(ValueError, match="size"):
        window(size=0)
    with pytest.raises(ValueError, match="seconds"):
        window(seconds=-1)


async def test_window_on_a_function_without_collect_is_a_graph_error() -> None:
    def x() -> int:
        return 1

    @window(size=2)
    def sink(x: int) -> int:
        return x

    dr = build(x, sink)
    with pytest.raises(GraphError, match=r"'sink'.*Collect"):
        await dr.execute(["sink"])
