"""Branches of sync nodes on a thread executor share its threads: a slow branch never holds
queued branches on its own thread while other threads are free, and trivial branches still
run many to a thread job.

Nothing here is timed: branches that can only pass a ``threading.Barrier`` together prove
they ran on separate threads at once.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from conftest import HANG_GUARD, PATIENCE, build, notes_of, wait_patiently

from asyncdag import Collect, Parallelizable, executors, tag

pytestmark = pytest.mark.timeout(60)


class CountingThreads(executors.ThreadExecutor):
    """A thread executor that counts the jobs it is given."""

    def __init__(self, max_tasks: int) -> None:
        super().__init__(max_tasks)
        self.jobs = 0

    async def submit(self, unit: Any) -> Any:
        self.jobs += 1
        return await super().submit(unit)


def barrier_fan_out(parties: int) -> tuple[Any, ...]:
    """Branches that pass only ``parties`` at a time, each on its own thread."""
    barrier = threading.Barrier(parties, timeout=PATIENCE)

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int) -> tuple[int, int]:
        barrier.wait()  # BrokenBarrierError unless ``parties`` branches wait at once
        return item, threading.get_ident()

    def total(work: Collect[tuple[int, int]]) -> list[tuple[int, int]]:
        return list(work)

    return item, work, total


async def test_branches_queued_while_all_threads_are_busy_spread_over_all_threads() -> None:
    # Branches 10..19 gather while 0..9 hold all ten threads; they can only pass the
    # barrier if they then run on the ten threads at once, not one after another on one.
    dr = build(*barrier_fan_out(10), remote=executors.ThreadExecutor(max_tasks=10))
    async with dr, asyncio.timeout(HANG_GUARD):
        out = (await dr.execute(["total"], inputs={"n": 20}))["total"]
    assert [item for item, _ in out] == list(range(20))
    assert len({thread for _, thread in out}) == 10


async def test_branches_queued_on_a_named_thread_executor_spread_over_its_threads() -> None:
    barrier = threading.Barrier(4, timeout=PATIENCE)

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @tag(executor="io")
    def work(item: int) -> int:
        barrier.wait()
        return item * 2

    def total(work: Collect[int]) -> list[int]:
        return list(work)

    dr = build(item, work, total, io=executors.ThreadExecutor(max_tasks=4))
    async with dr, asyncio.timeout(HANG_GUARD):
        assert await dr.execute(["total"], inputs={"n": 12}) == {
            "total": [i * 2 for i in range(12)]
        }


async def test_trivial_thread_branches_complete_in_yield_order_with_few_thread_jobs() -> None:
    n_items = 5000

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int) -> int:
        return item + 1

    def total(work: Collect[int]) -> list[int]:
        return list(work)

    threads = CountingThreads(max_tasks=4)
    dr = build(item, work, total, remote=threads)
    async with dr, asyncio.timeout(HANG_GUARD):
        assert await dr.execute(["total"], inputs={"n": n_items}) == {
            "total": [i + 1 for i in range(n_items)]
        }
    assert threads.jobs < n_items // 2, f"{threads.jobs} thread jobs for {n_items} branches"


async def test_a_failing_shared_branch_names_its_node_and_branch_index() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int) -> int:
        if item == 17:
            raise ValueError("bad item")
        return item

    def total(work: Collect[int]) -> int:
        return sum(work)

    dr = build(item, work, total, remote=executors.ThreadExecutor(max_tasks=3))
    async with dr, asyncio.timeout(HANG_GUARD):
        with pytest.raises(ValueError, match="bad item") as excinfo:
            await dr.execute(["total"], inputs={"n": 40})
    assert "work" in notes_of(excinfo.value)
    assert "item[17]" in notes_of(excinfo.value)


async def test_a_failing_shared_branch_never_starts_the_branches_still_queued() -> None:
    loop = asyncio.get_running_loop()
    running, release, failing = asyncio.Event(), threading.Event(), threading.Event()
    started: list[int] = []

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int) -> int:
        started.append(item)
        if item == 0:
            loop.call_soon_threadsafe(running.set)
            release.wait(HANG_GUARD)
            failing.set()
            raise ValueError("first fails")
        if item == 1:
            release.wait(HANG_GUARD)
            failing.wait(HANG_GUARD)
        return item

    def total(work: Collect[int]) -> int:
        return sum(work)

    dr = build(item, work, total, remote=executors.ThreadExecutor(max_tasks=2))
    async with dr:
        task = asyncio.create_task(dr.execute(["total"], inputs={"n": 50}))
        await wait_patiently(running)
        for _ in range(100):  # the generator fills the queue while both threads are held
            await asyncio.sleep(0)
        release.set()
        with pytest.raises(ValueError, match="first fails"):
            async with asyncio.timeout(HANG_GUARD):
                await task
    # Branch 1's thread finishes it, then sees the failure and takes no queued branch.
    assert sorted(started) == [0, 1], f"queued branches started after the failure: {started}"


async def test_cancelling_a_run_drops_its_queued_thread_branches() -> None:
    loop = asyncio.get_running_loop()
    running, release = asyncio.Event(), threading.Event()
    started: list[int] = []
    lock = threading.Lock()

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int) -> int:
        with lock:
            started.append(item)
            if len(started) == 2:
                loop.call_soon_threadsafe(running.set)
        release.wait(HANG_GUARD)
        return item

    def total(work: Collect[int]) -> int:
        return sum(work)

    dr = build(item, work, total, remote=executors.ThreadExecutor(max_tasks=2))
    async with dr:
        task = asyncio.create_task(dr.execute(["total"], inputs={"n": 50}))
        await wait_patiently(running)
        task.cancel()
        for _ in range(100):
            await asyncio.sleep(0)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(HANG_GUARD):
                await task
    assert len(started) == 2, f"queued branches started after the cancellation: {started}"


async def test_a_fast_generator_waits_while_the_thread_queue_is_full() -> None:
    loop = asyncio.get_running_loop()
    held, release = asyncio.Event(), threading.Event()
    yielded: list[int] = []

    def item(n: int) -> Parallelizable[int]:
        for i in range(n):
            yielded.append(i)
            yield i

    def work(item: int) -> int:
        if item == 0:
            loop.call_soon_threadsafe(held.set)
        release.wait(HANG_GUARD)
        return item

    def total(work: Collect[int]) -> int:
        return len(work)

    dr = build(item, work, total, remote=executors.ThreadExecutor(max_tasks=2))
    async with dr:
        task = asyncio.create_task(dr.execute(["total"], inputs={"n": 100_000}))
        await wait_patiently(held)
        for _ in range(100):
            await asyncio.sleep(0)
        waiting = len(yielded)
        release.set()
        async with asyncio.timeout(HANG_GUARD):
            assert await task == {"total": 100_000}
    assert waiting < 1000, f"the generator ran {waiting} items ahead of two held threads"


async def test_a_failing_shared_branch_of_a_nested_block_names_its_branch_path() -> None:
    def outer(n: int) -> Parallelizable[int]:
        yield from range(n)

    def inner(outer: int) -> Parallelizable[int]:
        yield from range(outer * 10, outer * 10 + 30)

    def work(inner: int) -> int:
        if inner == 37:  # outer branch 1, its inner branch 27
            raise ValueError("bad inner item")
        return inner

    def per_outer(work: Collect[int]) -> int:
        return sum(work)

    def total(per_outer: Collect[int]) -> int:
        return sum(per_outer)

    dr = build(outer, inner, work, per_outer, total, remote=executors.ThreadExecutor(max_tasks=3))
    async with dr, asyncio.timeout(HANG_GUARD):
        assert await dr.execute(["total"], inputs={"n": 1}) == {"total": sum(range(30))}
        with pytest.raises(ValueError, match="bad inner item") as excinfo:
            await dr.execute(["total"], inputs={"n": 2})
    assert "work" in notes_of(excinfo.value)
    assert "outer[1].inner[27]" in notes_of(excinfo.value)
