"""Scenarios that Dask and Ray executors must both pass: each takes a fresh executor.

Every function here builds its DAG from functions defined inside it (shipped by value to
the cluster's workers), runs it, and asserts the outcome.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import HANG_GUARD, build, notes_of

from asyncdag import Builder, Collect, Parallelizable, on_branch_error, retry, timeout
from asyncdag.errors import (
    BranchFailuresError,
    ExecutorError,
    NodeTimeoutError,
    SerializationError,
    WorkerCrashedError,
)
from asyncdag.execution.executors import Executor

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
Make = Callable[[], Executor]


def fan_out(work: Any) -> tuple[Any, ...]:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def results(work: Collect[Any]) -> list[Any]:
        return list(work)

    return item, work, results


def load_word_count() -> Any:
    """The word-count example, loaded from its file path as a user's module would be."""
    path = EXAMPLES / "word_count.py"
    spec = importlib.util.spec_from_file_location("word_count_on_cluster", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def seed_map_reduce(make: Make) -> None:
    word_count = await asyncio.to_thread(load_word_count)
    texts = EXAMPLES / "texts"
    expected = await asyncio.to_thread(
        lambda: {p.name: len(p.read_text().split()) for p in sorted(texts.glob("*.txt"))}
    )
    dr = Builder().with_modules(word_count).with_remote_executor(make()).build()
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            out = await dr.execute(["per_document", "total_words"], inputs={"text_dir": str(texts)})
    assert out == {"per_document": expected, "total_words": sum(expected.values())}


async def branches_run_on_cluster_workers(make: Make) -> None:
    def work(item: int, base: int) -> tuple[int, int]:
        return item + base, os.getpid()

    dr = build(*fan_out(work), remote=make())
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            rows = (await dr.execute(["results"], inputs={"n": 12, "base": 100}))["results"]
    assert [value for value, _ in rows] == [100 + i for i in range(12)]
    assert os.getpid() not in {pid for _, pid in rows}


async def nested_block_inside_a_remote_branch(make: Make) -> None:
    def outer(n: int) -> Parallelizable[int]:
        yield from range(n)

    def inner(outer: int) -> Parallelizable[int]:
        yield from range(outer + 1)

    async def squared(inner: int) -> int:
        await asyncio.sleep(0)
        return inner * inner

    def per_outer(squared: Collect[int]) -> int:
        return sum(squared)

    def totals(per_outer: Collect[int]) -> list[int]:
        return list(per_outer)

    dr = build(outer, inner, squared, per_outer, totals, remote=make())
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            out = await dr.execute(["totals"], inputs={"n": 5})
    assert out == {"totals": [sum(i * i for i in range(k + 1)) for k in range(5)]}


async def yield_order_with_scrambled_finish_times(make: Make) -> None:
    def work(item: int) -> int:
        time.sleep(0.02 * ((7 * item) % 5))
        return item * 10

    dr = build(*fan_out(work), remote=make())
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            out = await dr.execute(["results"], inputs={"n": 15})
    assert out == {"results": [i * 10 for i in range(15)]}


async def user_exception_as_itself(make: Make, where: str) -> None:
    def work(item: int) -> int:
        if item == 2:
            raise KeyError(f"bad item {item}")
        return item

    dr = build(*fan_out(work), remote=make())
    async with dr:
        with pytest.raises(KeyError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["results"], inputs={"n": 4})
    notes = notes_of(info.value)
    assert "node 'work'" in notes and "item[2]" in notes
    assert f"traceback in {where}" in notes
    assert "in work" in notes and "KeyError: 'bad item 2'" in notes
    assert notes.count("raised by node") == 1


async def killed_worker(make: Make, worker: str, policy: str) -> None:
    """``worker``: how the message names the dead worker; ``policy``: the retry setting."""

    def work(item: int, crash: bool) -> int:
        if crash and item == 1:
            # Let branch 0 finish first: a dying worker also fails the tasks it still holds,
            # and the error named should be the crashing branch's own.
            time.sleep(0.5)
            os._exit(3)
        return item

    dr = build(*fan_out(work), remote=make())
    async with dr:
        with pytest.raises(WorkerCrashedError) as info:
            async with asyncio.timeout(HANG_GUARD * 2):
                await dr.execute(["results"], inputs={"n": 2, "crash": True})
        assert info.value.node == "work", "the branch's node, not its expander"
        # A branch the dead worker held: item 1, item 1 batched with item 0, or item 0 when
        # the cluster had queued it on that worker behind item 1 (Dask fails every task a
        # dying worker was assigned, the queued ones too, when allowed-failures is 0).
        assert info.value.branch in ("item[1]", "item[0, 1]", "item[0]"), info.value.branch
        message = str(info.value)
        assert (
            f"node 'work' of branch {info.value.branch} was running or queued on {worker}"
            in message
        )
        assert policy in message, "what the cluster's retry policy did, and how to change it"
        assert "exit code None" not in message and "pool was replaced" not in message
        async with asyncio.timeout(HANG_GUARD * 2):
            out = await dr.execute(["results"], inputs={"n": 3, "crash": False})
    assert out == {"results": [0, 1, 2]}


async def cancelling_execute(make: Make, started: Callable[[], Any], seconds: float) -> None:
    """``started()`` returns how many tasks the cluster is running or holding."""

    async def work(item: int) -> int:
        await asyncio.sleep(seconds)
        return item

    dr = build(*fan_out(work), remote=make())
    async with dr:
        task = asyncio.create_task(dr.execute(["results"], inputs={"n": 6}))
        async with asyncio.timeout(HANG_GUARD):
            while not await started():
                await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(HANG_GUARD):
            while await started():  # the cluster forgets the cancelled tasks
                await asyncio.sleep(0.05)


async def cancelling_stops_a_running_branch(make: Make, beats: Path) -> None:
    """A branch busy in a Python loop stops once ``execute`` is cancelled: its beats end.

    Each branch appends a byte to its own file in ``beats`` every 50 ms while ``forever``.
    """

    def work(item: int, beats: str, forever: bool) -> int:
        while forever:
            with open(os.path.join(beats, str(item)), "a") as out:
                out.write(".")
            time.sleep(0.05)
        return item

    def sizes() -> dict[str, int]:
        return {p.name: p.stat().st_size for p in beats.iterdir()}

    inputs = {"n": 2, "beats": str(beats)}
    dr = build(*fan_out(work), remote=make())
    async with dr:
        task = asyncio.create_task(dr.execute(["results"], inputs={**inputs, "forever": True}))
        async with asyncio.timeout(HANG_GUARD):
            while len(await asyncio.to_thread(sizes)) < 2:  # both branches are running
                await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(HANG_GUARD):
                await task
        async with asyncio.timeout(HANG_GUARD):  # no beat for 0.5 s: both loops have stopped
            before, after = {}, await asyncio.to_thread(sizes)
            while before != after:
                await asyncio.sleep(0.5)
                before, after = after, await asyncio.to_thread(sizes)
        async with asyncio.timeout(HANG_GUARD):  # the interrupted workers serve the next run
            out = await dr.execute(["results"], inputs={**inputs, "forever": False})
    assert out == {"results": [0, 1]}


async def unreachable_address(make: Callable[[str], Executor], address: str) -> None:
    def work(item: int) -> int:
        return item

    dr = build(*fan_out(work), remote=make(address))
    start = time.monotonic()
    with pytest.raises(ExecutorError) as info:  # entering connects (warm start), or execute
        async with asyncio.timeout(HANG_GUARD):
            async with dr:
                await dr.execute(["results"], inputs={"n": 2})
    assert address in str(info.value)
    assert time.monotonic() - start < HANG_GUARD


async def retry_and_timeout_in_remote_branches(make: Make, tmp_path: Path) -> None:
    marks = tmp_path

    @retry(3, backoff=0)
    def flaky(item: int) -> int:
        (marks / f"{item}-{time.monotonic_ns()}").touch()  # one file per attempt
        if len(list(marks.glob(f"{item}-*"))) < 2:
            raise ValueError("first attempt fails")
        return item

    @timeout(0.5)
    async def slow(flaky: int) -> int:
        if flaky == 1:
            await asyncio.sleep(30)
        return flaky

    def results(slow: Collect[int]) -> list[int]:
        return list(slow)

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    dr = build(item, flaky, results, slow, remote=make())
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            assert await dr.execute(["results"], inputs={"n": 1}) == {"results": [0]}
        with pytest.raises(NodeTimeoutError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["results"], inputs={"n": 2})
    assert info.value.node == "slow" and "item[1]" in info.value.branch


async def unpicklable_outer_value(make: Make) -> None:
    import threading

    def work(item: int, lock: Any) -> int:
        return item

    dr = build(*fan_out(work), remote=make())
    async with dr:
        with pytest.raises(SerializationError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["results"], inputs={"n": 2, "lock": threading.Lock()})
    assert "lock" in str(info.value)


def example_output(backend: str) -> str:
    """What ``python examples/cluster.py --backend <backend>`` prints (it must succeed)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "cluster.py"), "--backend", backend],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD * 3,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def expected_example_total() -> int:
    return sum(len(p.read_text().split()) for p in (EXAMPLES / "texts").glob("*.txt"))


async def unpicklable_return_value(make: Make) -> None:
    import threading

    def work(item: int) -> Any:
        return threading.Lock()

    dr = build(*fan_out(work), remote=make())
    async with dr:
        with pytest.raises(SerializationError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["results"], inputs={"n": 1})
    assert info.value.node == "work" and "return value" in str(info.value)


def skipping(work: Any, max_failures: int | None = None) -> tuple[Any, ...]:
    """A block over ``range(n)`` under ``@on_branch_error("skip")`` whose branch is ``work``."""

    @on_branch_error("skip", max_failures=max_failures)
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def results(work: Collect[Any]) -> list[Any]:
        return list(work)

    return item, work, results


async def skipped_branch_is_left_out(make: Make) -> None:
    def work(item: int) -> int:
        if item == 3:
            raise ValueError(f"bad item {item}")
        return item * 10

    dr = build(*skipping(work), remote=make())
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            events = [e async for e in dr.stream(["results"], inputs={"n": 6})]
    assert events[-1].value == {"results": [0, 10, 20, 40, 50]}
    (error,) = [e for e in events if e.kind == "error"]
    assert (error.node, error.index) == ("work", (3,))
    assert isinstance(error.value, ValueError)
    notes = notes_of(error.value)
    assert "item[3]" in notes and "bad item 3" in notes
    assert "in work" in notes and ":\nTraceback (most recent call last)" in notes


async def more_failures_than_max_failures(make: Make) -> None:
    def work(item: int) -> int:
        if item % 2:
            raise ValueError(f"odd {item}")
        return item

    dr = build(*skipping(work, max_failures=2), remote=make())
    async with dr:
        with pytest.raises(BranchFailuresError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["results"], inputs={"n": 10})
        assert info.value.expander == "item" and info.value.max_failures == 2
        assert len(info.value.failures) == 3
        assert all(node == "work" for node, _, _ in info.value.failures)
        async with asyncio.timeout(HANG_GUARD):  # the cluster still serves the next run
            out = await dr.execute(["results"], inputs={"n": 3})
    assert out == {"results": [0, 2]}


async def killed_worker_skips_only_its_branch(make: Make) -> None:
    """Slow branches, so that items gather into batches while every task slot is busy."""

    def work(item: int, crash: bool) -> int:
        time.sleep(0.1)
        if crash and item == 7:
            os._exit(3)
        return item

    dr = build(*skipping(work), remote=make())
    async with dr:
        async with asyncio.timeout(HANG_GUARD * 2):
            events = [e async for e in dr.stream(["results"], inputs={"n": 14, "crash": True})]
    errors = [e for e in events if e.kind == "error"]
    assert [e.index for e in errors] == [(7,)]
    assert isinstance(errors[0].value, WorkerCrashedError)
    assert "item[7]" in str(errors[0].value)
    assert events[-1].value == {"results": [i for i in range(14) if i != 7]}


WARM_START = """
import asyncio, os, sys
import psutil
sys.path.insert(0, {tests!r})
from conftest import build
from cluster_cases import fan_out
from asyncdag import executors

def work(item: int) -> int:
    return os.getpid()

async def main() -> None:
    me = psutil.Process()
    dr = build(*fan_out(work), remote={executor})
    print("before", len(me.children(recursive=True)))
    async with dr:
        started = {{p.pid for p in me.children(recursive=True)}}
        print("entered", len(started))
        pids = set((await dr.execute(["results"], inputs={{"n": 4}}))["results"])
        print("ran on workers started on entering", pids <= started)

asyncio.run(main())
"""


def warm_start(executor: str) -> str:
    """What a fresh interpreter prints that enters ``async with dr:`` with ``executor``."""
    import subprocess
    import sys

    tests = str(Path(__file__).resolve().parent)
    done = subprocess.run(
        [sys.executable, "-c", WARM_START.format(tests=tests, executor=executor)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD * 3,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


# With a fixed batch size a block's branches travel as chunks (one plain list per task); the
# test modules run several scenarios above that way too.


async def async_nodes_run_in_fixed_batches(make: Make) -> None:
    async def work(item: int, base: int) -> int:
        await asyncio.sleep(0.001)
        return item + base

    dr = build(*fan_out(work), remote=make())
    async with dr:
        async with asyncio.timeout(HANG_GUARD):
            out = await dr.execute(["results"], inputs={"n": 7, "base": 100})
    assert out == {"results": [100 + i for i in range(7)]}
