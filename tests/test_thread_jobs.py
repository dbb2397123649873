"""Sync nodes bound for one thread executor: one thread job per branch or chain, not per node."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from conftest import HANG_GUARD, PATIENCE, build, make_module, wait_patiently

from asyncdag import Builder, Collect, Parallelizable, executors

pytestmark = pytest.mark.timeout(60)


class CountingThreads(executors.ThreadExecutor):
    """A thread executor that counts the jobs it is given."""

    def __init__(self, max_tasks: int) -> None:
        super().__init__(max_tasks)
        self.jobs = 0

    async def submit(self, unit: Any) -> Any:
        self.jobs += 1
        return await super().submit(unit)


def three_node_branch() -> tuple[Any, ...]:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def first(item: int) -> tuple[int, int]:
        return item + 1, threading.get_ident()

    def second(first: tuple[int, int]) -> tuple[int, int, int]:
        return first[0] * 2, first[1], threading.get_ident()

    def third(second: tuple[int, int, int]) -> tuple[int, bool]:
        value, *threads = second
        return value - 1, len({*threads, threading.get_ident()}) == 1

    def total(third: Collect[tuple[int, bool]]) -> list[tuple[int, bool]]:
        return list(third)

    return item, first, second, third, total


async def test_a_branch_of_sync_nodes_on_a_thread_executor_is_one_thread_job() -> None:
    threads = CountingThreads(max_tasks=2)
    dr = build(*three_node_branch(), remote=threads)
    async with dr:
        out = (await dr.execute(["total"], inputs={"n": 20}))["total"]
    assert [value for value, _ in out] == [(i + 1) * 2 - 1 for i in range(20)]
    assert all(same_thread for _, same_thread in out), "a branch hopped between threads"
    assert threads.jobs <= 20, f"{threads.jobs} thread jobs for 20 branches of 3 nodes"


async def test_a_chain_of_sync_nodes_on_a_thread_executor_is_one_thread_job() -> None:
    source = "def n_0(x: int) -> int:\n    return x + 1\n" + "".join(
        f"def n_{i}(n_{i - 1}: int) -> int:\n    return n_{i - 1} + 1\n" for i in range(1, 50)
    )
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    module = make_module(*(namespace[f"n_{i}"] for i in range(50)))
    threads = CountingThreads(max_tasks=2)
    dr = Builder().with_modules(module).with_local_executor(threads).build()
    async with dr:
        assert await dr.execute(["n_49"], inputs={"x": 0}) == {"n_49": 50}
    assert threads.jobs == 1


async def test_thread_branches_start_as_soon_as_their_item_is_yielded() -> None:
    first_done = threading.Event()
    seen_before_next: list[bool] = []

    async def item() -> Any:
        yield 0
        # Branch 0 must finish while the generator still holds item 1 back.
        await asyncio.to_thread(first_done.wait, PATIENCE)
        seen_before_next.append(first_done.is_set())
        yield 1

    item.__annotations__["return"] = Parallelizable[int]

    def work(item: int) -> int:
        if item == 0:
            first_done.set()
        return item

    def total(work: Collect[int]) -> list[int]:
        return list(work)

    dr = build(item, work, total, remote=executors.ThreadExecutor(max_tasks=2))
    async with dr, asyncio.timeout(HANG_GUARD):
        assert await dr.execute(["total"]) == {"total": [0, 1]}
    assert seen_before_next == [True]


async def test_cancelling_a_run_stops_its_thread_job_before_the_next_call() -> None:
    started, release = asyncio.Event(), threading.Event()
    loop = asyncio.get_running_loop()
    ran: list[str] = []

    def a(x: int) -> int:
        loop.call_soon_threadsafe(started.set)
        release.wait(HANG_GUARD)
        ran.append("a")
        return x

    def b(a: int) -> int:
        ran.append("b")
        return a

    dr = build(a, b, local=executors.ThreadExecutor(max_tasks=1))
    async with dr:
        task = asyncio.create_task(dr.execute(["b"], inputs={"x": 1}))
        await wait_patiently(started)
        task.cancel()
        await asyncio.sleep(0.05)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert ran == ["a"], "the call after the cancellation ran"
