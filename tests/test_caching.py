"""Builder.with_cache and @cache: results reused while code and input data are unchanged."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import HANG_GUARD, make_module

from asyncdag import Builder, Collect, Parallelizable, cache, executors


def cached(tmp_path: Path, *functions: Any, **settings: Any) -> Any:
    builder = Builder().with_modules(make_module(*functions)).with_cache(tmp_path / "c", **settings)
    return builder


def counting() -> tuple[list[str], Any]:
    calls: list[str] = []
    return calls, calls.append


async def test_rerun_reads_every_node_from_the_cache_when_nothing_changed(tmp_path: Path) -> None:
    calls, called = counting()

    def a(x: int) -> int:
        called("a")
        return x + 1

    def b(a: int) -> int:
        called("b")
        return a * 2

    dr = cached(tmp_path, a, b).build()
    assert await dr.execute(["b"], inputs={"x": 1}) == {"b": 4}
    assert dr.cache.misses() == ["a", "b"] and dr.cache.hits() == []
    assert await dr.execute(["b"], inputs={"x": 1}) == {"b": 4}
    assert calls == ["a", "b"]
    assert sorted(dr.cache.hits()) == ["a", "b"] and dr.cache.misses() == []


async def test_changed_input_recomputes_only_the_nodes_that_read_it(tmp_path: Path) -> None:
    calls, called = counting()

    def a(x: int) -> int:
        called("a")
        return x + 1

    def c(y: int) -> int:
        called("c")
        return y

    def d(a: int, c: int) -> int:
        called("d")
        return a + c

    dr = cached(tmp_path, a, c, d).build()
    await dr.execute(["d"], inputs={"x": 1, "y": 10})
    calls.clear()
    assert await dr.execute(["d"], inputs={"x": 2, "y": 10}) == {"d": 13}
    assert sorted(calls) == ["a", "d"]
    assert dr.cache.hits() == ["c"]


async def test_unchanged_value_of_a_recomputed_node_lets_its_readers_hit(tmp_path: Path) -> None:
    calls, called = counting()

    def parity(x: int) -> int:
        called("parity")
        return x % 2

    def label(parity: int) -> str:
        called("label")
        return "odd" if parity else "even"

    dr = cached(tmp_path, parity, label).build()
    await dr.execute(["label"], inputs={"x": 1})
    calls.clear()
    assert await dr.execute(["label"], inputs={"x": 3}) == {"label": "odd"}
    assert calls == ["parity"]  # its data version is the same, so label's key is too


async def test_another_driver_on_the_same_path_reads_the_stored_results(tmp_path: Path) -> None:
    calls, called = counting()

    def a(x: int) -> int:
        called("a")
        return x + 1

    await cached(tmp_path, a).build().execute(["a"], inputs={"x": 1})
    other = cached(tmp_path, a).build()
    assert await other.execute(["a"], inputs={"x": 1}) == {"a": 2}
    assert calls == ["a"]
    assert other.cache.hits() == ["a"]


async def test_changed_code_of_a_node_recomputes_it(tmp_path: Path) -> None:
    def a(x: int) -> int:
        return x + 1

    first = cached(tmp_path, a).build()
    await first.execute(["a"], inputs={"x": 1})

    def a(x: int) -> int:  # type: ignore[no-redef]  # the same node, new code
        return x + 100

    second = cached(tmp_path, a).build()
    assert await second.execute(["a"], inputs={"x": 1}) == {"a": 101}
    assert second.cache.misses() == ["a"]


async def test_a_docstring_or_comment_change_keeps_the_cached_result(tmp_path: Path) -> None:
    def a(x: int) -> int:
        return x + 1

    await cached(tmp_path, a).build().execute(["a"], inputs={"x": 1})

    def a(x: int) -> int:  # type: ignore[no-redef]
        """Now documented."""
        return x + 1  # and commented

    dr = cached(tmp_path, a).build()
    await dr.execute(["a"], inputs={"x": 1})
    assert dr.cache.hits() == ["a"]


async def test_async_def_nodes_are_cached(tmp_path: Path) -> None:
    calls, called = counting()

    async def fetched(url: str) -> str:
        called(url)
        await asyncio.sleep(0)
        return url.upper()

    dr = cached(tmp_path, fetched).build()
    await dr.execute(["fetched"], inputs={"url": "u"})
    assert await dr.execute(["fetched"], inputs={"url": "u"}) == {"fetched": "U"}
    assert calls == ["u"]
    assert dr.cache.hits() == ["fetched"]


def _block(called: Any) -> tuple[Any, ...]:
    def item(items: list[int]) -> Parallelizable[int]:
        yield from items

    def double(item: int) -> int:
        called(item)
        return item * 2

    def total(double: Collect[int]) -> list[int]:
        return double

    return item, double, total


@pytest.mark.parametrize("remote", [None, "threads"])
async def test_block_rerun_with_one_new_item_computes_one_new_branch(
    tmp_path: Path, remote: str | None
) -> None:
    calls, called = counting()
    builder = cached(tmp_path, *_block(called))
    if remote:
        builder = builder.with_remote_executor(executors.ThreadExecutor(max_tasks=2))
    async with builder.build() as dr:
        await dr.execute(["total"], inputs={"items": [1, 2, 3]})
        calls.clear()
        assert await dr.execute(["total"], inputs={"items": [1, 2, 3, 4]}) == {
            "total": [2, 4, 6, 8]
        }
        assert calls == [4]
        hits = dr.cache.hits()
    assert ("double", "item[0]") in hits and ("double", "item[3]") not in hits


async def test_async_branches_are_cached_per_item(tmp_path: Path) -> None:
    calls, called = counting()

    def item(items: list[str]) -> Parallelizable[str]:
        return items

    async def page(item: str) -> str:
        called(item)
        return item * 2

    def pages(page: Collect[str]) -> list[str]:
        return page

    dr = cached(tmp_path, item, page, pages).build()
    await dr.execute(["pages"], inputs={"items": ["a", "b"]})
    assert await dr.execute(["pages"], inputs={"items": ["a", "c"]}) == {"pages": ["aa", "cc"]}
    assert sorted(calls) == ["a", "b", "c"]


async def test_shipped_branches_are_looked_up_in_the_parent_per_item(tmp_path: Path) -> None:
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
        inputs = {"marks": str(marks)}
        await asyncio.wait_for(dr.execute(["total"], {**inputs, "items": [1, 2]}), HANG_GUARD)
        run = dr.execute(["total"], {**inputs, "items": [1, 2, 3]})
        assert await asyncio.wait_for(run, HANG_GUARD) == {"total": [2, 4, 6]}
        assert ("double", "item[1]") in dr.cache.hits()
        assert dr.cache.misses() == [("double", "item[2]"), "item", "total"]


async def test_concurrent_executes_on_one_driver_share_the_cache(tmp_path: Path) -> None:
    def a(x: int) -> int:
        return x * 3

    def b(a: int) -> int:
        return a + 1

    dr = cached(tmp_path, a, b).build()
    runs = [dr.execute(["b"], inputs={"x": i % 4}) for i in range(16)]
    results = await asyncio.wait_for(asyncio.gather(*runs), HANG_GUARD)
    assert [r["b"] for r in results] == [(i % 4) * 3 + 1 for i in range(16)]
    assert await dr.execute(["b"], inputs={"x": 2}) == {"b": 7}
    assert sorted(dr.cache.hits()) == ["a", "b"]


_SCRIPT = """
import sys
from asyncdag import Builder
import work

