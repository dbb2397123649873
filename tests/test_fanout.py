"""Fan-out and fan-in: blocks stream, keep yield order, nest and respect max_tasks."""

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from conftest import build, wait_patiently

from asyncdag import Collect, Parallelizable, executors

PAGES = {
    "https://a.example": "the quick brown fox",
    "https://b.example": "jumps over",
    "https://c.example": "the lazy dog sleeps today",
    "https://d.example": "",
}
TOTAL_WORDS = 4 + 2 + 5 + 0

# Bounds a wait that a correct engine ends at once: a wrong one fails the test instead of hanging.


def url_from_sync_generator() -> Callable[..., Any]:
    def url() -> Parallelizable[str]:
        yield from PAGES

    return url


def url_from_async_generator() -> Callable[..., Any]:
    async def url() -> Parallelizable[str]:
        for page in PAGES:
            await asyncio.sleep(0)
            yield page

    return url


def url_from_list() -> Callable[..., Any]:
    def url() -> Parallelizable[str]:
        return list(PAGES)

    return url


@pytest.mark.parametrize(
    "make_url",
    [url_from_sync_generator, url_from_async_generator, url_from_list],
    ids=["sync-generator", "async-generator", "list"],
)
async def test_map_reduce_sums_the_word_counts_of_every_branch(
    make_url: Callable[[], Callable[..., Any]],
) -> None:
    async def url_loaded(url: str) -> str:
        await asyncio.sleep(0)
        return PAGES[url]

    def counts(url_loaded: str) -> int:
        return len(url_loaded.split())

    def total_words(counts: Collect[int]) -> int:
        return sum(counts)

    dr = build(make_url(), url_loaded, counts, total_words)

    assert await dr.execute(["total_words"]) == {"total_words": TOTAL_WORDS}


async def test_first_branch_starts_before_async_generator_finishes() -> None:
    events: list[str] = []
    first_branch_started = asyncio.Event()

    async def url() -> Parallelizable[int]:
        for i in range(3):
            events.append(f"yield {i}")
            yield i
            if i == 0:
                # A streaming engine starts branch 0 while the generator waits here.
                await wait_patiently(first_branch_started)
        events.append("generator end")

    async def fetched(url: int) -> int:
        events.append(f"start {url}")
        first_branch_started.set()
        return url * 10

    def everything(fetched: Collect[int]) -> list[int]:
        return fetched

    dr = build(url, fetched, everything)

    assert await dr.execute(["everything"]) == {"everything": [0, 10, 20]}
    assert events.index("start 0") < events.index("generator end"), events


async def test_first_branch_starts_before_sync_generator_finishes() -> None:
    events: list[str] = []

    def url() -> Parallelizable[int]:
        for i in range(3):
            events.append(f"yield {i}")
            yield i
        events.append("generator end")

    def fetched(url: int) -> int:
        events.append(f"start {url}")
        return url * 10

    def everything(fetched: Collect[int]) -> list[int]:
        return fetched

    dr = build(url, fetched, everything)

    assert await dr.execute(["everything"]) == {"everything": [0, 10, 20]}
    assert events.index("start 0") < events.index("generator end"), events


@pytest.mark.parametrize("generator_kind", ["sync", "async"])
async def test_thread_executor_max_tasks_bounds_branches_in_flight_and_the_generator(
    generator_kind: str,
) -> None:
    n_items, max_tasks = 12, 3
    in_flight = 0
    max_in_flight = 0
    finished = 0
    max_ahead = 0  # items the generator has produced minus branches finished, at each yield
    bound_reached = asyncio.Event()

    def note_yield(i: int) -> None:
        nonlocal max_ahead
        max_ahead = max(max_ahead, i + 1 - finished)

    if generator_kind == "sync":

        def item() -> Parallelizable[int]:
            for i in range(n_items):
                note_yield(i)
                yield i

    else:

        async def item() -> Parallelizable[int]:
            for i in range(n_items):
                note_yield(i)
                yield i

    async def work(item: int) -> int:
        nonlocal in_flight, max_in_flight, finished
        in_flight += 1
        max_in_flight = max(max_in_flight, in_flight)
        if in_flight == max_tasks:
            bound_reached.set()
        # The first branches hold on until max_tasks of them run at once, so the bound is reached.
        await wait_patiently(bound_reached)
        await asyncio.sleep(0.001)
        in_flight -= 1
        finished += 1
        return item * 2

    def total(work: Collect[int]) -> list[int]:
        return work

    dr = build(item, work, total, remote=executors.ThreadExecutor(max_tasks=max_tasks))

    assert await dr.execute(["total"]) == {"total": [2 * i for i in range(n_items)]}
    assert max_in_flight == max_tasks
    assert max_ahead <= max_tasks


