"""Driver.stream: every node, branch and block as it finishes, paced by the consumer."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from conftest import HANG_GUARD, PATIENCE, build, children, wait_patiently

from asyncdag import Collect, Event, Parallelizable, executors


def fan_out() -> tuple[Any, ...]:
    def url(n: int) -> Parallelizable[int]:
        yield from range(n)

    async def page(url: int) -> int:
        await asyncio.sleep(0.001 * (3 - url % 3))  # finish out of order
        return url * 10

    def total(page: Collect[int]) -> int:
        return sum(page)

    def report(total: int) -> str:
        return f"total={total}"

    return url, page, total, report


async def collect(stream: Any) -> list[Event]:
    async with asyncio.timeout(HANG_GUARD):
        return [event async for event in stream]


async def test_stream_ends_with_done_holding_what_execute_returns() -> None:
    dr = build(*fan_out())
    events = await collect(dr.stream(["report"], inputs={"n": 4}))
    assert events[-1] == Event("done", None, (), {"report": "total=60"})
    assert events[-1].value == await dr.execute(["report"], inputs={"n": 4})


async def test_stream_gives_every_node_outside_blocks_once_in_finishing_order() -> None:
    dr = build(*fan_out())
    events = await collect(dr.stream(["report"], inputs={"n": 3}))
    outside = [(e.node, e.value) for e in events if e.kind == "node" and not e.index]
    assert outside == [("total", 30), ("report", "total=30")]


async def test_stream_gives_branch_nodes_with_their_index_path() -> None:
    dr = build(*fan_out())
    events = await collect(dr.stream(["total"], inputs={"n": 3}))
    pages = sorted((e.index, e.value) for e in events if e.node == "page")
    assert pages == [((0,), 0), ((1,), 10), ((2,), 20)]


async def test_stream_reports_each_branch_and_then_the_block_with_its_size() -> None:
    dr = build(*fan_out())
    events = await collect(dr.stream(["total"], inputs={"n": 3}))
    kinds = [(e.kind, e.node, e.index) for e in events if e.kind in ("branch", "block")]
    assert sorted(kinds[:-1]) == [("branch", "url", (i,)) for i in range(3)]
    assert kinds[-1] == ("block", "url", ())
    assert [e.value for e in events if e.kind == "block"] == [3]


async def test_stream_gives_nested_branch_nodes_their_full_index_path() -> None:
    def outer() -> Parallelizable[int]:
        yield from range(2)

    def inner(outer: int) -> Parallelizable[int]:
        yield from range(outer, outer + 2)

    def leaf(inner: int) -> int:
        return inner

    def per_outer(leaf: Collect[int]) -> int:
        return sum(leaf)

    def everything(per_outer: Collect[int]) -> int:
        return sum(per_outer)

    dr = build(outer, inner, leaf, per_outer, everything)
    events = await collect(dr.stream(["everything"]))
    leaves = sorted(e.index for e in events if e.node == "leaf")
    assert leaves == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert events[-1].value == {"everything": 4}


async def test_a_slow_consumer_holds_the_run_back_instead_of_buffering_events() -> None:
    produced: list[int] = []

    def url() -> Parallelizable[int]:
        for i in range(10_000):
            produced.append(i)
            yield i

    async def page(url: int) -> int:
        return url

    def total(page: Collect[int]) -> int:
        return sum(page)

    dr = build(url, page, total, remote=executors.InlineExecutor(max_tasks=4))
    stream = dr.stream(["total"])
    async with contextlib.aclosing(stream):
        first = await anext(stream)
        await asyncio.sleep(0.05)  # the run could go on for a long while meanwhile
        assert first.kind == "node"
        assert len(produced) < 100, "the run went on far ahead of its consumer"


async def test_leaving_the_stream_early_cancels_the_run() -> None:
    cancelled = asyncio.Event()
    waiting = asyncio.Event()
    release = asyncio.Event()

    def url() -> Parallelizable[int]:
        yield from range(3)

    async def page(url: int) -> int:
        if url == 0:
            await wait_patiently(waiting)  # report branch 0 once branch 2 is waiting
            return 0
        try:
            if url == 2:
                waiting.set()
            await release.wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return url

    def total(page: Collect[int]) -> int:
        return sum(page)

    dr = build(url, page, total)
    async for event in dr.stream(["total"]):
        assert event.kind == "node"
        break
    await wait_patiently(cancelled)
    assert cancelled.is_set()


async def test_closing_the_stream_waits_until_the_run_has_stopped() -> None:
    stopped: list[int] = []

    def url() -> Parallelizable[int]:
        yield from range(3)

    both_waiting = asyncio.Event()
    waiting: list[int] = []

    async def page(url: int) -> int:
        if not url:
            await wait_patiently(both_waiting)  # report branch 0 once 1 and 2 are waiting
            return url
        try:
            waiting.append(url)
            if len(waiting) == 2:
                both_waiting.set()
            await asyncio.sleep(PATIENCE * 10)
        finally:
            stopped.append(url)
        return url

    def total(page: Collect[int]) -> int:
        return sum(page)

    dr = build(url, page, total)
    stream = dr.stream(["total"])
    async with contextlib.aclosing(stream):
        await anext(stream)
    assert sorted(stopped) == [1, 2]


async def test_a_node_error_reaches_the_consumer_as_itself() -> None:
    def url() -> Parallelizable[int]:
        yield from range(3)

    def page(url: int) -> int:
        if url == 1:
            raise ValueError("bad page")
        return url

    def total(page: Collect[int]) -> int:
        return sum(page)

    dr = build(url, page, total)
    with pytest.raises(ValueError, match="bad page") as caught:
        await collect(dr.stream(["total"]))
    assert "url[1]" in "\n".join(caught.value.__notes__)


async def test_stream_reports_branches_run_in_worker_processes() -> None:
    def url() -> Parallelizable[int]:
        yield from range(4)

    def page(url: int) -> int:
        return url + 1

    def total(page: Collect[int]) -> int:
        return sum(page)

    async with build(url, page, total, remote=executors.ProcessExecutor(max_tasks=2)) as dr:
        events = await collect(dr.stream(["total"]))
    assert sorted(e.index for e in events if e.kind == "branch") == [(0,), (1,), (2,), (3,)]
    assert events[-1].value == {"total": 10}
    assert await asyncio.to_thread(children) == []