dr = Builder().with_modules(work).with_cache(sys.argv[1]).build()
for i in range(30):
    assert dr.execute_sync(["b"], inputs={"x": i % 5}) == {"b": (i % 5) * 2 + 1}
"""


def test_processes_using_one_cache_path_at_once_get_right_results(tmp_path: Path) -> None:
    (tmp_path / "work.py").write_text(
        "def a(x: int) -> int:\n    return x * 2\n\n\ndef b(a: int) -> int:\n    return a + 1\n"
    )
    (tmp_path / "run.py").write_text(_SCRIPT)
    env_path = str(tmp_path)
    runs = [
        subprocess.Popen(
            [sys.executable, "run.py", str(tmp_path / "c")], cwd=env_path, stderr=subprocess.PIPE
        )
        for _ in range(3)
    ]
    for proc in runs:
        _, err = proc.communicate(timeout=HANG_GUARD * 3)
        assert proc.returncode == 0, err.decode()


def test_dataframes_are_versioned_by_content(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    calls, called = counting()

    def total(frame: Any) -> float:
        called("total")
        return float(frame["v"].sum())

    dr = cached(tmp_path, total).build()
    dr.execute_sync(["total"], inputs={"frame": pd.DataFrame({"v": [1, 2]})})
    dr.execute_sync(["total"], inputs={"frame": pd.DataFrame({"v": [1, 2]})})
    assert calls == ["total"]
    assert dr.execute_sync(["total"], inputs={"frame": pd.DataFrame({"v": [1, 3]})}) == {
        "total": 4.0
    }
    assert calls == ["total", "total"]


async def test_an_input_that_cannot_be_fingerprinted_always_recomputes(tmp_path: Path) -> None:
    calls, called = counting()

    class Opaque:
        __slots__ = ()

    def a(thing: Any) -> int:
        called("a")
        return 1

    dr = cached(tmp_path, a).build()
    thing = Opaque()
    await dr.execute(["a"], inputs={"thing": thing})
    await dr.execute(["a"], inputs={"thing": thing})
    assert calls == ["a", "a"]


async def test_a_failed_node_is_not_cached(tmp_path: Path) -> None:
    calls, called = counting()

    def a(x: int) -> int:
        called("a")
        if len(calls) == 1:
            raise ValueError("first call fails")
        return x

    dr = cached(tmp_path, a).build()
    with pytest.raises(ValueError, match="first call fails"):
        await dr.execute(["a"], inputs={"x": 1})
    assert await dr.execute(["a"], inputs={"x": 1}) == {"a": 1}
    assert calls == ["a", "a"]


async def test_recompute_runs_the_node_every_time(tmp_path: Path) -> None:
    calls, called = counting()

    @cache(behavior="recompute")
    def a(x: int) -> int:
        called("a")
        return x

    def b(a: int) -> int:
        called("b")
        return a

    dr = cached(tmp_path, a, b).build()
    await dr.execute(["b"], inputs={"x": 1})
    await dr.execute(["b"], inputs={"x": 1})
    assert calls == ["a", "b", "a"]


async def test_builder_lists_take_precedence_over_the_decorator(tmp_path: Path) -> None:
    calls, called = counting()

    @cache(behavior="default")
    def a(x: int) -> int:
        called("a")
        return x

    dr = cached(tmp_path, a, recompute=["a"]).build()
    await dr.execute(["a"], inputs={"x": 1})
    await dr.execute(["a"], inputs={"x": 1})
    assert calls == ["a", "a"]


async def test_ignored_dependency_is_left_out_of_its_readers_keys(tmp_path: Path) -> None:
    calls, called = counting()

    def client(token: str) -> str:
        return f"client-{token}"

    def data(client: str, x: int) -> int:
        called("data")
        return x

    dr = cached(tmp_path, client, data, ignore=["client"]).build()
    await dr.execute(["data"], inputs={"token": "t1", "x": 1})
    await dr.execute(["data"], inputs={"token": "t2", "x": 1})
    assert calls == ["data"]


async def test_disabled_dependency_makes_its_readers_recompute(tmp_path: Path) -> None:
    calls, called = counting()

    def a(x: int) -> int:
        return x

    def b(a: int) -> int:
        called("b")
        return a

    dr = cached(tmp_path, a, b, disable=["a"]).build()
    await dr.execute(["b"], inputs={"x": 1})
    await dr.execute(["b"], inputs={"x": 1})
    assert calls == ["b", "b"]
    assert dr.cache.misses() == ["a", "b"]


def test_json_format_stores_the_result_as_json(tmp_path: Path) -> None:
    @cache(format="json")
    def report(x: int) -> dict[str, int]:
        return {"x": x}

    dr = cached(tmp_path, report).build()
    dr.execute_sync(["report"], inputs={"x": 5})
    (stored,) = (tmp_path / "c" / "results").glob("*.json")
    assert json.loads(stored.read_text()) == {"x": 5}
    assert dr.execute_sync(["report"], inputs={"x": 5}) == {"report": {"x": 5}}
    assert dr.cache.hits() == ["report"]


def test_a_missing_result_file_is_recomputed(tmp_path: Path) -> None:
    calls, called = counting()

    def a(x: int) -> bytes:
        called("a")
        return bytes(x)  # too big to keep in the database: a file

    dr = cached(tmp_path, a).build()
    dr.execute_sync(["a"], inputs={"x": 100_000})
    (result,) = (tmp_path / "c" / "results").iterdir()
    result.unlink()
    assert dr.execute_sync(["a"], inputs={"x": 100_000}) == {"a": bytes(100_000)}
    assert calls == ["a", "a"]


async def test_logs_give_hamiltons_events_by_node_and_by_branch(tmp_path: Path) -> None:
    _, called = counting()
    dr = cached(tmp_path, *_block(called)).build()
    await dr.execute(["total"], inputs={"items": [1]})
    first = dr.cache.last_run_id
    await dr.execute(["total"], inputs={"items": [1]})
    assert dr.cache.last_run_id != first and dr.cache.run_ids == [first, dr.cache.last_run_id]
    logs = dr.cache.logs(run_id=dr.cache.last_run_id)
    assert [e.event_type.value for e in logs[("double", "item[0]")]] == ["get_result"]
    assert [e.event_type.value for e in logs["item"]] == ["execute_node"]  # always runs
    assert set(dr.cache.logs()) == {first, dr.cache.last_run_id}


def test_a_driver_without_cache_says_how_to_get_one() -> None:
    def a() -> int:
        return 1

    dr = Builder().with_modules(make_module(a)).build()
    with pytest.raises(AttributeError, match="with_cache"):
        dr.cache  # noqa: B018


def test_cache_decorator_rejects_an_unknown_behavior_or_format() -> None:
    with pytest.raises(ValueError, match="recompute"):
        cache(behavior="sometimes")
    with pytest.raises(ValueError, match="json"):
        cache(format="yaml")


def test_execute_sync_reads_the_cache_too(tmp_path: Path) -> None:
    calls, called = counting()

    def a(x: int) -> int:
        called("a")
        return x

    dr = cached(tmp_path, a).build()
    dr.execute_sync(["a"], inputs={"x": 1})
    assert dr.execute_sync(["a"], inputs={"x": 1}) == {"a": 1}
    assert calls == ["a"]


def test_script_helper_is_dedented() -> None:
    assert textwrap.dedent(_SCRIPT) == _SCRIPT


async def test_a_failing_branch_stops_the_run_and_the_cache_stays_usable(tmp_path: Path) -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    async def slow(item: int, bad: int) -> int:
        if item == bad:
            raise ValueError(f"item {item}")
        await asyncio.sleep(0)
        return item

    def every(slow: Collect[int]) -> list[int]:
        return slow

    dr = cached(tmp_path, item, slow, every).build()
    with pytest.raises(ValueError, match="item 50"):
        await asyncio.wait_for(dr.execute(["every"], inputs={"n": 200, "bad": 50}), HANG_GUARD)
    run = dr.execute(["every"], inputs={"n": 200, "bad": -1})
    assert await asyncio.wait_for(run, HANG_GUARD) == {"every": list(range(200))}


async def test_stream_reads_the_cache_and_reports_every_node(tmp_path: Path) -> None:
    def a(x: int) -> int:
        return x + 1

    dr = cached(tmp_path, a).build()
    await dr.execute(["a"], inputs={"x": 1})
    events = [e async for e in dr.stream(["a"], inputs={"x": 1})]
    assert [(e.kind, e.node, e.value) for e in events if e.kind == "node"] == [("node", "a", 2)]
    assert dr.cache.hits() == ["a"]


def _module_file(tmp_path: Path, name: str, source: str) -> Any:
    import importlib.util

    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_TAXED = """
