"""Concurrency: many executions share one Driver, and long sync fan-outs leave the loop free."""

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

from conftest import HANG_GUARD, PATIENCE, build

from asyncdag import Collect, Parallelizable

# Bounds a wait that a correct engine ends at once: a wrong one fails the test instead of hanging.


async def test_hundred_concurrent_executes_on_one_driver_each_return_their_own_result() -> None:
    def doubled(x: int) -> int:
        return x * 2

    async def shifted(doubled: int, x: int) -> int:
        await asyncio.sleep(0)
        return doubled + x

    dr = build(doubled, shifted)

    results = await asyncio.gather(*(dr.execute(["shifted"], inputs={"x": i}) for i in range(100)))

    assert results == [{"shifted": 3 * i} for i in range(100)]


async def test_concurrent_fanout_executes_interleave_and_each_gets_its_own_result() -> None:
    runs = 5
    runs_with_a_running_branch: set[int] = set()
    every_run_is_running = asyncio.Event()

    async def item(n: int) -> Parallelizable[int]:
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    async def weighted(item: int, n: int) -> int:
        runs_with_a_running_branch.add(n)
        if len(runs_with_a_running_branch) == runs:
            every_run_is_running.set()
        # No branch finishes until every execution has a branch running: they must interleave.
        async with asyncio.timeout(PATIENCE):
            await every_run_is_running.wait()
        return item * n

    def total(weighted: Collect[int]) -> int:
        return sum(weighted)

    dr = build(item, weighted, total)
    sizes = range(1, runs + 1)

    results = await asyncio.gather(*(dr.execute(["total"], inputs={"n": n}) for n in sizes))

    assert results == [{"total": n * sum(range(n))} for n in sizes]


async def test_loop_runs_other_tasks_during_a_long_inline_sync_fanout() -> None:
    n_items = 100_000
    heartbeats = 0
    heartbeats_at: dict[str, int] = {}

    async def heartbeat() -> None:
        nonlocal heartbeats
        while True:
            heartbeats += 1
            await asyncio.sleep(0)

    def item() -> Parallelizable[int]:
        yield from range(n_items)

    def doubled(item: int) -> int:
        if item == 0:
            heartbeats_at["first branch"] = heartbeats
        elif item == n_items - 1:
            heartbeats_at["last branch"] = heartbeats
        return item * 2

    def total(doubled: Collect[int]) -> int:
        return sum(doubled)

    dr = build(item, doubled, total)

    beat = asyncio.create_task(heartbeat())
    try:
        result = await dr.execute(["total"])
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat

    assert result == {"total": n_items * (n_items - 1)}
    during_fanout = heartbeats_at["last branch"] - heartbeats_at["first branch"]
    assert during_fanout > 3, heartbeats_at


async def test_a_task_sleeping_on_a_timer_wakes_between_every_two_slow_inline_branches() -> None:
    """Each inline branch holds the loop 10 ms; a task whose 1 ms sleep fell due meanwhile
    runs before the next branch starts, not a branch or two later."""
    events: list[str] = []

    async def heartbeat() -> None:
        while True:
            await asyncio.sleep(0.001)
            events.append("beat")

    def item() -> Parallelizable[int]:
        yield from range(8)

    def slow(item: int) -> int:
        events.append("branch")
        end = time.perf_counter() + 0.01
        while time.perf_counter() < end:  # CPU-bound: holds the loop
            pass
        return item

    def total(slow: Collect[int]) -> int:
        return sum(slow)

    dr = build(item, slow, total)
    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0)  # its first sleep starts before the branches do
    try:
        async with asyncio.timeout(HANG_GUARD):
            result = await dr.execute(["total"])
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
    assert result == {"total": sum(range(8))}
    branches = [at for at, event in enumerate(events) if event == "branch"]
    back_to_back = [at for at in branches if at + 1 in branches]
    assert not back_to_back, events


def make_sync_and_async_dag() -> list[Callable[..., Any]]:
    async def url(n: int) -> Parallelizable[int]:
        for i in range(n):
            await asyncio.sleep(0)
            yield i

    async def squared(url: int) -> int:
        await asyncio.sleep(0)
        return url * url

    def offset(n: int) -> int:
        return n * 1000

    def total(squared: Collect[int], offset: int) -> int:
        return sum(squared) + offset

    def squares(squared: Collect[int]) -> list[int]:
        return squared

    return [url, squared, offset, total, squares]


def test_execute_sync_returns_the_same_result_as_execute() -> None:
    dr = build(*make_sync_and_async_dag())

    from_sync = dr.execute_sync(["total", "squares"], inputs={"n": 6})
    from_async = asyncio.run(dr.execute(["total", "squares"], inputs={"n": 6}))

    expected = {"total": 6000 + 55, "squares": [0, 1, 4, 9, 16, 25]}
    assert from_sync == expected
    assert from_async == expected
