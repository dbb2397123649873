"""ProcessExecutor: whole branches in worker processes, cloudpickle payloads, failures named."""

from __future__ import annotations

import asyncio
import gc
import os
import pickle
import signal
import threading
import time
from typing import Any

import pytest
from conftest import build, children

from asyncdag import Builder, Collect, Parallelizable, executors, tag
from asyncdag.errors import SerializationError, WorkerCrashedError

pytestmark = pytest.mark.timeout(60)


def fan_out_module(work: Any) -> tuple[Any, ...]:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def results(work: Collect[Any]) -> list[Any]:
        return list(work)

    return item, work, results


async def test_branches_run_in_worker_processes_in_parallel() -> None:
    def work(item: int) -> tuple[int, float, float]:
        start = time.time()
        time.sleep(0.3)
        return os.getpid(), start, time.time()

    dr = build(*fan_out_module(work), remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        rows = (await dr.execute(["results"], inputs={"n": 2}))["results"]

    pids = {pid for pid, _, _ in rows}
    assert os.getpid() not in pids
    assert len(pids) == 2
    (_, start_a, end_a), (_, start_b, end_b) = rows
    assert start_b < end_a and start_a < end_b, "the two branches' intervals overlap"


async def test_collect_keeps_yield_order_with_batches_on_processes() -> None:
    def work(item: int) -> int:
        time.sleep(0.001 * (20 - item))
        return item * item

    dr = build(*fan_out_module(work), remote=executors.ProcessExecutor(max_tasks=2, batch_size=3))
    async with dr:
        out = await dr.execute(["results"], inputs={"n": 20})
    assert out == {"results": [i * i for i in range(20)]}


async def test_a_branch_of_sync_and_async_nodes_runs_whole_in_one_worker() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def first(item: int) -> int:
        return os.getpid()

    async def second(first: int) -> tuple[int, int]:
        await asyncio.sleep(0)
        return first, os.getpid()

    def pairs(second: Collect[tuple[int, int]]) -> list[tuple[int, int]]:
        return list(second)

    dr = build(item, first, second, pairs, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        out = (await dr.execute(["pairs"], inputs={"n": 4}))["pairs"]
    assert all(a == b != os.getpid() for a, b in out)


async def test_closures_and_lambdas_run_where_stdlib_pickle_fails() -> None:
    offset = 7
    transform = lambda x: x + offset  # noqa: E731 - the point is a lambda

    class Local:
        def __init__(self, v: int) -> None:
            self.v = v

    def work(item: int, fn: Any) -> Any:
        return Local(fn(item))

    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(work)
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(transform)

    dr = build(*fan_out_module(work), remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        out = await dr.execute(["results"], inputs={"n": 3, "fn": transform})
    assert [r.v for r in out["results"]] == [7, 8, 9]


async def test_event_loop_keeps_ticking_while_branches_run_on_processes() -> None:
    def work(item: int) -> int:
        end = time.time() + 0.2
        while time.time() < end:
            pass
        return item

    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    dr = build(*fan_out_module(work), remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        await dr.execute(["results"], inputs={"n": 1})  # workers warm
        beat = asyncio.create_task(heartbeat())
        try:
            await dr.execute(["results"], inputs={"n": 4})
        finally:
            beat.cancel()
    assert ticks >= 10


class _Holder:
    def __init__(self) -> None:
        self.lock = threading.Lock()


async def test_unpicklable_input_raises_serialization_error_naming_node_type_and_path() -> None:
    def work(item: int, holder: Any) -> int:
        return item

    executor = executors.ProcessExecutor(max_tasks=2)
    dr = build(*fan_out_module(work), remote=executor)
    try:  # not `async with dr:`, which starts the workers before any execute
        with pytest.raises(SerializationError) as info:
            await dr.execute(["results"], inputs={"n": 2, "holder": {"h": _Holder()}})
        assert executor.worker_pids() == [], "nothing was sent: no worker started"
    finally:
        await dr.aclose()
    error = info.value
    assert error.node == "holder"
    assert "lock" in error.type_name
    assert error.path == "['h'].lock"
    assert "holder" in str(error) and "['h'].lock" in str(error)


async def test_unpicklable_return_value_raises_serialization_error_naming_the_node() -> None:
    def work(item: int) -> Any:
        return threading.Lock()

    dr = build(*fan_out_module(work), remote=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        with pytest.raises(SerializationError) as info:
            await dr.execute(["results"], inputs={"n": 1})
    assert info.value.node == "work"
    assert "return value" in str(info.value)


async def test_exception_in_a_worker_propagates_as_itself_with_the_remote_traceback() -> None:
    def work(item: int) -> int:
        if item == 2:
            raise KeyError(f"bad item {item}")
        return item

    dr = build(*fan_out_module(work), remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        with pytest.raises(KeyError) as info:
            await dr.execute(["results"], inputs={"n": 4})
    notes = "\n".join(info.value.__notes__)
    assert "node 'work'" in notes and "item[2]" in notes
    assert "traceback in worker process" in notes
    assert "in work" in notes and "KeyError: 'bad item 2'" in notes
    assert notes.count("raised by node") == 1


@pytest.mark.parametrize("how", ["exit", "signal"])
async def test_dead_worker_raises_worker_crashed_error_and_the_next_execute_works(
    how: str,
) -> None:
    def work(item: int, crash: bool) -> int:
        if crash and item == 1:
            if how == "exit":
                os._exit(3)
            os.kill(os.getpid(), signal.SIGKILL)
        return item

    dr = build(*fan_out_module(work), remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        with pytest.raises(WorkerCrashedError) as info:
            await dr.execute(["results"], inputs={"n": 2, "crash": True})
        assert info.value.node == "work"
        assert info.value.branch == "item[1]"
        assert info.value.exitcode == (3 if how == "exit" else -signal.SIGKILL)
        out = await dr.execute(["results"], inputs={"n": 3, "crash": False})
    assert out == {"results": [0, 1, 2]}


async def test_cancelling_execute_stops_running_jobs_and_leaves_no_process() -> None:
    def work(item: int) -> int:
        time.sleep(30)
        return item

    executor = executors.ProcessExecutor(max_tasks=2)
    dr = build(*fan_out_module(work), remote=executor)
    async with dr:
        task = asyncio.create_task(dr.execute(["results"], inputs={"n": 4}))
        await asyncio.sleep(0.5)  # both workers busy with a branch
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert executor.worker_pids() == []
        assert await asyncio.to_thread(children) == []


async def test_workers_are_reused_across_executes_and_stopped_by_aclose() -> None:
    def work(item: int) -> int:
        return os.getpid()

    executor = executors.ProcessExecutor(max_tasks=2)
    dr = build(*fan_out_module(work), remote=executor)
    first = set((await dr.execute(["results"], inputs={"n": 4}))["results"])
    second = set((await dr.execute(["results"], inputs={"n": 4}))["results"])
    assert second <= set(executor.worker_pids()) and first <= set(executor.worker_pids())
    await dr.aclose()
    assert executor.worker_pids() == []
    assert await asyncio.to_thread(children) == []


@pytest.mark.allow_blocking
def test_execute_sync_stops_the_workers_it_started() -> None:
    def work(item: int) -> int:
        return os.getpid()

    dr = build(*fan_out_module(work), remote=executors.ProcessExecutor(max_tasks=2))
    pids = dr.execute_sync(["results"], inputs={"n": 3})["results"]
    assert os.getpid() not in pids
    assert children() == []


async def test_tagged_node_runs_on_its_named_process_executor_outside_a_block() -> None:
    @tag(executor="cpu")
    def heavy(x: int) -> tuple[int, int]:
        return os.getpid(), x * 2

    def light(heavy: tuple[int, int]) -> int:
        return heavy[1] + 1

    dr = build(heavy, light, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        out = await dr.execute(["heavy", "light"], inputs={"x": 20})
    assert out["light"] == 41
    assert out["heavy"][0] != os.getpid()


async def test_a_tagged_process_node_gets_its_arguments_with_their_exact_types() -> None:
    @tag(executor="cpu")
    def echoed(flag: bool, ratio: float, blob: bytes, nothing: None, pairs: list[Any]) -> Any:
        return [(type(v).__name__, v) for v in (flag, ratio, blob, nothing, pairs)]

    given = {"flag": True, "ratio": 1.0, "blob": b"\x00", "nothing": None, "pairs": [(1, "a")]}
    dr = build(echoed, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        out = await dr.execute(["echoed"], inputs=given)
    assert out["echoed"] == [(type(v).__name__, v) for v in given.values()]


async def test_a_tagged_process_node_gets_a_closure_argument_by_value() -> None:
    @tag(executor="cpu")
    def applied(fn: Any, x: int) -> int:
        result: int = fn(x)
        return result

    offset = 5
    dr = build(applied, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        out = await dr.execute(["applied"], inputs={"fn": lambda v: v + offset, "x": 2})
    assert out["applied"] == 7


async def test_tagged_branch_node_runs_on_its_named_process_executor() -> None:
    @tag(executor="cpu")
    def work(item: int) -> int:
        return os.getpid()

    dr = build(*fan_out_module(work), cpu=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        pids = (await dr.execute(["results"], inputs={"n": 3}))["results"]
    assert os.getpid() not in pids


def test_process_executor_is_hamiltons_multiprocessing_executor() -> None:
    assert executors.MultiProcessingExecutor is executors.ProcessExecutor


@pytest.mark.parametrize("bad", [0, -1, 1.5])
def test_process_executor_rejects_a_bad_batch_size(bad: Any) -> None:
    with pytest.raises(ValueError, match="batch_size"):
        executors.ProcessExecutor(batch_size=bad)


async def test_functions_of_a_module_built_at_run_time_are_shipped_by_value() -> None:
    import sys
    import types

    module = types.ModuleType("asyncdag_runtime_built")
    sys.modules[module.__name__] = module  # looks importable, but no worker can import it
    try:
        exec(
            "from asyncdag import Collect, Parallelizable\n"
            "def item() -> Parallelizable[int]:\n    yield from range(3)\n"
            "def square(item: int) -> int:\n    return item * item\n"
            "def total(square: Collect[int]) -> int:\n    return sum(square)\n",
            module.__dict__,
        )
        dr = Builder().with_modules(module)
        dr = dr.with_remote_executor(executors.ProcessExecutor(max_tasks=2)).build()
        async with dr:
            assert await dr.execute(["total"]) == {"total": 5}
    finally:
        del sys.modules[module.__name__]


async def test_a_blocks_branch_frame_is_pickled_once_not_once_per_unit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import cloudpickle

    from asyncdag.execution.executors import _pickling
    from asyncdag.graph.plan import Frame

    frames_pickled = 0
    real_dumps = cloudpickle.dumps

    def counting_dumps(obj: Any, *args: Any, **kwargs: Any) -> bytes:
        nonlocal frames_pickled
        frames_pickled += isinstance(obj, Frame)
        return real_dumps(obj, *args, **kwargs)

    monkeypatch.setattr(_pickling.cloudpickle, "dumps", counting_dumps)

    def work(item: int) -> int:
        return item + 1

    dr = build(*fan_out_module(work), remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        first = await dr.execute(["results"], inputs={"n": 12})
        second = await dr.execute(["results"], inputs={"n": 12})
    assert first == second == {"results": list(range(1, 13))}
    assert frames_pickled == 1


@pytest.mark.allow_blocking
# A loop closed without aclose() leaves asyncio's subprocess transports open; asyncio itself
# complains when they are collected. The workers behind them must be gone all the same.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_one_executor_serves_two_event_loops_and_kills_the_workers_of_a_closed_one() -> None:
    def work(item: int) -> int:
        return os.getpid()

    executor = executors.ProcessExecutor(max_tasks=1)
    dr = build(*fan_out_module(work), remote=executor)

    async def run_without_closing() -> set[int]:
        return set((await dr.execute(["results"], inputs={"n": 2}))["results"])

    async def run_and_close() -> set[int]:
        async with dr:
            return set((await dr.execute(["results"], inputs={"n": 2}))["results"])

    first = asyncio.run(run_without_closing())  # its loop closes with its worker still up
    second = asyncio.run(run_and_close())
    gc.collect()  # asyncio's complaint about the first loop's transports comes here
    assert first.isdisjoint(second), "the second loop started its own worker"
    assert children() == []
