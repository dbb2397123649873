"""Load and soak: many executions at once, many in a row, and nothing accumulates.

Resources are counted, never timed: tasks (``asyncio.all_tasks()``), threads, child processes,
open file descriptors and traced memory. /proc is read from a thread (it blocks the loop).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import random
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import psutil
import pytest
from conftest import HANG_GUARD, make_module

from asyncdag import Builder, Collect, Parallelizable, executors

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

# Bounds a wait that a correct engine ends at once: a wrong one fails the test instead of hanging.
CONCURRENT = 1_000
SEQUENTIAL = 10_000
PROCESS_SEQUENTIAL = 200
MEMORY_BOUND = 2 * 1024 * 1024  # bytes of traced memory 10,000 executes may leave behind


@contextlib.contextmanager
def loop_debug_off() -> Iterator[None]:
    """Leave asyncio's debug mode (on for the suite) for a loop of many executes.

    Debug mode records a stack for every task, which makes an execute ~15x slower; the
    counts these tests check do not depend on it.
    """
    loop = asyncio.get_running_loop()
    was = loop.get_debug()
    loop.set_debug(False)
    try:
        yield
    finally:
        loop.set_debug(was)


def small_dag() -> tuple[Callable[..., Any], ...]:
    """``total(x) = sum(i * 2x for i in range(x % 4 + 1))``: a fan-out, async and sync nodes
    (the sync branch node runs on the remote executor)."""

    async def base(x: int) -> int:
        await asyncio.sleep(0)
        return 2 * x

    def item(x: int) -> Parallelizable[int]:
        yield from range(x % 4 + 1)

    async def lifted(item: int) -> int:
        await asyncio.sleep(0)
        return item

    def scaled(lifted: int, base: int) -> int:
        return lifted * base

    def total(scaled: Collect[int]) -> int:
        return sum(scaled)

    return base, item, lifted, scaled, total


def expected_total(x: int) -> int:
    return sum(i * 2 * x for i in range(x % 4 + 1))


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def child_pids() -> set[int]:
    return {c.pid for c in psutil.Process().children(recursive=True) if c.status() != "zombie"}


async def resources() -> dict[str, Any]:
    """What an execution could leak: tasks, threads, fds and child processes."""
    fds, children = await asyncio.to_thread(lambda: (open_fds(), child_pids()))
    return {
        "tasks": asyncio.all_tasks() - {asyncio.current_task()},
        "threads": threading.active_count(),
        "fds": fds,
        "children": children,
    }


@pytest.mark.parametrize(
    "remote",
    [executors.InlineExecutor, lambda: executors.ThreadExecutor(max_tasks=4)],
    ids=["inline", "thread"],
)
async def test_a_thousand_concurrent_executes_on_one_driver_all_return_their_own_result(
    remote: Callable[[], executors.Executor],
) -> None:
    waiting = 0
    most_waiting = 0
    everyone_in = asyncio.Event()

    async def base(x: int) -> int:
        # Every execution reaches this node before any leaves it: all run at once.
        nonlocal waiting, most_waiting
        waiting += 1
        most_waiting = max(most_waiting, waiting)
        if waiting == CONCURRENT:
            everyone_in.set()
        async with asyncio.timeout(HANG_GUARD):
            await everyone_in.wait()
        return 2 * x

    def item(x: int) -> Parallelizable[int]:
        yield from range(x % 4 + 1)

    def scaled(item: int, base: int) -> int:  # sync: runs on the remote executor
        return item * base

    def total(scaled: Collect[int]) -> int:
        return sum(scaled)

    def tagged(total: int, x: int) -> tuple[int, int]:
        return x, total

    dr = Builder().with_modules(make_module(base, item, scaled, total, tagged))
    dr = dr.with_remote_executor(remote()).build()
    with loop_debug_off():
        async with dr:
            results = await asyncio.gather(
                *(dr.execute(["tagged"], inputs={"x": x}) for x in range(CONCURRENT))
            )

    assert most_waiting == CONCURRENT
    assert [r["tagged"] for r in results] == [(x, expected_total(x)) for x in range(CONCURRENT)]


async def run_sequentially(dr: Any, xs: range) -> list[tuple[int, Any]]:
    """Execute ``total`` for each x in turn; the wrong answers."""
    wrong = []
    for x in xs:
        out = await dr.execute(["total"], inputs={"x": x})
        if out != {"total": expected_total(x)}:
            wrong.append((x, out))
    return wrong


@pytest.mark.parametrize(
    "remote",
    [executors.InlineExecutor, lambda: executors.ThreadExecutor(max_tasks=4)],
    ids=["inline", "thread"],
)
async def test_ten_thousand_sequential_executes_leave_no_task_thread_fd_or_process_behind(
    remote: Callable[[], executors.Executor],
) -> None:
    dr = Builder().with_modules(make_module(*small_dag())).with_remote_executor(remote()).build()
    with loop_debug_off():
        async with dr:
            await run_sequentially(dr, range(100))  # warm: plans, the to_thread pool
            before = await resources()
            wrong = await run_sequentially(dr, range(SEQUENTIAL))
            after = await resources()

    assert wrong == []
    assert after == before


async def test_ten_thousand_sequential_executes_grow_traced_memory_by_less_than_2_mb() -> None:
    dr = Builder().with_modules(make_module(*small_dag())).build()
    tracemalloc.start()
    try:
        with loop_debug_off():
            async with dr:
                await run_sequentially(dr, range(100))
                gc.collect()
                before, _ = tracemalloc.get_traced_memory()
                wrong = await run_sequentially(dr, range(SEQUENTIAL))
                gc.collect()
                after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert wrong == []
    assert after - before < MEMORY_BOUND, f"{(after - before) / 1024:.0f} KiB left behind"


async def test_two_hundred_process_executes_reuse_the_same_workers_and_leak_nothing() -> None:
    def item(x: int) -> Parallelizable[int]:
        yield from range(x % 3 + 2)

    def work(item: int, x: int) -> tuple[int, int]:
        return os.getpid(), item * x

    def rows(work: Collect[tuple[int, int]]) -> list[tuple[int, int]]:
        return work

    executor = executors.ProcessExecutor(max_tasks=2)
    dr = Builder().with_modules(make_module(item, work, rows)).with_remote_executor(executor)
    dr = dr.build()
    async with dr:
        # Warm: both workers started (two items at once need both).
        await dr.execute(["rows"], inputs={"x": 1})
        workers = set(executor.worker_pids())
        assert len(workers) == 2, "premise: both workers started"
        before = await resources()
        used: set[int] = set()
        wrong = []
        for x in range(PROCESS_SEQUENTIAL):
            out = (await dr.execute(["rows"], inputs={"x": x}))["rows"]
            used |= {pid for pid, _ in out}
            if [v for _, v in out] != [i * x for i in range(x % 3 + 2)]:
                wrong.append((x, out))
        after = await resources()
        assert set(executor.worker_pids()) == workers

    assert wrong == []
    assert used == workers
    assert before["children"] == workers
    assert after == before
    assert await asyncio.to_thread(child_pids) == set()


async def test_sixty_concurrent_process_executes_with_twenty_cancelled_leave_the_rest_right() -> (
    None
):
    """Cancellations land at scattered points (every few loop turns) among executes that
    share two workers: the others are unharmed, the pool never grows, nothing is left."""

    def item(x: int) -> Parallelizable[int]:
        yield from range(x % 3 + 1)

    def work(item: int, x: int) -> int:
        return item * x

    def total(work: Collect[int]) -> int:
        return sum(work)

    rng = random.Random(7)
    executor = executors.ProcessExecutor(max_tasks=2, batch_size=2)
    dr = Builder().with_modules(make_module(item, work, total)).with_remote_executor(executor)
    most_workers = 0
    async with dr.build() as dr:
        tasks = [asyncio.create_task(dr.execute(["total"], inputs={"x": x})) for x in range(60)]
        doomed = rng.sample(range(60), 20)
        for x in doomed:
            for _ in range(rng.randint(0, 30)):
                await asyncio.sleep(0)
                most_workers = max(most_workers, len(executor.worker_pids()))
            tasks[x].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert await dr.execute(["total"], inputs={"x": 5}) == {"total": 15}

    wrong = [
        (x, result)
        for x, result in enumerate(results)
        if x not in doomed and result != {"total": sum(i * x for i in range(x % 3 + 1))}
    ]
    assert wrong == []
    assert all(isinstance(results[x], asyncio.CancelledError | dict) for x in doomed), (
        "a cancelled execute raises CancelledError, or had already returned"
    )
    assert most_workers <= 2
    assert await asyncio.to_thread(child_pids) == set()
