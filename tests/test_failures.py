"""Failures: user errors propagate as themselves with a note; everything else stops first."""

import asyncio
import threading
import time
from typing import Any

import pytest
from conftest import HANG_GUARD, PATIENCE, build, notes_of, wait_patiently

from asyncdag import Collect, Parallelizable, executors

# Bounds a wait that a correct engine ends at once: a wrong one fails the test instead of hanging.


class BoomError(Exception):
    """A user's own exception type, to check that it is not wrapped or replaced."""


def tasks_started_since(before: set[asyncio.Task[Any]]) -> set[asyncio.Task[Any]]:
    return asyncio.all_tasks() - before


async def test_branch_error_propagates_as_itself_with_node_and_index_note() -> None:
    raised: list[ValueError] = []

    def url() -> Parallelizable[int]:
        yield from range(10)

    async def counts(url: int) -> int:
        await asyncio.sleep(0)
        if url == 3:
            raised.append(ValueError("branch 3 is bad"))
            raise raised[0]
        return url

    def total(counts: Collect[int]) -> int:
        return sum(counts)

    dr = build(url, counts, total)

    with pytest.raises(ValueError) as excinfo:
        await dr.execute(["total"])

    assert excinfo.value is raised[0]
    assert "counts" in notes_of(excinfo.value)
    assert "url[3]" in notes_of(excinfo.value)


async def test_branch_error_cancels_other_branches_before_execute_raises() -> None:
    others_started = asyncio.Event()
    started: set[int] = set()
    cancelled: set[int] = set()
    completed: list[int] = []

    def url() -> Parallelizable[int]:
        yield from range(10)

    async def counts(url: int) -> int:
        if url == 3:
            await wait_patiently(others_started)
            raise ValueError("branch 3 is bad")
        started.add(url)
        if len(started) == 9:
            others_started.set()
        try:
            await asyncio.sleep(HANG_GUARD)  # only a cancellation ends it in time
        except asyncio.CancelledError:
            cancelled.add(url)
            raise
        completed.append(url)
        return url

    def total(counts: Collect[int]) -> int:
        return sum(counts)

    dr = build(url, counts, total)
    before = asyncio.all_tasks()

    async with asyncio.timeout(HANG_GUARD / 2):
        with pytest.raises(ValueError):
            await dr.execute(["total"])

    others = set(range(10)) - {3}
    assert started == others, "premise: the other nine branches were running"
    assert cancelled == others
    assert tasks_started_since(before) == set()
    assert completed == []


async def test_nested_branch_error_note_names_the_nested_index_path() -> None:
    raised: list[BoomError] = []

    async def url() -> Parallelizable[int]:
        for u in range(3):
            yield u

    def page(url: int) -> Parallelizable[int]:
        for p in range(4):
            yield url * 10 + p

    async def words(page: int) -> int:
        await asyncio.sleep(0)
        if page == 12:  # url 1, page 2
            raised.append(BoomError("page 12 is bad"))
            raise raised[0]
        return page

    def site_words(words: Collect[int]) -> int:
        return sum(words)

    def total(site_words: Collect[int]) -> int:
        return sum(site_words)

    dr = build(url, page, words, site_words, total)

    with pytest.raises(BoomError) as excinfo:
        await dr.execute(["total"])

    assert excinfo.value is raised[0]
    assert "words" in notes_of(excinfo.value)
    assert "url[1].page[2]" in notes_of(excinfo.value)


async def test_generator_error_after_some_items_propagates_and_cancels_started_branches() -> None:
    k = 3
    raised: list[RuntimeError] = []
    started: list[int] = []
    cancelled: list[int] = []
    k_started = asyncio.Event()
    never = asyncio.Event()

    async def url() -> Parallelizable[int]:
        for i in range(k):
            yield i
        await wait_patiently(k_started)
        raised.append(RuntimeError("the source broke"))
        raise raised[0]

    async def fetched(url: int) -> int:
        started.append(url)
        if len(started) == k:
            k_started.set()
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(url)
            raise
        return url

    def total(fetched: Collect[int]) -> int:
        return sum(fetched)

    dr = build(url, fetched, total)
    before = asyncio.all_tasks()

    with pytest.raises(RuntimeError) as excinfo:
        async with asyncio.timeout(HANG_GUARD) as guard:
            await dr.execute(["total"])

    assert not guard.expired(), "execute hung until the guard cancelled it"

    assert excinfo.value is raised[0]
    assert "url" in notes_of(excinfo.value)
    assert sorted(started) == list(range(k)), "premise: k branches were running"
    assert sorted(cancelled) == list(range(k))
    assert tasks_started_since(before) == set()


