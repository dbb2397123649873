"""@timeout and @retry on a Parallelizable: the wait for each item is bounded, and a retry
calls the expander again only while it has yielded nothing."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import HANG_GUARD, build, notes_of

from asyncdag import Collect, Parallelizable, executors, retry, tag, timeout
from asyncdag.errors import NodeTimeoutError

pytestmark = pytest.mark.timeout(60)

NEVER = 30.0  # how long a stuck expander would hang if its timeout did not cut it off


def work(item: int) -> int:
    return item * 10


def total(work: Collect[int]) -> list[int]:
    return list(work)


async def run_bounded(dr: Any, **inputs: Any) -> Any:
    async with dr, asyncio.timeout(HANG_GUARD):
        return await dr.execute(["total"], inputs=inputs)


async def test_timeout_bounds_the_wait_for_each_item_of_an_async_generator() -> None:
    @timeout(0.2)
    async def item() -> AsyncIterator[int]:
        yield 0
        yield 1
        await asyncio.sleep(NEVER)
        yield 2

    item.__annotations__["return"] = Parallelizable[int]
    with pytest.raises(NodeTimeoutError) as info:
        await run_bounded(build(item, work, total))
    assert info.value.node == "item" and info.value.seconds == 0.2
    assert "while producing item 2" in notes_of(info.value)


async def test_timeout_bounds_the_call_of_an_async_expander() -> None:
    @timeout(0.2)
    async def item() -> Parallelizable[int]:
        await asyncio.sleep(NEVER)
        return [1]  # type: ignore[return-value]

    with pytest.raises(NodeTimeoutError) as info:
        await run_bounded(build(item, work, total))
    assert "while producing item 0" in notes_of(info.value)


async def test_timeout_bounds_each_item_of_an_inline_sync_generator_without_waiting_for_it() -> (
    None
):
    release = threading.Event()

    @timeout(0.2)
    def item() -> Parallelizable[int]:
        yield 0
        release.wait(NEVER)
        yield 1

    try:
        with pytest.raises(NodeTimeoutError) as info:
            await run_bounded(build(item, work, total))
        assert not release.is_set(), "raised while the generator was still stuck"
    finally:
        release.set()
    assert "while producing item 1" in notes_of(info.value)


async def test_timeout_bounds_each_item_of_a_sync_generator_on_a_thread() -> None:
    release = threading.Event()

    @timeout(0.2)
    @tag(executor="io")
    def item() -> Parallelizable[int]:
        yield 0
        release.wait(NEVER)
        yield 1

    dr = build(item, work, total, io=executors.ThreadExecutor(max_tasks=2))
    try:
        with pytest.raises(NodeTimeoutError):
            await run_bounded(dr)
        assert not release.is_set()
    finally:
        release.set()


async def test_expander_within_its_timeout_fans_out_as_usual() -> None:
    @timeout(5)
    async def item() -> AsyncIterator[int]:
        for i in range(3):
            await asyncio.sleep(0)
            yield i

    item.__annotations__["return"] = Parallelizable[int]
    assert await run_bounded(build(item, work, total)) == {"total": [0, 10, 20]}


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_retry_calls_the_expander_again_while_it_has_yielded_nothing(kind: str) -> None:
    calls = 0

    def items() -> Iterator[int]:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("not yet")
        yield from range(3)

    if kind == "sync":

        @retry(3, backoff=0.01)
        def item() -> Parallelizable[int]:
            yield from items()

    else:

        @retry(3, backoff=0.01)
        async def item() -> Parallelizable[int]:  # type: ignore[misc]
            for i in items():
                yield i

    assert await run_bounded(build(item, work, total)) == {"total": [0, 10, 20]}
    assert calls == 3


async def test_retry_does_not_call_the_expander_again_once_it_has_yielded() -> None:
    calls = 0

    @retry(5, backoff=0.01)
    def item() -> Parallelizable[int]:
        nonlocal calls
        calls += 1
        yield 0
        yield 1
        raise ConnectionError("the feed broke after two items")

    with pytest.raises(ConnectionError) as info:
        await run_bounded(build(item, work, total))
    assert calls == 1, "a retry after items would repeat their branches"
    assert "item" in notes_of(info.value) and "item 2" in notes_of(info.value)


async def test_retry_on_an_expander_in_a_worker_process(tmp_path: Path) -> None:
    marker = tmp_path / "failed-once"

    @retry(2, backoff=0.01)
    def item(marker: str) -> Parallelizable[int]:
        import os

        if not os.path.exists(marker):
            open(marker, "w").close()
            raise ConnectionError("first call fails")
        return [1, 2]  # type: ignore[return-value]

    dr = build(item, work, total, local=executors.ProcessExecutor(max_tasks=1))
    assert await run_bounded(dr, marker=str(marker)) == {"total": [10, 20]}
