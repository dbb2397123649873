"""@on_branch_error("skip"): a failed branch is left out of its block and the run goes on."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import pickle
from typing import Any

import pytest
from conftest import HANG_GUARD, build, notes_of

from asyncdag import Collect, Parallelizable, executors, on_branch_error, timeout, window
from asyncdag.errors import BranchFailuresError, WorkerCrashedError
from asyncdag.lifecycle import NodeExecutionHook

pytestmark = pytest.mark.timeout(90)


def skipping(fn: Any, max_failures: int | None = None) -> tuple[Any, ...]:
    """A skipping block over ``range(n)`` whose branch node ``work`` calls ``fn``."""
    work: Any
    if inspect.iscoroutinefunction(fn):

        async def work(item: int) -> Any:
            return await fn(item)
    else:

        def work(item: int) -> Any:
            return fn(item)

    @on_branch_error("skip", max_failures=max_failures)
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def results(work: Collect[Any]) -> list[Any]:
        return list(work)

    return item, work, results


def fails_on_3(item: int) -> int:
    if item == 3:
        raise ValueError(f"bad item {item}")
    return item * 10


async def fails_on_3_async(item: int) -> int:
    await asyncio.sleep(0)
    return fails_on_3(item)


def crashes_on_3(item: int) -> int:
    if item == 3:
        os._exit(7)
    return item * 10


EXPECTED = [0, 10, 20, 40, 50]

REMOTES = {
    "inline": lambda: executors.InlineExecutor(),
    "threads": lambda: executors.ThreadExecutor(max_tasks=2),
    "processes": lambda: executors.ProcessExecutor(max_tasks=2),
    "process batches": lambda: executors.ProcessExecutor(max_tasks=2, batch_size=4),
}


@pytest.mark.parametrize("remote", list(REMOTES))
async def test_skipped_branch_is_left_out_and_the_run_goes_on(remote: str) -> None:
    dr = build(*skipping(fails_on_3), remote=REMOTES[remote]())
    async with dr:
        out = await dr.execute(["results"], inputs={"n": 6})
    assert out == {"results": EXPECTED}


async def test_skipped_async_branch_is_left_out() -> None:
    dr = build(*skipping(fails_on_3_async))
    assert await dr.execute(["results"], inputs={"n": 6}) == {"results": EXPECTED}


async def test_aligned_collects_drop_the_same_branch() -> None:
    @on_branch_error("skip")
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def checked(item: int) -> int:
        return fails_on_3(item)

    def label(item: int) -> str:
        return f"#{item}"

    def pairs(checked: Collect[int], label: Collect[str]) -> list[tuple[int, str]]:
        return list(zip(checked, label, strict=True))

    dr = build(item, checked, label, pairs)
    out = await dr.execute(["pairs"], inputs={"n": 5})
    assert out == {"pairs": [(0, "#0"), (10, "#1"), (20, "#2"), (40, "#4")]}


async def test_skipped_branch_is_an_error_event_naming_node_and_branch() -> None:
    dr = build(*skipping(fails_on_3))
    async with asyncio.timeout(HANG_GUARD):
        events = [e async for e in dr.stream(["results"], inputs={"n": 6})]
    errors = [e for e in events if e.kind == "error"]
    assert [(e.node, e.index) for e in errors] == [("work", (3,))]
    assert isinstance(errors[0].value, ValueError)
    assert "node 'work' in branch item[3]" in notes_of(errors[0].value)
    assert events[-1].value == {"results": EXPECTED}


async def test_skipped_branch_reaches_hooks_as_a_failure() -> None:
    seen: list[tuple[str, tuple[int, ...], bool]] = []

    class Hook(NodeExecutionHook):
        def run_before_node_execution(self, **kwargs: Any) -> None:
            pass

        def run_after_node_execution(self, **kwargs: Any) -> None:
            seen.append((kwargs["node_name"], kwargs["branch_index"], kwargs["success"]))

    from conftest import make_module

    from asyncdag import Builder

    dr = Builder().with_modules(make_module(*skipping(fails_on_3))).with_adapters(Hook()).build()
    assert await dr.execute(["results"], inputs={"n": 6}) == {"results": EXPECTED}
    assert ("work", (3,), False) in seen
    assert ("work", (4,), True) in seen


async def test_skipped_branch_is_logged_with_node_branch_and_item(
    caplog: pytest.LogCaptureFixture,
) -> None:
    dr = build(*skipping(fails_on_3))
    with caplog.at_level(logging.WARNING, logger="asyncdag"):
        await dr.execute(["results"], inputs={"n": 6})
    (record,) = [r for r in caplog.records if r.name == "asyncdag"]
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "item[3]" in message and "'work'" in message and "bad item 3" in message
    assert "(item 3)" in message


async def test_more_failures_than_max_failures_fail_the_run_listing_them() -> None:
    def odd_fails(item: int) -> int:
        if item % 2:
            raise ValueError(f"odd {item}")
        return item

    dr = build(*skipping(odd_fails, max_failures=2))
    with pytest.raises(BranchFailuresError) as info:
        await dr.execute(["results"], inputs={"n": 10})
    error = info.value
    assert error.expander == "item" and error.max_failures == 2
    assert [(n, b) for n, b, _ in error.failures] == [
        ("work", "item[1]"),
        ("work", "item[3]"),
        ("work", "item[5]"),
    ]
    assert "ValueError: odd 5" in error.failures[2][2]
    assert "max_failures=2" in str(error)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is BranchFailuresError and copy.failures == error.failures


async def test_failures_up_to_max_failures_are_skipped() -> None:
    dr = build(*skipping(fails_on_3, max_failures=1))
    assert await dr.execute(["results"], inputs={"n": 6}) == {"results": EXPECTED}


async def test_the_sources_own_exception_still_fails_the_run() -> None:
    @on_branch_error("skip")
    def item(n: int) -> Parallelizable[int]:
        yield 0
        raise KeyError("source broke")

    def work(item: int) -> int:
        return item

    def results(work: Collect[int]) -> list[int]:
        return list(work)

    dr = build(item, work, results)
    with pytest.raises(KeyError, match="source broke"):
        await dr.execute(["results"], inputs={"n": 3})


async def test_a_later_real_failure_outside_the_block_is_what_execute_raises() -> None:
    def after(results: list[int]) -> int:
        raise RuntimeError("after the block")

    dr = build(*skipping(fails_on_3), after)
    with pytest.raises(RuntimeError, match="after the block"):
        await dr.execute(["after"], inputs={"n": 6})


async def test_raise_policy_is_fail_fast() -> None:
    @on_branch_error("raise")
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def results(fails_on_3: Collect[int]) -> list[int]:
        return list(fails_on_3)

    dr = build(item, fails_on_3, results)
    with pytest.raises(ValueError, match="bad item 3"):
        await dr.execute(["results"], inputs={"item": [0, 1, 3]})


async def test_timed_out_branch_is_skipped() -> None:
    @timeout(0.2)
    async def work(item: int) -> int:
        if item == 3:
            await asyncio.sleep(30)
        return item * 10

    item, _, results = skipping(fails_on_3)
    dr = build(item, work, results)
    async with asyncio.timeout(HANG_GUARD):
        out = await dr.execute(["results"], inputs={"n": 6})
    assert out == {"results": EXPECTED}


@pytest.mark.parametrize("batch_size", [1, 3])
async def test_crashed_worker_skips_only_its_branch(batch_size: int) -> None:
    remote = executors.ProcessExecutor(max_tasks=2, batch_size=batch_size)
    seen: list[Any] = []
    dr = build(*skipping(crashes_on_3), remote=remote)
    async with dr:
        async with asyncio.timeout(HANG_GUARD * 2):
            async for event in dr.stream(["results"], inputs={"n": 6}):
                seen.append(event)
    errors = [e for e in seen if e.kind == "error"]
    assert [e.index for e in errors] == [(3,)]
    assert isinstance(errors[0].value, WorkerCrashedError)
    assert seen[-1].value == {"results": EXPECTED}


async def test_a_failing_branch_in_a_process_batch_names_its_worker_traceback() -> None:
    remote = executors.ProcessExecutor(max_tasks=2, batch_size=4)
    dr = build(*skipping(fails_on_3), remote=remote)
    async with dr:
        events = [e async for e in dr.stream(["results"], inputs={"n": 6})]
    (error,) = [e for e in events if e.kind == "error"]
    assert isinstance(error.value, ValueError)
    notes = notes_of(error.value)
    assert "item[3]" in notes and "traceback in worker process" in notes
    assert events[-1].value == {"results": EXPECTED}


async def test_skip_in_a_nested_block_drops_only_the_inner_branch() -> None:
    def group(n: int) -> Parallelizable[int]:
        yield from range(n)

    @on_branch_error("skip")
    def member(group: int) -> Parallelizable[int]:
        yield from range(group * 10, group * 10 + 3)

    def checked(member: int) -> int:
        if member == 11:
            raise ValueError("bad member")
        return member

    def members(checked: Collect[int]) -> list[int]:
        return list(checked)

    def every(members: Collect[list[int]]) -> list[list[int]]:
        return list(members)

    dr = build(group, member, checked, members, every)
    async with asyncio.timeout(HANG_GUARD):
        events = [e async for e in dr.stream(["every"], inputs={"n": 2})]
    assert events[-1].value == {"every": [[0, 1, 2], [10, 12]]}
    assert [(e.node, e.index) for e in events if e.kind == "error"] == [("checked", (1, 1))]


async def test_skip_on_an_outer_block_drops_a_branch_whose_inner_block_failed() -> None:
    @on_branch_error("skip")
    def group(n: int) -> Parallelizable[int]:
        yield from range(n)

    def member(group: int) -> Parallelizable[int]:
        yield from range(group * 10, group * 10 + 3)

    async def checked(member: int) -> int:
        await asyncio.sleep(0)
        if member == 11:
            raise ValueError("bad member")
        return member

    def members(checked: Collect[int]) -> list[int]:
        return list(checked)

    def every(members: Collect[list[int]]) -> list[list[int]]:
        return list(members)

    dr = build(group, member, checked, members, every)
    out = await dr.execute(["every"], inputs={"n": 3})
    assert out == {"every": [[0, 1, 2], [20, 21, 22]]}


async def test_a_window_holds_only_the_branches_that_succeeded() -> None:
    @window(size=3)
    def batch(work: Collect[int]) -> list[int]:
        return list(work)

    item, work, _ = skipping(fails_on_3)
    dr = build(item, work, batch)
    assert await dr.execute(["batch"], inputs={"n": 7}) == {"batch": [[0, 10, 20], [40, 50], [60]]}


def test_on_branch_error_rejects_an_unknown_policy() -> None:
    with pytest.raises(ValueError, match="skip"):
        on_branch_error("ignore")
    with pytest.raises(ValueError, match="max_failures"):
        on_branch_error("skip", max_failures=-1)


async def test_too_many_failures_in_an_inner_block_fail_the_run_through_an_outer_skip() -> None:
    @on_branch_error("skip")
    def group(n: int) -> Parallelizable[int]:
        yield from range(n)

    @on_branch_error("skip", max_failures=0)
    def member(group: int) -> Parallelizable[int]:
        yield from range(group * 10, group * 10 + 3)

    def checked(member: int) -> int:
        if member == 11:
            raise ValueError("bad member")
        return member

    def members(checked: Collect[int]) -> list[int]:
        return list(checked)

    def every(members: Collect[list[int]]) -> list[list[int]]:
        return list(members)

    dr = build(group, member, checked, members, every)
    with pytest.raises(BranchFailuresError) as info:
        await dr.execute(["every"], inputs={"n": 3})
    assert info.value.failures[0][:2] == ("checked", "group[1].member[1]")
