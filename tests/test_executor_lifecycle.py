"""Executors under cancellation, many threads and ``aclose``: queued work never starts, one
Driver serves many threads, and nothing the Driver started runs after ``aclose()`` returns.

Jobs are counted, never timed: a test holds the running jobs on a ``threading.Event`` gate,
lets the cancellation land, opens the gate, then looks at which jobs ever started.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from conftest import HANG_GUARD, PATIENCE, build, children, wait_patiently

from asyncdag import Collect, Parallelizable, executors, tag
from asyncdag.errors import AsyncDagError, ExecutorError
from asyncdag.execution.executors.base import Call

pytestmark = pytest.mark.timeout(90)


async def let_cancellation_land() -> None:
    """Enough loop iterations for a cancellation to reach every task of an execution."""
    for _ in range(100):
        await asyncio.sleep(0)


class Gate:
    """Thread jobs record that they started, then wait until the test opens the gate."""

    def __init__(self, running_wanted: int) -> None:
        self.started: list[Any] = []
        self.running = asyncio.Event()  # set once ``running_wanted`` jobs have started
        self._wanted = running_wanted
        self._open = threading.Event()
        self._loop = asyncio.get_running_loop()
        self._lock = threading.Lock()

    def enter(self, what: Any) -> None:
        """Called on a worker thread by a job."""
        with self._lock:
            self.started.append(what)
            if len(self.started) == self._wanted:
                self._loop.call_soon_threadsafe(self.running.set)
        self._open.wait(HANG_GUARD)

    def open(self) -> None:
        self._open.set()


def blocked_fan_out(gate: Gate, *, fail_on: int | None = None) -> tuple[Any, ...]:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @tag(executor="t")
    def work(item: int) -> int:
        gate.enter(item)
        return item

    async def check(item: int) -> int:
        if item == fail_on:
            await gate.running.wait()
            raise ValueError("boom")
        return item

    def results(work: Collect[int], check: Collect[int]) -> list[int]:
        return list(work)

    return item, work, check, results


# -- 1. cancelling never waits for work that has not started ---------------------------------


async def test_cancelling_execute_never_starts_jobs_queued_on_a_named_thread_executor() -> None:
    gate = Gate(running_wanted=2)
    dr = build(*blocked_fan_out(gate), t=executors.ThreadExecutor(max_tasks=2))
    async with dr:
        task = asyncio.create_task(dr.execute(["results"], inputs={"n": 20}))
        await wait_patiently(gate.running)
        task.cancel()
        await let_cancellation_land()
        gate.open()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(HANG_GUARD):
                await task

    assert len(gate.started) == 2, "only the two running jobs ran; the 18 queued ones never did"


async def test_fail_fast_never_starts_jobs_queued_on_a_named_thread_executor() -> None:
    gate = Gate(running_wanted=2)
    dr = build(*blocked_fan_out(gate, fail_on=19), t=executors.ThreadExecutor(max_tasks=2))
    async with dr:
        task = asyncio.create_task(dr.execute(["results"], inputs={"n": 20}))
        await wait_patiently(gate.running)  # branch 19 fails now
        await let_cancellation_land()
        gate.open()
        with pytest.raises(ValueError, match="boom"):
            async with asyncio.timeout(HANG_GUARD):
                await task

    assert len(gate.started) == 2, "only the two running jobs ran; the queued ones never did"


def two_runs_module(gate: Gate) -> tuple[Any, ...]:
    """Run "a" holds the threads; run "b" only records that its job started."""

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int, who: str) -> int:
        if who == "a":
            gate.enter((who, item))
        else:
            gate.started.append((who, item))
        return item

    def results(work: Collect[int]) -> list[int]:
        return list(work)

    return item, work, results


async def test_cancelled_execute_drops_its_jobs_queued_on_the_remote_thread_executor() -> None:
    gate = Gate(running_wanted=2)
    dr = build(*two_runs_module(gate), remote=executors.ThreadExecutor(max_tasks=2))
    async with dr:
        holder = asyncio.create_task(dr.execute(["results"], inputs={"n": 2, "who": "a"}))
        await wait_patiently(gate.running)  # both threads busy with run "a"
        queued = asyncio.create_task(dr.execute(["results"], inputs={"n": 2, "who": "b"}))
        await let_cancellation_land()  # run "b" has queued its two jobs
        queued.cancel()
        done, _ = await asyncio.wait({queued}, timeout=PATIENCE)
        gate.open()
        async with asyncio.timeout(HANG_GUARD):
            assert await holder == {"results": [0, 1]}
            await asyncio.gather(queued, return_exceptions=True)

    assert queued in done, "the cancelled run returned while the threads were still busy"
    assert queued.cancelled()
    assert all(who == "a" for who, _ in gate.started), "run b's queued jobs never started"


async def test_cancelled_execute_does_not_wait_for_its_units_queued_for_a_worker() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int, hold: bool) -> int:
        if hold:
            time.sleep(HANG_GUARD)  # ended by the cancellation, which stops the worker
        return os.getpid()

    def results(work: Collect[int]) -> list[int]:
        return list(work)

    executor = executors.ProcessExecutor(max_tasks=1)
    dr = build(item, work, results, remote=executor)
    async with dr:
        holder = asyncio.create_task(dr.execute(["results"], inputs={"n": 1, "hold": True}))
        async with asyncio.timeout(HANG_GUARD):
            while not executor.worker_pids():  # the one worker is up, holding run "a"
                await asyncio.sleep(0.02)
        queued = asyncio.create_task(dr.execute(["results"], inputs={"n": 1, "hold": False}))
        await let_cancellation_land()
        queued.cancel()
        done, _ = await asyncio.wait({queued}, timeout=PATIENCE)
        holder.cancel()
        await asyncio.gather(holder, queued, return_exceptions=True)

    assert queued in done, "the cancelled run returned while the worker was still busy"
    assert await asyncio.to_thread(children) == []


# -- 2. one Driver, many threads ---------------------------------------------------------------

THREADS = 6


def thread_safe_module() -> tuple[Any, ...]:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def square(item: int) -> int:
        return item * item

    def total(square: Collect[int], n: int) -> tuple[int, int]:
        return n, sum(square)

    return item, square, total


@pytest.mark.allow_blocking
@pytest.mark.parametrize(
    ("make_executor", "calls"),
    [
        (executors.InlineExecutor, 20),
        (lambda: executors.ThreadExecutor(max_tasks=2), 20),
        (lambda: executors.ProcessExecutor(max_tasks=1), 2),
    ],
    ids=["inline", "thread", "process"],
)
def test_execute_sync_from_many_threads_at_once_gives_each_its_result_and_leaves_nothing(
    make_executor: Callable[[], executors.Executor], calls: int
) -> None:
    dr = build(*thread_safe_module(), remote=make_executor())
    threads_before = threading.active_count()
    everyone_ready = threading.Barrier(THREADS)

    def caller(k: int) -> list[tuple[int, int]]:
        everyone_ready.wait(HANG_GUARD)
        return [dr.execute_sync(["total"], inputs={"n": k + i})["total"] for i in range(calls)]

    with ThreadPoolExecutor(THREADS) as callers:
        got = list(callers.map(caller, range(THREADS)))

    expected = [
        [(k + i, sum(j * j for j in range(k + i))) for i in range(calls)] for k in range(THREADS)
    ]
    assert got == expected
    assert threading.active_count() == threads_before, "no thread is left running"
    assert children() == [], "no worker process is left running"


# -- 3. aclose() while an execute runs -------------------------------------------------------


def thread_chain(gate: Gate) -> tuple[Any, ...]:
    def first(x: int) -> int:
        gate.enter("first")
        return x

    def second(first: int) -> int:
        gate.started.append("second")
        return first + 1

    return first, second


async def test_aclose_waits_for_an_execute_in_flight_and_no_thread_job_runs_after() -> None:
    gate = Gate(running_wanted=1)
    dr = build(*thread_chain(gate), local=executors.ThreadExecutor(max_tasks=2))
    task = asyncio.create_task(dr.execute(["second"], inputs={"x": 1}))
    await wait_patiently(gate.running)
    closing = asyncio.create_task(dr.aclose())
    await let_cancellation_land()
    gate.open()
    async with asyncio.timeout(HANG_GUARD):
        await closing

    assert task.done(), "aclose() returned only once the execute in flight had finished"
    assert task.result() == {"second": 2}
    jobs_at_close = list(gate.started)
    await let_cancellation_land()
    assert gate.started == jobs_at_close == ["first", "second"]


async def test_aclose_with_an_execute_in_flight_leaves_no_worker_process() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int) -> int:
        time.sleep(0.05)
        return os.getpid()

    def results(work: Collect[int]) -> list[int]:
        return list(work)

    executor = executors.ProcessExecutor(max_tasks=2)
    dr = build(item, work, results, remote=executor)
    task = asyncio.create_task(dr.execute(["results"], inputs={"n": 8}))
    async with asyncio.timeout(HANG_GUARD):
        while not executor.worker_pids():
            await asyncio.sleep(0.02)
        await dr.aclose()

    assert task.done(), "aclose() returned only once the execute in flight had finished"
    assert len(task.result()["results"]) == 8
    assert executor.worker_pids() == []
    assert await asyncio.to_thread(children) == []


async def test_execute_started_while_aclose_is_closing_raises_a_clear_error() -> None:
    gate = Gate(running_wanted=1)
    dr = build(*thread_chain(gate), local=executors.ThreadExecutor(max_tasks=2))
    task = asyncio.create_task(dr.execute(["second"], inputs={"x": 1}))
    await wait_patiently(gate.running)
    closing = asyncio.create_task(dr.aclose())
    await let_cancellation_land()
    try:
        with pytest.raises(AsyncDagError, match=r"aclose\(\)") as info:
            await dr.execute(["second"], inputs={"x": 2})
    finally:
        gate.open()
        async with asyncio.timeout(HANG_GUARD):
            await asyncio.gather(closing, task)
    assert "after aclose() has returned" in str(info.value)


async def test_a_driver_runs_again_after_aclose_returned() -> None:
    gate = Gate(running_wanted=1)
    gate.open()
    dr = build(*thread_chain(gate), local=executors.ThreadExecutor(max_tasks=2))
    assert await dr.execute(["second"], inputs={"x": 1}) == {"second": 2}
    await dr.aclose()
    assert await dr.execute(["second"], inputs={"x": 5}) == {"second": 6}
    await dr.aclose()


async def test_a_unit_waiting_for_a_worker_when_the_executor_closes_starts_none() -> None:
    executor = executors.ProcessExecutor(max_tasks=1)
    holding = asyncio.create_task(executor.submit(Call("slow", "", lambda: time.sleep(0.5), {})))
    async with asyncio.timeout(HANG_GUARD):
        while not executor.worker_pids():
            await asyncio.sleep(0.02)
    waiting = asyncio.create_task(executor.submit(Call("late", "item[3]", os.getpid, {})))
    await let_cancellation_land()  # it waits for the one worker
    async with asyncio.timeout(HANG_GUARD):
        await executor.aclose()
        await holding
        with pytest.raises(ExecutorError, match=r"node 'late' in branch item\[3\]"):
            await waiting

    assert executor.worker_pids() == []
    assert await asyncio.to_thread(children) == []
