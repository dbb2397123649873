"""Whole-block hits: an unchanged block's Collect lists come back in one lookup."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from conftest import HANG_GUARD, make_module, notes_of

from asyncdag import Builder, Collect, Parallelizable, cache, executors
from asyncdag.caching.fingerprint import UNHASHABLE, data_version
from asyncdag.lifecycle import NodeExecutionHook


def cached(tmp_path: Path, *functions: Any, **settings: Any) -> Any:
    return Builder().with_modules(make_module(*functions)).with_cache(tmp_path / "c", **settings)


def counting() -> tuple[list[Any], Any]:
    calls: list[Any] = []
    return calls, calls.append


def spy_lookups(dr: Any) -> list[int]:
    """The number of keys of each lookup the store answers (a spy on the real store)."""
    sizes: list[int] = []
    store = dr.cache.store
    real = store.get_many

    def get_many(keys: list[str]) -> Any:
        sizes.append(len(keys))
        return real(keys)

    store.get_many = get_many
    return sizes


def _two_step_block(called: Any) -> tuple[Any, ...]:
    def item(items: list[int]) -> Parallelizable[int]:
        yield from items

    def double(item: int) -> int:
        called(("double", item))
        return item * 2

    def plus(double: int, offset: int) -> int:
        called(("plus", double))
        return double + offset

    def total(plus: Collect[int]) -> list[int]:
        called("total")
        return plus

    return item, double, plus, total


async def test_unchanged_block_is_read_back_in_one_lookup(tmp_path: Path) -> None:
    calls, called = counting()
    dr = cached(tmp_path, *_two_step_block(called)).build()
    inputs = {"items": list(range(50)), "offset": 1}
    await dr.execute(["total"], inputs=inputs)
    calls.clear()
    sizes = spy_lookups(dr)
    assert await dr.execute(["total"], inputs=inputs) == {"total": [2 * i + 1 for i in range(50)]}
    assert calls == []
    assert sizes == [1, 1]  # the block, then total


async def test_a_block_hit_reports_every_branch_node_as_a_hit(tmp_path: Path) -> None:
    _, called = counting()
    dr = cached(tmp_path, *_two_step_block(called)).build()
    inputs = {"items": [5, 6], "offset": 0}
    await dr.execute(["total"], inputs=inputs)
    await dr.execute(["total"], inputs=inputs)
    hits = dr.cache.hits()
    expected = {(n, f"item[{i}]") for n in ("double", "plus") for i in (0, 1)}
    assert set(hits) == expected | {"total"} and len(hits) == 5
    assert dr.cache.misses() == ["item"]
    logs = dr.cache.logs(run_id=dr.cache.last_run_id)
    assert [e.event_type.value for e in logs[("plus", "item[1]")]] == ["get_result"]


async def test_a_changed_outer_value_recomputes_every_branch(tmp_path: Path) -> None:
    calls, called = counting()
    dr = cached(tmp_path, *_two_step_block(called)).build()
    await dr.execute(["total"], inputs={"items": [1, 2], "offset": 0})
    calls.clear()
    assert await dr.execute(["total"], inputs={"items": [1, 2], "offset": 10}) == {
        "total": [12, 14]
    }
    assert sorted(map(str, calls)) == ["('plus', 2)", "('plus', 4)", "total"]


async def test_one_new_item_after_a_block_hit_computes_one_branch(tmp_path: Path) -> None:
    calls, called = counting()
    dr = cached(tmp_path, *_two_step_block(called)).build()
    await dr.execute(["total"], inputs={"items": [1, 2], "offset": 0})
    await dr.execute(["total"], inputs={"items": [1, 2], "offset": 0})
    calls.clear()
    assert await dr.execute(["total"], inputs={"items": [1, 2, 3], "offset": 0}) == {
        "total": [2, 4, 6]
    }
    assert calls == [("double", 3), ("plus", 6), "total"]


async def test_changed_code_of_a_branch_node_recomputes_the_block(tmp_path: Path) -> None:
    calls, called = counting()
    await (
        cached(tmp_path, *_two_step_block(called))
        .build()
        .execute(["total"], inputs={"items": [1, 2], "offset": 0})
    )
    item, double, _, total = _two_step_block(called)

    def plus(double: int, offset: int) -> int:
        called(("new plus", double))
        return double + offset + 100

    calls.clear()
    dr = cached(tmp_path, item, double, plus, total).build()
    assert await dr.execute(["total"], inputs={"items": [1, 2], "offset": 0}) == {
        "total": [102, 104]
    }
    assert ("new plus", 2) in calls and ("double", 1) not in calls


@pytest.mark.parametrize(
    "settings",
    [{"recompute": ["double"]}, {"disable": ["double"]}, {"ignore": ["double"]}],
    ids=["recompute", "disable", "ignore"],
)
async def test_a_branch_node_not_read_from_the_cache_runs_on_every_rerun(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    calls, called = counting()
    dr = cached(tmp_path, *_two_step_block(called), **settings).build()
    inputs = {"items": [1, 2], "offset": 0}
    await dr.execute(["total"], inputs=inputs)
    calls.clear()
    result = await dr.execute(["total"], inputs=inputs)
    if "ignore" not in settings:  # ignored, double's value is left out of plus's key
        assert result == {"total": [2, 4]}
    assert sorted(c for c in calls if c[0] == "double") == [("double", 1), ("double", 2)]


async def test_a_non_deterministic_branch_node_marked_recompute_runs_every_time(
    tmp_path: Path,
) -> None:
    draws = iter(range(100))

    def item(items: list[int]) -> Parallelizable[int]:
        yield from items

    @cache(behavior="recompute")
    def noisy(item: int) -> int:
        return item + 1000 * next(draws)

    def every(noisy: Collect[int]) -> list[int]:
        return noisy

    dr = cached(tmp_path, item, noisy, every).build()
    first = await dr.execute(["every"], inputs={"items": [1, 2]})
    second = await dr.execute(["every"], inputs={"items": [1, 2]})
    assert first != second
    assert ("noisy", "item[0]") in dr.cache.misses()


async def test_default_behavior_recompute_runs_every_branch(tmp_path: Path) -> None:
    calls, called = counting()
    dr = cached(tmp_path, *_two_step_block(called), default_behavior="recompute").build()
    inputs = {"items": [1, 2], "offset": 0}
    await dr.execute(["total"], inputs=inputs)
    calls.clear()
    await dr.execute(["total"], inputs=inputs)
    assert sorted(map(str, calls)) == [
        "('double', 1)",
        "('double', 2)",
        "('plus', 2)",
        "('plus', 4)",
        "total",
    ]


async def test_a_disabled_outer_value_recomputes_the_branches_reading_it(tmp_path: Path) -> None:
    calls, called = counting()

    def offset(base: int) -> int:
        return base

    dr = cached(tmp_path, *_two_step_block(called), offset, disable=["offset"]).build()
    await dr.execute(["total"], inputs={"items": [1], "base": 0})
    calls.clear()
    await dr.execute(["total"], inputs={"items": [1], "base": 0})
    assert ("plus", 2) in calls and ("double", 1) not in calls


async def test_a_collect_of_values_that_cannot_be_fingerprinted_recomputes_its_reader(
    tmp_path: Path,
) -> None:
    calls, called = counting()

    class Opaque:
        __slots__ = ()

    def item(items: list[int]) -> Parallelizable[int]:
        yield from items

    def thing(item: int) -> Any:
        return Opaque()

    def count(thing: Collect[Any]) -> int:
        called("count")
        return len(thing)

    dr = cached(tmp_path, item, thing, count).build()
    await dr.execute(["count"], inputs={"items": [1]})
    await dr.execute(["count"], inputs={"items": [1]})
    assert calls == ["count", "count"]


async def test_hooks_still_see_every_branch_node_of_a_cached_block(tmp_path: Path) -> None:
    seen: list[tuple[str, str | None]] = []

    class Hook(NodeExecutionHook):
        def run_before_node_execution(self, *, node_name: str, **kw: Any) -> None:
            seen.append((node_name, kw["task_id"]))

        def run_after_node_execution(self, **kw: Any) -> None:
            pass

    _, called = counting()
    builder = cached(tmp_path, *_two_step_block(called)).with_adapters(Hook())
    dr = builder.build()
    inputs = {"items": [1, 2], "offset": 0}
    await dr.execute(["total"], inputs=inputs)
    seen.clear()
    await dr.execute(["total"], inputs=inputs)
    assert sum(name == "plus" for name, _ in seen) == 2
    assert ("plus", "item[0]") in dr.cache.hits()


async def test_an_expander_failing_midway_in_a_cached_block_names_the_item(
    tmp_path: Path,
) -> None:
    def item(n: int) -> Parallelizable[int]:
        for i in range(n):
            if i == 2:
                raise ValueError("no third item")
            yield i

    def double(item: int) -> int:
        return item * 2

    def total(double: Collect[int]) -> int:
        return sum(double)

    dr = cached(tmp_path, item, double, total).build()
    with pytest.raises(ValueError, match="no third item") as caught:
        await dr.execute(["total"], inputs={"n": 5})
    assert "raised by node 'item' while producing item 2" in notes_of(caught.value)


async def test_async_generator_blocks_are_read_back_whole(tmp_path: Path) -> None:
    calls, called = counting()

    async def item(items: list[str]) -> Parallelizable[str]:
        for i in items:
            await asyncio.sleep(0)
            yield i

    async def page(item: str) -> str:
        called(item)
        return item * 2

    def pages(page: Collect[str]) -> list[str]:
        return page

    dr = cached(tmp_path, item, page, pages).build()
    await dr.execute(["pages"], inputs={"items": ["a", "b"]})
    sizes = spy_lookups(dr)
    assert await dr.execute(["pages"], inputs={"items": ["a", "b"]}) == {"pages": ["aa", "bb"]}
    assert calls == ["a", "b"] and sizes == [1, 1]


async def test_nested_blocks_rerun_from_the_cache(tmp_path: Path) -> None:
    calls, called = counting()

    def row(rows: int) -> Parallelizable[int]:
        yield from range(rows)

    def cell(row: int, cols: int) -> Parallelizable[tuple[int, int]]:
        for c in range(cols):
            yield (row, c)

    def value(cell: tuple[int, int]) -> int:
        called(cell)
        return cell[0] * 10 + cell[1]

    def row_sum(value: Collect[int]) -> int:
        return sum(value)

    def grand(row_sum: Collect[int]) -> int:
        return sum(row_sum)

    dr = cached(tmp_path, row, cell, value, row_sum, grand).build()
    assert await dr.execute(["grand"], inputs={"rows": 2, "cols": 2}) == {"grand": 22}
    calls.clear()
    assert await dr.execute(["grand"], inputs={"rows": 2, "cols": 3}) == {"grand": 36}
    assert sorted(calls) == [(0, 2), (1, 2)]


async def test_shipped_block_rerun_ships_nothing(tmp_path: Path) -> None:
    marks = tmp_path / "marks"

    def item(items: list[int]) -> Parallelizable[int]:
        yield from items

    def double(item: int, marks: str) -> int:
        import pathlib

        pathlib.Path(marks, str(item)).mkdir(parents=True)  # fails if called twice
        return item * 2

    def total(double: Collect[int]) -> list[int]:
        return double

    builder = cached(tmp_path, item, double, total)
    builder = builder.with_remote_executor(executors.ProcessExecutor(max_tasks=2))
    async with builder.build() as dr:
        inputs = {"marks": str(marks), "items": [1, 2]}
        await asyncio.wait_for(dr.execute(["total"], inputs), HANG_GUARD)
        sizes = spy_lookups(dr)
        assert await asyncio.wait_for(dr.execute(["total"], inputs), HANG_GUARD) == {
            "total": [2, 4]
        }
        assert sizes == [1, 1]
        assert ("double", "item[1]") in dr.cache.hits()


def test_plain_values_of_different_types_get_different_versions() -> None:
    values: list[Any] = [1, True, 1.0, "1", b"1", (1,), [1], None, -0.0, 0.0, [(1, "a")]]
    versions = [data_version(v) for v in values]
    assert len(set(versions)) == len(values)
    assert data_version([1, "a", (2, b"x")]) == data_version([1, "a", (2, b"x")])
    assert data_version([1, 2]) != data_version([2, 1])


def test_a_huge_int_is_fingerprinted() -> None:
    assert data_version(10**5000) != data_version(10**5000 + 1)
    assert data_version([10**5000]) != data_version([10**5000 + 1])


def test_a_list_holding_a_value_that_cannot_be_fingerprinted_cannot_be_either() -> None:
    class Opaque:
        __slots__ = ()

    assert data_version([1, Opaque()]) == UNHASHABLE
    assert data_version({"k": Opaque()}) == UNHASHABLE


async def test_one_new_item_reads_the_other_branches_in_one_lookup(tmp_path: Path) -> None:
    calls, called = counting()
    dr = cached(tmp_path, *_two_step_block(called)).build()
    await dr.execute(["total"], inputs={"items": list(range(40)), "offset": 0})
    calls.clear()
    sizes = spy_lookups(dr)
    result = await dr.execute(["total"], inputs={"items": list(range(41)), "offset": 0})
    assert result == {"total": [2 * i for i in range(41)]}
    assert calls == [("double", 40), ("plus", 80), "total"]
    assert sizes == [1, 1, 1, 1]  # the block, the new branch's two nodes, total


async def test_a_changed_item_keeps_the_branch_index_of_every_other(tmp_path: Path) -> None:
    calls, called = counting()
    dr = cached(tmp_path, *_two_step_block(called)).build()
    await dr.execute(["total"], inputs={"items": [1, 2, 3], "offset": 0})
    calls.clear()
    result = await dr.execute(["total"], inputs={"items": [1, 9, 3, 3], "offset": 0})
    assert result == {"total": [2, 18, 6, 6]}
    assert calls == [("double", 9), ("plus", 18), "total"]
    hits, misses = dr.cache.hits(), dr.cache.misses()
    assert {("plus", "item[0]"), ("plus", "item[2]"), ("plus", "item[3]")} <= set(hits)
    assert ("plus", "item[1]") in misses and ("plus", "item[1]") not in hits


async def test_a_rerun_with_fewer_items_runs_no_branch(tmp_path: Path) -> None:
    calls, called = counting()
    builder = cached(tmp_path, *_two_step_block(called))
    builder = builder.with_remote_executor(executors.ThreadExecutor(max_tasks=1))
    async with builder.build() as dr:
        await dr.execute(["total"], inputs={"items": [1, 2, 3], "offset": 0})
        calls.clear()
        run = dr.execute(["total"], inputs={"items": [3, 1], "offset": 0})
        assert await asyncio.wait_for(run, HANG_GUARD) == {"total": [6, 2]}
    assert calls == ["total"]


async def test_repeated_items_read_back_get_values_of_their_own(tmp_path: Path) -> None:
    def item(items: list[int]) -> Parallelizable[int]:
        yield from items

    def box(item: int) -> dict[str, int]:
        return {"item": item}

    def boxes(box: Collect[dict[str, int]]) -> list[dict[str, int]]:
        return box

    dr = cached(tmp_path, item, box, boxes).build()
    await dr.execute(["boxes"], inputs={"items": [1, 2]})
    for items in ([1, 2], [1, 1, 2]):
        got = (await dr.execute(["boxes"], inputs={"items": items}))["boxes"]
        assert got == [{"item": i} for i in items]
        assert len({id(b) for b in got}) == len(items)


async def test_concurrent_executes_of_one_block_get_their_own_items(tmp_path: Path) -> None:
    _, called = counting()
    dr = cached(tmp_path, *_two_step_block(called)).build()
    sets = [list(range(i % 3, 20 + i % 4)) for i in range(12)]
    runs = [dr.execute(["total"], inputs={"items": s, "offset": 1}) for s in sets]
    results = await asyncio.wait_for(asyncio.gather(*runs), HANG_GUARD)
    assert [r["total"] for r in results] == [[2 * i + 1 for i in s] for s in sets]


_BLOCK_SCRIPT = """
import sys
from asyncdag import Builder
import blockwork

