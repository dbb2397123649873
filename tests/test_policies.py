"""@timeout and @retry: per-node policies on every executor, inside and outside blocks."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from conftest import build

from asyncdag import Collect, Parallelizable, executors, retry, tag, timeout
from asyncdag.errors import NodeTimeoutError

pytestmark = pytest.mark.timeout(60)

NEVER = 30.0  # how long a "hanging" node would hang if its timeout did not cut it off


async def test_async_node_past_its_timeout_raises_node_timeout_error_naming_node_and_branch() -> (
    None
):
    def item() -> Parallelizable[int]:
        yield from range(4)

    @timeout(0.2)
    async def fetch(item: int) -> int:
        if item == 2:
            await asyncio.sleep(NEVER)
        return item

    def total(fetch: Collect[int]) -> int:
        return sum(fetch)

    with pytest.raises(NodeTimeoutError) as info:
        await build(item, fetch, total).execute(["total"])
    assert info.value.node == "fetch" and info.value.branch == "item[2]"
    assert info.value.seconds == 0.2
    assert "fetch" in str(info.value) and "item[2]" in str(info.value)


async def test_inline_sync_node_past_its_timeout_raises_without_waiting_for_it() -> None:
    release = threading.Event()

    @timeout(0.2)
    def stuck(x: int) -> int:
        release.wait(NEVER)
        return x

    try:
        with pytest.raises(NodeTimeoutError) as info:
            await build(stuck).execute(["stuck"], inputs={"x": 1})
        assert not release.is_set(), "raised while the node was still running"
    finally:
        release.set()
    assert info.value.node == "stuck"


async def test_thread_node_past_its_timeout_raises_without_waiting_for_the_thread() -> None:
    release = threading.Event()

    @timeout(0.2)
    @tag(executor="io")
    def stuck(x: int) -> int:
        release.wait(NEVER)
        return x

    dr = build(stuck, io=executors.ThreadExecutor(max_tasks=2))
    try:
        with pytest.raises(NodeTimeoutError):
            await dr.execute(["stuck"], inputs={"x": 1})
        assert not release.is_set()
    finally:
        release.set()
        await dr.aclose()


async def test_process_node_past_its_timeout_stops_its_worker_and_the_next_execute_works() -> None:
    @timeout(1.0)
    def slow(item: int, hang: bool) -> int:
        import time

        if hang and item == 1:
            time.sleep(NEVER)
        return item

    def item() -> Parallelizable[int]:
        yield from range(3)

    def total(slow: Collect[int]) -> int:
        return sum(slow)

    executor = executors.ProcessExecutor(max_tasks=2)
    dr = build(item, slow, total, remote=executor)
    async with dr:
        with pytest.raises(NodeTimeoutError) as info:
            await dr.execute(["total"], inputs={"hang": True})
        assert info.value.branch == "item[1]"
        assert await dr.execute(["total"], inputs={"hang": False}) == {"total": 3}


async def test_node_raising_its_own_timeout_error_is_not_reported_as_a_node_timeout() -> None:
    @timeout(5)
    async def picky(x: int) -> int:
        raise TimeoutError("the upstream service timed out")

    with pytest.raises(TimeoutError) as info:
        await build(picky).execute(["picky"], inputs={"x": 1})
    assert not isinstance(info.value, NodeTimeoutError)
    assert "upstream service" in str(info.value)


async def test_retry_runs_a_failing_node_again_until_it_succeeds() -> None:
    calls = 0

    @retry(3, backoff=0.01)
    def flaky(x: int) -> int:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise ConnectionError("try again")
        return x * 2

    assert await build(flaky).execute(["flaky"], inputs={"x": 4}) == {"flaky": 8}
    assert calls == 3


async def test_retry_gives_up_after_its_attempts_with_the_last_exception_as_itself() -> None:
    calls = 0

    @retry(2, backoff=0.01)
    async def broken(x: int) -> int:
        nonlocal calls
        calls += 1
        raise ConnectionError(f"attempt {calls}")

    with pytest.raises(ConnectionError, match="attempt 2") as info:
        await build(broken).execute(["broken"], inputs={"x": 1})
    assert calls == 2
    assert any("node 'broken'" in note for note in info.value.__notes__)


async def test_retry_does_not_retry_exceptions_outside_its_list() -> None:
    calls = 0

    @retry(5, backoff=0.01, on=(ConnectionError,))
    def wrong(x: int) -> int:
        nonlocal calls
        calls += 1
        raise KeyError("not retried")

    with pytest.raises(KeyError):
        await build(wrong).execute(["wrong"], inputs={"x": 1})
    assert calls == 1


async def test_retry_after_a_timeout_succeeds_on_the_next_attempt() -> None:
    calls = 0

    @retry(2, backoff=0)
    @timeout(0.2)
    async def slow_once(x: int) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(NEVER)
        return x

    assert await build(slow_once).execute(["slow_once"], inputs={"x": 7}) == {"slow_once": 7}
    assert calls == 2


async def test_retry_inside_branches_shipped_to_worker_processes(tmp_path: Path) -> None:
    def item() -> Parallelizable[int]:
        yield from range(3)

    @retry(3, backoff=0.01)
    def flaky(item: int, marks: str) -> int:
        mark = Path(marks) / f"{item}"
        attempts = len(mark.read_text()) if mark.exists() else 0
        mark.write_text("x" * (attempts + 1))
        if attempts < 2:
            raise ConnectionError("try again")
        return item * 10

    def total(flaky: Collect[int]) -> list[int]:
        return list(flaky)

    dr = build(item, flaky, total, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        out = await dr.execute(["total"], inputs={"marks": str(tmp_path)})
    assert out == {"total": [0, 10, 20]}
    marks = await asyncio.to_thread(lambda: sorted(p.read_text() for p in tmp_path.iterdir()))
    assert marks == ["xxx"] * 3


@pytest.mark.parametrize("seconds", [0, -1, "1"])
def test_timeout_rejects_a_non_positive_number(seconds: Any) -> None:
    with pytest.raises(ValueError, match="timeout"):
        timeout(seconds)


@pytest.mark.parametrize(("attempts", "backoff"), [(0, 0.1), (2, -1.0)])
def test_retry_rejects_bad_settings(attempts: int, backoff: float) -> None:
    with pytest.raises(ValueError, match="retry"):
        retry(attempts, backoff=backoff)


async def test_inline_sync_nodes_under_a_timeout_run_on_a_bounded_number_of_threads() -> None:
    from asyncdag.execution.policy import TIMEOUT_THREADS

    release = threading.Event()
    lock = threading.Lock()
    running = most = 0

    def item() -> Parallelizable[int]:
        yield from range(TIMEOUT_THREADS + 8)

    @timeout(NEVER)
    def held(item: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            if running > TIMEOUT_THREADS:
                release.set()  # past the bound: no need to wait any longer
        release.wait(0.3)  # each holds its thread a while, so that calls overlap
        with lock:
            running -= 1
        return item

    def total(held: Collect[int]) -> int:
        return sum(held)

    n = TIMEOUT_THREADS + 8
    assert await build(item, held, total).execute(["total"]) == {"total": n * (n - 1) // 2}
    assert most == TIMEOUT_THREADS