async def test_collect_keeps_yield_order_when_branches_finish_in_reverse() -> None:
    n_items = 6
    finish_order: list[int] = []

    async def url() -> Parallelizable[int]:
        for i in range(n_items):
            yield i

    finished = [asyncio.Event() for _ in range(n_items)]

    async def slow(url: int) -> str:
        if url + 1 < n_items:  # each branch waits for the one yielded after it: no timing
            await wait_patiently(finished[url + 1])
        finish_order.append(url)
        finished[url].set()
        return f"item {url}"

    def everything(slow: Collect[str]) -> list[str]:
        return slow

    dr = build(url, slow, everything)

    result = await dr.execute(["everything"])

    assert finish_order == list(reversed(range(n_items))), "premise: branches finish in reverse"
    assert result == {"everything": [f"item {i}" for i in range(n_items)]}


async def test_empty_generator_gives_collect_an_empty_list() -> None:
    branch_calls: list[int] = []

    def url() -> Parallelizable[int]:
        yield from ()

    def doubled(url: int) -> int:
        branch_calls.append(url)
        return url * 2

    def everything(doubled: Collect[int]) -> list[int]:
        return doubled

    dr = build(url, doubled, everything)

    assert await dr.execute(["everything"]) == {"everything": []}
    assert branch_calls == []


async def test_nested_blocks_two_levels_give_per_group_sums() -> None:
    async def group() -> Parallelizable[int]:
        for g in (1, 2, 3):
            yield g

    def member(group: int) -> Parallelizable[int]:
        yield from range(group * 10, group * 10 + group)  # 1: [10]; 2: [20, 21]; 3: [30, 31, 32]

    async def squared(member: int) -> int:
        await asyncio.sleep(0)
        return member * member

    def group_sum(squared: Collect[int]) -> int:
        return sum(squared)

    def group_sums(group_sum: Collect[int]) -> list[int]:
        return group_sum

    dr = build(group, member, squared, group_sum, group_sums)

    expected = [10**2, 20**2 + 21**2, 30**2 + 31**2 + 32**2]
    assert await dr.execute(["group_sums"]) == {"group_sums": expected}


async def test_nested_blocks_three_levels_give_per_country_sums() -> None:
    def country() -> Parallelizable[int]:
        yield from (1, 2)

    async def city(country: int) -> Parallelizable[int]:
        for c in range(country):
            await asyncio.sleep(0)
            yield country * 10 + c  # 1: [10]; 2: [20, 21]

    def street(city: int) -> Parallelizable[int]:
        yield from range(city * 10, city * 10 + city % 10 + 1)  # 10: [100]; 21: [210, 211]

    async def houses(street: int) -> int:
        await asyncio.sleep(0)
        return street + 1

    def city_total(houses: Collect[int]) -> int:
        return sum(houses)

    def country_total(city_total: Collect[int]) -> int:
        return sum(city_total)

    def world(country_total: Collect[int]) -> list[int]:
        return country_total

    dr = build(country, city, street, houses, city_total, country_total, world)

    expected = [101, 201 + 211 + 212]
    assert await dr.execute(["world"]) == {"world": expected}


async def test_inner_branch_reads_the_value_of_its_outer_branch() -> None:
    def group() -> Parallelizable[str]:
        yield from ("a", "b")

    def member(group: str) -> Parallelizable[int]:
        yield from range(3)

    async def label(group: str, member: int) -> str:
        await asyncio.sleep(0)
        return f"{group}{member}"

    def labels(label: Collect[str]) -> str:
        return ",".join(label)

    def all_labels(labels: Collect[str]) -> list[str]:
        return labels

    dr = build(group, member, label, labels, all_labels)

    assert await dr.execute(["all_labels"]) == {"all_labels": ["a0,a1,a2", "b0,b1,b2"]}


