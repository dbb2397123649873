"""Branches shipped to worker processes in large automatic batches (chunks) keep every
guarantee of a branch shipped alone: yield order, failures and crashes named with the node
and the branch index, skips left out of aligned Collects, log records tagged with their
branch. Each driver runs a block once first, so that the batches have grown."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import Any

import pytest
from conftest import HANG_GUARD, build, children, notes_of

from asyncdag import Collect, Parallelizable, executors, on_branch_error
from asyncdag.errors import WorkerCrashedError

pytestmark = pytest.mark.timeout(60)

N = 3000
BAD = 2999


def item(n: int) -> Parallelizable[int]:
    yield from range(n)


async def no_worker_left() -> None:
    assert await asyncio.to_thread(children) == []


async def test_branches_of_several_nodes_and_outer_values_keep_yield_order() -> None:
    def scaled(item: int, factor: int) -> int:
        return item * factor

    def shifted(scaled: int, item: int) -> int:
        return scaled + item

    def results(shifted: Collect[int], scaled: Collect[int]) -> tuple[list[int], list[int]]:
        return list(shifted), list(scaled)

    dr = build(item, scaled, shifted, results, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr, asyncio.timeout(HANG_GUARD):
        for factor in (2, 3):
            out = await dr.execute(["results"], inputs={"n": N, "factor": factor})
            expected = ([i * factor + i for i in range(N)], [i * factor for i in range(N)])
            assert out == {"results": expected}
    await no_worker_left()


async def test_a_failure_deep_in_a_large_batch_names_its_node_and_branch() -> None:
    def work(item: int, bad: int) -> int:
        if item == bad:
            raise ValueError(f"bad item {item}")
        return item

    def results(work: Collect[int]) -> list[int]:
        return list(work)

    dr = build(item, work, results, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr, asyncio.timeout(HANG_GUARD):
        await dr.execute(["results"], inputs={"n": N, "bad": -1})
        with pytest.raises(ValueError, match="bad item 2999") as info:
            await dr.execute(["results"], inputs={"n": N, "bad": BAD})
    notes = notes_of(info.value)
    assert f"raised by node 'work' in branch item[{BAD}]" in notes
    assert "traceback in worker process" in notes
    await no_worker_left()


async def test_a_worker_crash_deep_in_a_large_batch_names_the_node_and_branch() -> None:
    def prepare(item: int) -> int:
        return item

    def crash(prepare: int, bad: int) -> int:
        if prepare == bad:
            os._exit(3)
        return prepare

    def results(crash: Collect[int]) -> list[int]:
        return list(crash)

    dr = build(item, prepare, crash, results, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr, asyncio.timeout(HANG_GUARD):
        await dr.execute(["results"], inputs={"n": N, "bad": -1})
        with pytest.raises(WorkerCrashedError) as info:
            await dr.execute(["results"], inputs={"n": N, "bad": BAD})
        assert (info.value.node, info.value.branch, info.value.exitcode) == (
            "crash",
            f"item[{BAD}]",
            3,
        )
        out = await dr.execute(["results"], inputs={"n": 10, "bad": -1})
    assert out == {"results": list(range(10))}
    await no_worker_left()


async def test_skipped_branches_in_a_large_batch_leave_aligned_collects_aligned() -> None:
    @on_branch_error("skip")
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int, every: int) -> int:
        if item % every == 7:
            raise ValueError(f"bad item {item}")
        return item * 10

    def results(work: Collect[int], item: Collect[int]) -> list[tuple[int, int]]:
        return list(zip(item, work, strict=True))

    dr = build(item, work, results, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr, asyncio.timeout(HANG_GUARD):
        await dr.execute(["results"], inputs={"n": N, "every": N + 1})
        events = [e async for e in dr.stream(["results"], inputs={"n": N, "every": 1000})]
    errors = [e for e in events if e.kind == "error"]
    assert sorted(e.index for e in errors) == [(7,), (1007,), (2007,)]  # in finish order
    assert all(e.node == "work" and isinstance(e.value, ValueError) for e in errors)
    expected = [(i, i * 10) for i in range(N) if i % 1000 != 7]
    assert events[-1].value == {"results": expected}
    await no_worker_left()


async def test_a_log_record_from_a_large_batch_names_its_branch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def work(item: int, told: int) -> int:
        if item == told:
            logging.getLogger("asyncdag_test_app").warning("handled item %s", item)
        return item

    def results(work: Collect[Any]) -> list[Any]:
        return list(work)

    dr = build(item, work, results, remote=executors.ProcessExecutor(max_tasks=2))
    with caplog.at_level(logging.WARNING, logger="asyncdag_test_app"):
        async with dr, asyncio.timeout(HANG_GUARD):
            await dr.execute(["results"], inputs={"n": N, "told": -1})
            await dr.execute(["results"], inputs={"n": N, "told": BAD})
    (record,) = [r for r in caplog.records if r.name == "asyncdag_test_app"]
    assert (record.node, record.branch) == ("work", f"item[{BAD}]")  # type: ignore[attr-defined]
    await no_worker_left()


async def test_a_def_node_returning_a_coroutine_in_a_large_batch_is_named() -> None:
    async def helper() -> int:
        return 1

    def work(item: int, bad: int) -> Any:
        return helper() if item == bad else item

    def results(work: Collect[Any]) -> list[Any]:
        return list(work)

    dr = build(item, work, results, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr, asyncio.timeout(HANG_GUARD):
        await dr.execute(["results"], inputs={"n": N, "bad": -1})
        with pytest.raises(Exception, match="coroutine") as info:
            await dr.execute(["results"], inputs={"n": N, "bad": BAD})
    assert "'work'" in str(info.value) + notes_of(info.value)
    await no_worker_left()


async def test_a_block_that_only_collects_its_items_runs_on_processes() -> None:
    def results(item: Collect[int]) -> list[int]:
        return list(item)

    dr = build(item, results, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr, asyncio.timeout(HANG_GUARD):
        for _ in range(2):
            assert await dr.execute(["results"], inputs={"n": N}) == {"results": list(range(N))}
    await no_worker_left()
