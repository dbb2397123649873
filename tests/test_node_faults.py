"""Nodes that misbehave: a CancelledError of their own, SystemExit, a def returning a coroutine.

A result never has a hole, a BaseException never ends the event loop under other tasks, and
each mistake is named, on the inline, thread and process executors, inside and outside blocks.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import pickle
import sys
from collections.abc import Callable
from typing import Any

import pytest
from conftest import HANG_GUARD, PATIENCE, build, children

from asyncdag import Collect, Parallelizable, executors, tag
from asyncdag.errors import AsyncDagError, NodeCancelledError

pytestmark = pytest.mark.timeout(60)

EXECUTORS: dict[str, Callable[[], Any]] = {
    "inline": executors.InlineExecutor,
    "thread": lambda: executors.ThreadExecutor(max_tasks=2),
    "process": lambda: executors.ProcessExecutor(max_tasks=2),
}


def fan_out(work: Callable[..., Any]) -> tuple[Callable[..., Any], ...]:
    def item() -> Parallelizable[int]:
        yield from range(4)

    def total(work: Collect[Any]) -> list[Any]:
        return list(work)

    work.__name__ = "work"
    return item, work, total


async def run_bounded(dr: Any, *args: Any, **kwargs: Any) -> Any:
    async with dr, asyncio.timeout(HANG_GUARD):
        return await dr.execute(*args, **kwargs)


# -- a node's own CancelledError -----------------------------------------------------------


async def await_a_future_someone_else_cancelled() -> None:
    future = asyncio.get_running_loop().create_future()
    future.cancel()
    await future


def sync_cancelled(item: int) -> int:
    if item == 2:
        raise asyncio.CancelledError()
    return item


def futures_cancelled(item: int) -> int:
    if item == 2:
        raise concurrent.futures.CancelledError()
    return item


async def async_cancelled(item: int) -> int:
    if item == 2:
        await await_a_future_someone_else_cancelled()
    return item


@pytest.mark.parametrize("kind", list(EXECUTORS))
async def test_async_branch_node_raising_cancelled_error_fails_the_run_naming_node_and_branch(
    kind: str,
) -> None:
    dr = build(*fan_out(async_cancelled), remote=EXECUTORS[kind]())
    with pytest.raises(NodeCancelledError) as info:
        await run_bounded(dr, ["total"])
    assert info.value.node == "work" and info.value.branch == "item[2]"
    assert "work" in str(info.value) and "item[2]" in str(info.value)


@pytest.mark.parametrize("kind", ["thread", "process"])
async def test_sync_branch_node_raising_cancelled_error_off_the_loop_fails_the_run(
    kind: str,
) -> None:
    dr = build(*fan_out(sync_cancelled), remote=EXECUTORS[kind]())
    with pytest.raises(NodeCancelledError) as info:
        await run_bounded(dr, ["total"])
    assert (info.value.node, info.value.branch) == ("work", "item[2]")


async def test_thread_node_raising_futures_cancelled_error_fails_the_run() -> None:
    dr = build(*fan_out(futures_cancelled), remote=EXECUTORS["thread"]())
    with pytest.raises(NodeCancelledError) as info:
        await run_bounded(dr, ["total"])
    assert (info.value.node, info.value.branch) == ("work", "item[2]")


async def test_async_node_raising_cancelled_error_outside_blocks_fails_the_run() -> None:
    async def a(x: int) -> int:
        await await_a_future_someone_else_cancelled()
        return x

    with pytest.raises(NodeCancelledError) as info:
        await run_bounded(build(a), ["a"], inputs={"x": 1})
    assert (info.value.node, info.value.branch) == ("a", "")


async def test_async_node_raising_cancelled_error_beside_another_fails_the_run() -> None:
    async def a(x: int) -> int:
        await await_a_future_someone_else_cancelled()
        return x

    async def b(x: int) -> int:
        await asyncio.sleep(0)
        return x

    def both(a: int, b: int) -> int:
        return a + b

    with pytest.raises(NodeCancelledError) as info:
        await run_bounded(build(a, b, both), ["both"], inputs={"x": 1})
    assert info.value.node == "a"


async def test_thread_node_raising_futures_cancelled_error_outside_blocks_fails_the_run() -> None:
    @tag(executor="io")
    def a(x: int) -> int:
        raise concurrent.futures.CancelledError()

    dr = build(a, io=executors.ThreadExecutor(max_tasks=1))
    with pytest.raises(NodeCancelledError) as info:
        await run_bounded(dr, ["a"], inputs={"x": 1})
    assert info.value.node == "a"


async def test_task_cancelling_itself_in_a_branch_still_leaves_no_hole() -> None:
    async def work(item: int) -> int:
        if item == 1:
            task = asyncio.current_task()
            assert task is not None
            task.cancel()
            await asyncio.sleep(0)
        return item

    with pytest.raises(NodeCancelledError) as info:
        await run_bounded(build(*fan_out(work)), ["total"])
    assert info.value.branch == "item[1]"


def test_node_cancelled_error_pickles_with_its_fields_and_is_an_asyncdag_error() -> None:
    error = NodeCancelledError("work", "item[2]")
    copy = pickle.loads(pickle.dumps(error))
    assert isinstance(copy, AsyncDagError)
    assert (copy.node, copy.branch, str(copy)) == ("work", "item[2]", str(error))


async def test_cancelling_the_execute_still_raises_cancelled_error() -> None:
    started = asyncio.Event()

    async def work(item: int) -> int:
        started.set()
        await asyncio.sleep(HANG_GUARD)
        return item

    dr = build(*fan_out(work))
    task = asyncio.create_task(dr.execute(["total"]))
    async with asyncio.timeout(PATIENCE):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# -- SystemExit and KeyboardInterrupt ------------------------------------------------------


def exits(item: int) -> int:
    if item == 2:
        sys.exit(3)
    return item


async def exits_async(item: int) -> int:
    await asyncio.sleep(0)
    if item == 2:
        sys.exit(3)
    return item


def interrupts(item: int) -> int:
    if item == 2:
        raise KeyboardInterrupt
    return item


@pytest.mark.parametrize("kind", list(EXECUTORS))
@pytest.mark.parametrize("work", [exits, exits_async], ids=["sync", "async"])
async def test_system_exit_from_a_branch_propagates_as_itself_and_spares_other_tasks(
    kind: str, work: Callable[..., Any]
) -> None:
    bystander = asyncio.create_task(asyncio.sleep(HANG_GUARD))
    dr = build(*fan_out(work), remote=EXECUTORS[kind]())
    try:
        with pytest.raises(SystemExit) as info:
            await run_bounded(dr, ["total"])
        assert info.value.code == 3
        assert not bystander.done(), "the unrelated task was ended"
        assert await asyncio.to_thread(children) == []
    finally:
        bystander.cancel()


@pytest.mark.parametrize("kind", list(EXECUTORS))
async def test_keyboard_interrupt_from_a_branch_propagates_as_itself_and_spares_other_tasks(
    kind: str,
) -> None:
    bystander = asyncio.create_task(asyncio.sleep(HANG_GUARD))
    dr = build(*fan_out(interrupts), remote=EXECUTORS[kind]())
    try:
        with pytest.raises(KeyboardInterrupt):
            await run_bounded(dr, ["total"])
        assert not bystander.done()
    finally:
        bystander.cancel()


@pytest.mark.parametrize("kind", ["inline", "thread"])
async def test_system_exit_outside_blocks_propagates_as_itself_and_spares_other_tasks(
    kind: str,
) -> None:
    @tag(executor="x")
    def a(x: int) -> int:
        sys.exit(4)

    async def b(x: int) -> int:
        await asyncio.sleep(0.05)
        return x

    def both(a: int, b: int) -> int:
        return a + b

    bystander = asyncio.create_task(asyncio.sleep(HANG_GUARD))
    dr = build(a, b, both, x=EXECUTORS[kind]())
    try:
        with pytest.raises(SystemExit) as info:
            await run_bounded(dr, ["both"], inputs={"x": 1})
        assert info.value.code == 4
        assert not bystander.done()
    finally:
        bystander.cancel()


@pytest.mark.allow_blocking
def test_system_exit_in_execute_sync_on_processes_leaves_no_worker() -> None:
    dr = build(*fan_out(exits), remote=executors.ProcessExecutor(max_tasks=2))
    with pytest.raises(SystemExit):
        dr.execute_sync(["total"])
    assert children() == []


# -- a def returning a coroutine; a Parallelizable returning a non-iterable ------------------


async def later(item: int) -> int:
    return item


def returns_coroutine(item: int) -> Any:
    return later(item)


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
@pytest.mark.parametrize("kind", list(EXECUTORS))
async def test_def_node_returning_a_coroutine_is_a_type_error_saying_async_def(kind: str) -> None:
    dr = build(*fan_out(returns_coroutine), remote=EXECUTORS[kind]())
    message = r"node 'work' returned a coroutine: declare it `async def`"
    with pytest.raises(TypeError, match=message):
        await run_bounded(dr, ["total"])


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited")
@pytest.mark.parametrize("kind", list(EXECUTORS))
async def test_def_node_returning_a_coroutine_outside_blocks_is_a_type_error(kind: str) -> None:
    @tag(executor="x")
    def work(x: int) -> Any:
        return later(x)

    dr = build(work, x=EXECUTORS[kind]())
    with pytest.raises(TypeError, match=r"declare it `async def`"):
        await run_bounded(dr, ["work"], inputs={"x": 1})


@pytest.mark.parametrize("kind", [*EXECUTORS, "tagged"])
async def test_parallelizable_returning_a_non_iterable_is_a_helpful_type_error(kind: str) -> None:
    def item() -> Parallelizable[int]:
        return 5  # type: ignore[return-value]

    def work(item: int) -> int:
        return item

    def total(work: Collect[int]) -> int:
        return sum(work)

    if kind == "tagged":
        tagged = tag(executor="x")(item)
        dr = build(tagged, work, total, x=executors.ThreadExecutor(max_tasks=1))
    else:
        dr = build(item, work, total, local=EXECUTORS[kind]())
    with pytest.raises(TypeError, match=r"node 'item' is Parallelizable but returned a int"):
        await run_bounded(dr, ["total"])