async def test_branch_error_cancels_the_generator_still_producing() -> None:
    generator_events: list[str] = []
    never = asyncio.Event()
    second_item_out = asyncio.Event()

    async def url() -> Parallelizable[int]:
        yield 0
        yield 1
        second_item_out.set()
        try:
            await never.wait()  # a slow producer, busy with its third item
        except asyncio.CancelledError:
            generator_events.append("cancelled")
            raise
        generator_events.append("resumed")
        yield 2

    async def fetched(url: int) -> int:
        if url == 1:
            await wait_patiently(second_item_out)
            await asyncio.sleep(0)
            raise ValueError("branch 1 is bad")
        return url

    def total(fetched: Collect[int]) -> int:
        return sum(fetched)

    dr = build(url, fetched, total)
    before = asyncio.all_tasks()

    with pytest.raises(ValueError):
        async with asyncio.timeout(HANG_GUARD) as guard:
            await dr.execute(["total"])

    assert not guard.expired(), "execute hung until the guard cancelled it"

    assert generator_events == ["cancelled"]
    assert tasks_started_since(before) == set()


async def test_sync_node_error_outside_blocks_propagates_as_itself() -> None:
    raised: list[BoomError] = []

    def parsed(raw: str) -> int:
        raised.append(BoomError(f"cannot parse {raw!r}"))
        raise raised[0]

    def doubled(parsed: int) -> int:
        return parsed * 2

    dr = build(parsed, doubled)

    with pytest.raises(BoomError) as excinfo:
        await dr.execute(["doubled"], inputs={"raw": "x"})

    assert excinfo.value is raised[0]
    assert "parsed" in notes_of(excinfo.value)


async def test_thread_executor_sync_node_error_propagates_as_itself() -> None:
    raised: list[ValueError] = []

    def url() -> Parallelizable[int]:
        yield from range(5)

    def counts(url: int) -> int:
        if url == 2:
            raised.append(ValueError("branch 2 is bad"))
            raise raised[0]
        return url

    def total(counts: Collect[int]) -> int:
        return sum(counts)

    dr = build(url, counts, total, remote=executors.ThreadExecutor(max_tasks=2))

    with pytest.raises(ValueError) as excinfo:
        await dr.execute(["total"])

    assert excinfo.value is raised[0]
    assert "counts" in notes_of(excinfo.value)
    assert "url[2]" in notes_of(excinfo.value)


async def test_execute_raises_only_after_a_running_thread_job_has_stopped() -> None:
    # A thread cannot be interrupted, so "every other task has stopped" means execute waits for it.
    slow_started = threading.Event()
    slow_finished: list[int] = []

    def url() -> Parallelizable[int]:
        yield from range(2)

    def counts(url: int) -> int:
        if url == 0:
            slow_started.set()
            time.sleep(0.3)  # on a worker thread, not the loop
            slow_finished.append(url)
            return url
        slow_started.wait(PATIENCE)
        raise ValueError("branch 1 is bad")

    def total(counts: Collect[int]) -> int:
        return sum(counts)

    dr = build(url, counts, total, remote=executors.ThreadExecutor(max_tasks=2))

    with pytest.raises(ValueError):
        await dr.execute(["total"])

    assert slow_started.is_set(), "premise: the slow thread job was running"
    assert slow_finished == [0]


