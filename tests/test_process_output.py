"""A node's prints in a worker process reach the parent's sys.stdout and sys.stderr, in order."""

from __future__ import annotations

import asyncio
import sys

import pytest
from conftest import HANG_GUARD, build, children

from asyncdag import Collect, Parallelizable, executors, tag

ITEMS = 30


def items() -> Parallelizable[int]:
    yield from range(ITEMS)


def shown(items: int) -> int:
    print(f"out {items}")
    print(f"err {items}", file=sys.stderr)
    return items


def total(shown: Collect[int]) -> int:
    return sum(shown)


async def test_prints_of_shipped_branches_reach_the_parents_streams_in_item_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    dr = build(items, shown, total, remote=executors.ProcessExecutor(max_tasks=1, batch_size=4))
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            assert await dr.execute(["total"]) == {"total": sum(range(ITEMS))}
        captured = capsys.readouterr()  # before the workers stop: nothing arrives late
    assert captured.out.splitlines() == [f"out {i}" for i in range(ITEMS)]
    assert captured.err.splitlines() == [f"err {i}" for i in range(ITEMS)]
    assert await asyncio.to_thread(children) == []


async def test_prints_of_a_node_on_a_named_process_executor_reach_the_parents_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @tag(executor="cpu")
    def heavy() -> int:
        for k in range(3):
            print("step", k)
        return 3

    dr = build(heavy, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            assert await dr.execute(["heavy"]) == {"heavy": 3}
        assert capsys.readouterr().out == "step 0\nstep 1\nstep 2\n"


async def test_a_partial_line_printed_before_a_node_returns_arrives_before_its_result(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @tag(executor="cpu")
    def progress() -> int:
        print("working", end="")
        print("...", end="")
        return 1

    dr = build(progress, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            assert await dr.execute(["progress"]) == {"progress": 1}
        assert capsys.readouterr().out == "working..."


async def test_what_a_failing_node_printed_before_it_raised_reaches_the_parent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def broken(one: int) -> int:
        print(f"about to fail on {one}", file=sys.stderr)
        raise ValueError(f"bad item {one}")

    def gathered(broken: Collect[int]) -> int:
        return len(broken)

    def one() -> Parallelizable[int]:
        yield 7

    dr = build(one, broken, gathered, remote=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        with pytest.raises(ValueError, match="bad item 7"):
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["gathered"])
        assert capsys.readouterr().err == "about to fail on 7\n"
