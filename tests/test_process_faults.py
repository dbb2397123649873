"""ProcessExecutor under faults: exceptions rebuilt, crashes named, modules and frames that
do not load, results that do not unpickle. Each test ends with no worker left running."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import HANG_GUARD, build, children, notes_of

from asyncdag import Builder, Collect, Parallelizable, executors, timeout
from asyncdag.errors import ExecutorError, NodeTimeoutError, RemoteError, WorkerCrashedError
from asyncdag.execution.executors.worker import PARENT_PID

pytestmark = pytest.mark.timeout(60)


def fan_out(work: Any) -> tuple[Any, ...]:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def results(work: Collect[Any]) -> list[Any]:
        return list(work)

    return item, work, results


async def no_worker_left() -> None:
    assert await asyncio.to_thread(children) == []


class ApiError(Exception):
    """An exception whose ``__init__`` does not take its ``args``."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status, self.body = status, body


async def test_an_exception_whose_init_takes_other_arguments_comes_back_as_itself() -> None:
    def work(item: int) -> int:
        error = ApiError(503, "try later")
        error.add_note("from the API client")
        raise error

    dr = build(*fan_out(work), remote=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        with pytest.raises(ApiError) as info:
            await dr.execute(["results"], inputs={"n": 1})
    assert (info.value.status, info.value.body, str(info.value)) == (503, "try later", "HTTP 503")
    notes = notes_of(info.value)
    assert "from the API client" in notes and "node 'work'" in notes
    assert "traceback in worker process" in notes
    await no_worker_left()


class _Stuck(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.lock = threading.Lock()  # cannot be pickled


async def test_an_exception_that_cannot_travel_arrives_as_remote_error() -> None:
    def work(item: int) -> int:
        raise _Stuck(f"stuck on {item}")

    dr = build(*fan_out(work), remote=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        with pytest.raises(RemoteError) as info:
            await dr.execute(["results"], inputs={"n": 1})
    error = info.value
    assert error.type_name.endswith("_Stuck") and error.message == "stuck on 0"
    assert "in work" in error.remote_traceback and "_Stuck: stuck on 0" in error.remote_traceback
    assert "node 'work'" in notes_of(error)
    await no_worker_left()


def _refuse_in_parent() -> Any:
    if PARENT_PID not in os.environ:
        raise ImportError("this value only loads in a worker")
    return "loaded"


class _WorkerOnly:
    def __reduce__(self) -> Any:
        return (_refuse_in_parent, ())


async def test_a_result_that_cannot_be_unpickled_in_the_parent_is_an_executor_error() -> None:
    def work(item: int) -> Any:
        return _WorkerOnly()

    dr = build(*fan_out(work), remote=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        with pytest.raises(ExecutorError) as info:
            await dr.execute(["results"], inputs={"n": 1})
    assert "'item'" in str(info.value) and "item[0]" in str(info.value)
    assert "could not be unpickled" in str(info.value)
    assert isinstance(info.value.__cause__, ImportError)
    await no_worker_left()


async def test_worker_crashed_error_names_the_node_that_was_running() -> None:
    def prepare(item: int) -> int:
        return item

    def crash(prepare: int) -> int:
        if prepare == 1:
            os._exit(3)
        return prepare

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def results(crash: Collect[int]) -> list[int]:
        return list(crash)

    dr = build(item, prepare, crash, results, remote=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        with pytest.raises(WorkerCrashedError) as info:
            await dr.execute(["results"], inputs={"n": 3})
        assert (info.value.node, info.value.branch, info.value.exitcode) == ("crash", "item[1]", 3)
    await no_worker_left()


PLUGIN = """
from asyncdag import Collect, Parallelizable

def item(n: int) -> Parallelizable[int]:
    yield from range(n)

def square(item: int) -> int:
    return item * item

def total(square: Collect[int]) -> int:
    return sum(square)
"""


def load_by_path(path: Path) -> Any:
    """Load ``path`` as plugin loaders and pytest's importlib mode do: not from sys.path."""
    path.write_text(PLUGIN)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


async def test_a_module_loaded_from_a_file_path_runs_on_processes(tmp_path: Path) -> None:
    module = await asyncio.to_thread(load_by_path, tmp_path / "asyncdag_plugin_by_path.py")
    try:
        executor = executors.ProcessExecutor(max_tasks=2)
        dr = Builder().with_modules(module).with_remote_executor(executor).build()
        async with dr:
            assert await dr.execute(["total"], inputs={"n": 4}) == {"total": 14}
            assert await dr.execute(["total"], inputs={"n": 3}) == {"total": 5}
    finally:
        del sys.modules[module.__name__]
    await no_worker_left()


def _refuse_in_worker() -> Any:
    if PARENT_PID in os.environ:
        raise ModuleNotFoundError("No module named 'only_in_the_parent'")
    return _WorkerRefuses()


class _WorkerRefuses:
    def __reduce__(self) -> Any:
        return (_refuse_in_worker, ())


async def test_a_branch_frame_a_worker_cannot_load_fails_each_execute_the_same_way() -> None:
    def work(item: int, setting: Any = _WorkerRefuses()) -> int:  # noqa: B008
        return item

    dr = build(*fan_out(work), remote=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        for _ in range(2):
            with pytest.raises(ModuleNotFoundError) as info:
                await dr.execute(["results"], inputs={"n": 2})
            assert "node 'item'" in notes_of(info.value)
            assert "could not load" in notes_of(info.value)
    await no_worker_left()


def _alive(pid: int) -> bool:
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_a_timeout_in_a_shipped_branch_stops_its_worker_and_replaces_it(
    tmp_path: Path,
) -> None:
    where = str(tmp_path)

    @timeout(0.3)
    def work(item: int) -> int:
        if item == 1:
            (Path(where) / "pid").write_text(str(os.getpid()))
            time.sleep(30)  # only stopping the worker ends it in time
        return item

    executor = executors.ProcessExecutor(max_tasks=2)
    dr = build(*fan_out(work), remote=executor)
    async with dr:
        with pytest.raises(NodeTimeoutError) as info:
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["results"], inputs={"n": 3})
        assert (info.value.node, info.value.branch) == ("work", "item[1]")
        assert "node 'work' in branch item[1]" in notes_of(info.value)
        pid = int(await asyncio.to_thread((tmp_path / "pid").read_text))
        assert not await asyncio.to_thread(_alive, pid), "the timed-out node's worker stopped"
        async with asyncio.timeout(HANG_GUARD):
            assert await dr.execute(["results"], inputs={"n": 1}) == {"results": [0]}
    await no_worker_left()


async def test_a_timed_node_in_a_shipped_branch_runs_on_the_workers_main_thread() -> None:
    @timeout(5)
    def work(item: int) -> int:
        previous = signal.signal(signal.SIGUSR1, signal.SIG_IGN)  # main thread only
        signal.signal(signal.SIGUSR1, previous)
        return item

    dr = build(*fan_out(work), remote=executors.ProcessExecutor(max_tasks=1))
    async with dr, asyncio.timeout(HANG_GUARD):
        assert await dr.execute(["results"], inputs={"n": 2}) == {"results": [0, 1]}
    await no_worker_left()