async def test_cancelling_the_execute_task_cancels_every_branch_it_started() -> None:
    n_items = 4
    started: list[int] = []
    cancelled: list[int] = []
    all_started = asyncio.Event()
    never = asyncio.Event()

    async def url() -> Parallelizable[int]:
        for i in range(n_items):
            yield i

    async def fetched(url: int) -> int:
        started.append(url)
        if len(started) == n_items:
            all_started.set()
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(url)
            raise
        return url

    def total(fetched: Collect[int]) -> int:
        return sum(fetched)

    dr = build(url, fetched, total)
    before = asyncio.all_tasks()

    task = asyncio.create_task(dr.execute(["total"]))
    await wait_patiently(all_started)
    assert sorted(started) == list(range(n_items)), "premise: every branch was running"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert sorted(cancelled) == list(range(n_items))
    assert tasks_started_since(before) == set()


async def test_cancelling_the_execute_task_cancels_a_generator_waiting_for_its_next_item() -> None:
    generator_events: list[str] = []
    never = asyncio.Event()
    waiting = asyncio.Event()

    async def url() -> Parallelizable[int]:
        yield 0
        waiting.set()
        try:
            await never.wait()
        except asyncio.CancelledError:
            generator_events.append("cancelled")
            raise
        generator_events.append("resumed")
        yield 1

    async def fetched(url: int) -> int:
        return url

    def total(fetched: Collect[int]) -> int:
        return sum(fetched)

    dr = build(url, fetched, total)
    before = asyncio.all_tasks()

    task = asyncio.create_task(dr.execute(["total"]))
    await wait_patiently(waiting)
    assert waiting.is_set(), "premise: the generator was waiting"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    assert generator_events == ["cancelled"]
    assert tasks_started_since(before) == set()


async def test_timeout_around_execute_raises_timeout_error_and_leaves_no_tasks() -> None:
    n_items = 4
    started: list[int] = []
    cancelled: list[int] = []
    never = asyncio.Event()
    deadline = asyncio.timeout(None)

    async def url() -> Parallelizable[int]:
        for i in range(n_items):
            yield i

    async def fetched(url: int) -> int:
        started.append(url)
        if len(started) == n_items:
            # Expire the timeout now that every branch runs: deterministic, no wall clock.
            deadline.reschedule(asyncio.get_running_loop().time())
        try:
            await never.wait()
        except asyncio.CancelledError:
            cancelled.append(url)
            raise
        return url

    def total(fetched: Collect[int]) -> int:
        return sum(fetched)

    dr = build(url, fetched, total)
    before = asyncio.all_tasks()

    async with asyncio.timeout(HANG_GUARD):  # only if the deadline below never fires
        with pytest.raises(TimeoutError):
            async with deadline:
                await dr.execute(["total"])

    assert sorted(started) == list(range(n_items))
    assert sorted(cancelled) == list(range(n_items))
    assert tasks_started_since(before) == set()


async def test_inline_sync_branch_error_propagates_as_itself_with_index_note() -> None:
    raised: list[BoomError] = []
    calls: list[int] = []

    def url() -> Parallelizable[int]:
        yield from range(10)

    def counts(url: int) -> int:
        calls.append(url)
        if url == 7:
            raised.append(BoomError("branch 7 is bad"))
            raise raised[0]
        return url

    def total(counts: Collect[int]) -> int:
        return sum(counts)

    dr = build(url, counts, total)

    with pytest.raises(BoomError) as excinfo:
        await dr.execute(["total"])

    assert excinfo.value is raised[0]
    assert "counts" in notes_of(excinfo.value)
    assert "url[7]" in notes_of(excinfo.value)
    assert 8 not in calls, "fail-fast: no branch starts after the failure"


async def test_sync_generator_error_propagates_as_itself_with_node_note() -> None:
    raised: list[BoomError] = []

    def url() -> Parallelizable[int]:
        yield 0
        yield 1
        raised.append(BoomError("the source broke"))
        raise raised[0]

    def counts(url: int) -> int:
        return url

    def total(counts: Collect[int]) -> int:
        return sum(counts)

    dr = build(url, counts, total)

    with pytest.raises(BoomError) as excinfo:
        await dr.execute(["total"])

    assert excinfo.value is raised[0]
    assert "url" in notes_of(excinfo.value)