async def test_two_collects_from_one_block_are_aligned_by_index() -> None:
    names = ["ann", "bo", "cyrille", "di", "eve"]

    async def name() -> Parallelizable[str]:
        for n in names:
            yield n

    async def upper(name: str) -> str:
        # Later names finish first, so completion order differs from yield order.
        await asyncio.sleep((len(names) - names.index(name)) * 0.005)
        return name.upper()

    def length(name: str) -> int:
        return len(name)

    def table(upper: Collect[str], length: Collect[int]) -> list[tuple[str, int]]:
        return list(zip(upper, length, strict=True))

    dr = build(name, upper, length, table)

    expected = [("ANN", 3), ("BO", 2), ("CYRILLE", 7), ("DI", 2), ("EVE", 3)]
    assert await dr.execute(["table"]) == {"table": expected}


async def test_branch_node_reads_a_node_outside_the_block_computed_once() -> None:
    factor_calls = 0

    async def factor(base: int) -> int:
        nonlocal factor_calls
        factor_calls += 1
        await asyncio.sleep(0)
        return base * 10

    def url() -> Parallelizable[int]:
        yield from range(5)

    def scaled(url: int, factor: int) -> int:
        return url * factor

    def everything(scaled: Collect[int]) -> list[int]:
        return scaled

    dr = build(factor, url, scaled, everything)

    assert await dr.execute(["everything"], inputs={"base": 3}) == {
        "everything": [0, 30, 60, 90, 120]
    }
    assert factor_calls == 1


async def test_sync_only_inline_block_of_ten_thousand_items_gives_the_right_result() -> None:
    n_items = 10_000

    def url() -> Parallelizable[int]:
        yield from range(n_items)

    def doubled(url: int) -> int:
        return url * 2

    def plus_one(doubled: int) -> int:
        return doubled + 1

    def everything(plus_one: Collect[int]) -> list[int]:
        return plus_one

    def total(plus_one: Collect[int]) -> int:
        return sum(plus_one)

    dr = build(url, doubled, plus_one, everything, total)

    result = await dr.execute(["everything", "total"])

    assert result["everything"] == [2 * i + 1 for i in range(n_items)]
    assert result["total"] == n_items * n_items


@pytest.mark.parametrize("where", ["remote-for-branches", "local-for-nodes-outside-blocks"])
async def test_sync_node_on_thread_executor_runs_in_a_worker_thread(where: str) -> None:
    loop_thread = threading.get_ident()
    branch_threads: list[int] = []
    collect_threads: list[int] = []

    def url() -> Parallelizable[int]:
        yield from range(4)

    def in_branch(url: int) -> int:
        branch_threads.append(threading.get_ident())
        return url + 1

    def everything(in_branch: Collect[int]) -> list[int]:
        collect_threads.append(threading.get_ident())
        return in_branch

    pool = executors.ThreadExecutor(max_tasks=2)
    if where == "remote-for-branches":
        dr = build(url, in_branch, everything, remote=pool)
        on_the_pool = branch_threads
    else:
        dr = build(url, in_branch, everything, local=pool)
        on_the_pool = collect_threads

    assert await dr.execute(["everything"]) == {"everything": [1, 2, 3, 4]}
    assert len(branch_threads) == 4
    assert len(collect_threads) == 1
    assert on_the_pool
    assert loop_thread not in on_the_pool, (loop_thread, on_the_pool)


@pytest.mark.parametrize("order", ["item first", "item last", "item keyword-only"])
async def test_an_async_branch_node_gets_the_item_and_its_other_inputs_in_any_order(
    order: str,
) -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    if order == "item first":

        async def shifted(item: int, offset: int) -> int:
            return item + offset

    elif order == "item last":

        async def shifted(offset: int, item: int) -> int:
            return item + offset

    else:

        async def shifted(offset: int, *, item: int) -> int:
            return item + offset

    def results(shifted: Collect[int]) -> list[int]:
        return list(shifted)

    dr = build(item, shifted, results)
    out = await dr.execute(["results"], inputs={"n": 4, "offset": 10})
    assert out == {"results": [10, 11, 12, 13]}