dr = Builder().with_modules(blockwork).with_cache(sys.argv[1]).build()
for i in range(20):
    n = 50 + i % 3
    assert dr.execute_sync(["total"], inputs={"n": n}) == {"total": sum(range(n)) * 2}
"""

_BLOCK_WORK = """
from asyncdag import Collect, Parallelizable


def item(n: int) -> Parallelizable[int]:
    yield from range(n)


def double(item: int) -> int:
    return item * 2


def total(double: Collect[int]) -> int:
    return sum(double)
"""


def test_processes_reading_and_writing_one_block_at_once_get_right_results(
    tmp_path: Path,
) -> None:
    import subprocess
    import sys

    (tmp_path / "blockwork.py").write_text(_BLOCK_WORK)
    (tmp_path / "run.py").write_text(_BLOCK_SCRIPT)
    runs = [
        subprocess.Popen(
            [sys.executable, "run.py", str(tmp_path / "c")], cwd=tmp_path, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    for proc in runs:
        _, err = proc.communicate(timeout=HANG_GUARD * 3)
        assert proc.returncode == 0, err.decode()


def _busy(seconds: float) -> None:
    """Work that holds the loop (a sync expander's own), without a blocking call."""
    import time

    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def test_branches_start_while_a_slow_expander_still_yields(tmp_path: Path) -> None:
    started: list[int] = []
    seen_at_end: list[int] = []

    def item(n: int) -> Parallelizable[int]:
        for i in range(n):
            _busy(0.02)  # slow items: the block must not wait for all of them
            yield i
        seen_at_end.extend(started)

    async def page(item: int) -> int:
        started.append(item)
        return item

    def pages(page: Collect[int]) -> list[int]:
        return page

    dr = cached(tmp_path, item, page, pages).build()
    assert await dr.execute(["pages"], inputs={"n": 8}) == {"pages": list(range(8))}
    assert 0 in seen_at_end


async def test_branches_start_while_an_async_expander_still_yields(tmp_path: Path) -> None:
    started: list[int] = []
    seen_at_end: list[int] = []

    async def item(n: int) -> Parallelizable[int]:
        for i in range(n):
            await asyncio.sleep(0.005)
            yield i
        seen_at_end.extend(started)

    async def page(item: int) -> int:
        started.append(item)
        return item

    def pages(page: Collect[int]) -> list[int]:
        return page

    dr = cached(tmp_path, item, page, pages).build()
    assert await dr.execute(["pages"], inputs={"n": 5}) == {"pages": list(range(5))}
    assert 0 in seen_at_end


async def test_a_slow_expander_rerun_with_one_new_item_runs_one_branch(tmp_path: Path) -> None:
    calls, called = counting()

    def item(n: int) -> Parallelizable[int]:
        for i in range(n):
            _busy(0.01)
            yield i

    def page(item: int) -> int:
        called(item)
        return item * 3

    def pages(page: Collect[int]) -> list[int]:
        return page

    dr = cached(tmp_path, item, page, pages).build()
    await dr.execute(["pages"], inputs={"n": 6})
    calls.clear()
    sizes = spy_lookups(dr)
    assert await dr.execute(["pages"], inputs={"n": 7}) == {"pages": [3 * i for i in range(7)]}
    assert calls == [6]
    assert sizes == [1, 1, 1]  # the block, the new branch, pages


class _Counted(dict[str, int]):
    """A mapping that counts how often its content is read (as fingerprinting reads it)."""

    reads = 0

    def items(self) -> Any:
        type(self).reads += 1
        return super().items()


@pytest.mark.parametrize("whole", [True, False], ids=["block read", "per node"])
async def test_an_outer_value_is_fingerprinted_once_per_block_not_per_branch(
    tmp_path: Path, whole: bool
) -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def scaled(item: int, table: dict[str, int]) -> int:
        return item * table["k"]

    def total(scaled: Collect[int]) -> int:
        return sum(scaled)

    settings = {} if whole else {"recompute": ["scaled"]}
    dr = cached(tmp_path, item, scaled, total, **settings).build()
    _Counted.reads = 0
    table = _Counted(k=3)
    assert await dr.execute(["total"], inputs={"n": 30, "table": table}) == {"total": 3 * 435}
    assert _Counted.reads == 1


async def test_an_outer_value_is_not_fingerprinted_for_branches_that_never_key(
    tmp_path: Path,
) -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def scaled(item: int, table: dict[str, int]) -> int:
        return item * table["k"]

    def total(scaled: Collect[int]) -> int:
        return sum(scaled)

    dr = cached(tmp_path, item, scaled, total, disable=["scaled"]).build()
    _Counted.reads = 0
    await dr.execute(["total"], inputs={"n": 5, "table": _Counted(k=1)})
    assert _Counted.reads == 0