def _rate() -> float:
    return {rate}


def taxed(price: float) -> float:
    return price * (1 + _rate())
"""


def test_a_changed_helper_function_recomputes_the_nodes_calling_it(tmp_path: Path) -> None:
    first = _module_file(tmp_path, "prices_v1", _TAXED.format(rate=0.5))
    dr = Builder().with_modules(first).with_cache(tmp_path / "c").build()
    assert dr.execute_sync(["taxed"], inputs={"price": 10.0}) == {"taxed": 15.0}
    same = _module_file(tmp_path, "prices_v1_again", _TAXED.format(rate=0.5))
    again = Builder().with_modules(same).with_cache(tmp_path / "c").build()
    again.execute_sync(["taxed"], inputs={"price": 10.0})
    assert again.cache.hits() == ["taxed"]
    changed = _module_file(tmp_path, "prices_v2", _TAXED.format(rate=0.25))
    dr = Builder().with_modules(changed).with_cache(tmp_path / "c").build()
    assert dr.execute_sync(["taxed"], inputs={"price": 10.0}) == {"taxed": 12.5}
    assert dr.cache.misses() == ["taxed"]


async def test_behaviors_follow_the_node_a_renamed_parameter_reads(tmp_path: Path) -> None:
    from asyncdag import parameterize, source

    calls, called = counting()

    def client(token: str) -> str:
        return f"client-{token}"

    @parameterize(fetched={"conn": source("client")})
    def fetch(conn: str, x: int) -> int:
        called("fetched")
        return x

    dr = cached(tmp_path, client, fetch, ignore=["client"]).build()
    await dr.execute(["fetched"], inputs={"token": "t1", "x": 1})
    await dr.execute(["fetched"], inputs={"token": "t2", "x": 1})
    assert calls == ["fetched"]


def test_execute_sync_from_several_threads_at_once_shares_the_cache(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def square(item: int) -> int:
        return item * item

    def squares(square: Collect[int]) -> list[int]:
        return square

    dr = cached(tmp_path, item, square, squares).build()
    with ThreadPoolExecutor(4) as pool:
        runs = [pool.submit(dr.execute_sync, ["squares"], {"n": 20 + i % 3}) for i in range(8)]
        results = [run.result(timeout=HANG_GUARD) for run in runs]
    assert [r["squares"] for r in results] == [[k * k for k in range(20 + i % 3)] for i in range(8)]
    dr.execute_sync(["squares"], {"n": 22})
    assert ("square", "item[21]") in dr.cache.hits()


async def test_nodes_on_a_local_process_executor_are_cached_in_the_parent(
    tmp_path: Path,
) -> None:
    marks = tmp_path / "marks"

    def heavy(x: int, marks: str) -> int:
        import pathlib

        pathlib.Path(marks, str(x)).mkdir(parents=True)  # fails if called twice
        return x * 10

    builder = cached(tmp_path, heavy).with_local_executor(executors.ProcessExecutor(max_tasks=1))
    async with builder.build() as dr:
        inputs = {"x": 4, "marks": str(marks)}
        await asyncio.wait_for(dr.execute(["heavy"], inputs=inputs), HANG_GUARD)
        again = await asyncio.wait_for(dr.execute(["heavy"], inputs=inputs), HANG_GUARD)
    assert again == {"heavy": 40}
    assert dr.cache.hits() == ["heavy"]


async def test_leaving_a_cached_stream_early_cancels_the_run_cleanly(tmp_path: Path) -> None:
    import contextlib

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    async def slow(item: int) -> int:
        await asyncio.sleep(0)
        return item

    def every(slow: Collect[int]) -> list[int]:
        return slow

    dr = cached(tmp_path, item, slow, every).build()
    async with contextlib.aclosing(dr.stream(["every"], inputs={"n": 300})) as events:
        async for event in events:
            if event.kind == "node" and event.node == "slow":
                break
    run = dr.execute(["every"], inputs={"n": 300})
    assert await asyncio.wait_for(run, HANG_GUARD) == {"every": list(range(300))}


_DOES = """
from asyncdag.function_modifiers import does


def _combine(**values: int) -> int:
    return {body}


@does(_combine)
def total(a: int, b: int) -> int: ...
"""


def test_a_changed_does_replacement_recomputes_the_node(tmp_path: Path) -> None:
    first = _module_file(tmp_path, "does_v1", _DOES.format(body="sum(values.values())"))
    dr = Builder().with_modules(first).with_cache(tmp_path / "c").build()
    assert dr.execute_sync(["total"], inputs={"a": 2, "b": 3}) == {"total": 5}
    changed = _module_file(tmp_path, "does_v2", _DOES.format(body="max(values.values())"))
    dr = Builder().with_modules(changed).with_cache(tmp_path / "c").build()
    assert dr.execute_sync(["total"], inputs={"a": 2, "b": 3}) == {"total": 3}
