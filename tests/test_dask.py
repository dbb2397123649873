"""DaskExecutor against a real LocalCluster: whole branches as Dask tasks, awaited on the loop."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cluster_cases as cases
import pytest
from conftest import HANG_GUARD, build

from asyncdag import executors
from asyncdag.plugins import h_dask

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


# A LocalCluster in a process of its own (its scheduler's thread must not run under this
# test process's blocking-call guard). A task whose worker dies fails at once (no retries),
# so the crash test is quick.
_CLUSTER = """
import sys
import time
from distributed import LocalCluster
if __name__ == "__main__":
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster:
        print(cluster.scheduler_address, flush=True)
        sys.stdin.read()
"""


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The scheduler address of two single-threaded worker processes, shared by this module."""
    script = tmp_path_factory.mktemp("dask") / "cluster.py"
    script.write_text(_CLUSTER)
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "0"}
    process = subprocess.Popen(
        [sys.executable, str(script)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    assert process.stdout is not None and process.stdin is not None
    try:
        yield process.stdout.readline().strip()
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=HANG_GUARD)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def make(address: str) -> cases.Make:
    return lambda: executors.DaskExecutor(address=address)


async def _client(address: str) -> Any:
    """An asynchronous client of the test's own (Dask's first handshake blocks: off the loop)."""
    await asyncio.to_thread(distributed.versions.get_versions)
    return await distributed.Client(address, asynchronous=True)


def _running(address: str) -> Any:
    """How many asyncdag tasks the scheduler at ``address`` holds."""

    def on_scheduler(dask_scheduler: Any) -> int:
        return sum(1 for key in dask_scheduler.tasks if str(key).startswith("run_payload"))

    async def count() -> int:
        async with await _client(address) as client:
            found: int = await client.run_on_scheduler(on_scheduler)
        return found

    return count


async def test_seed_word_count_runs_its_branches_on_dask(make: cases.Make) -> None:
    await cases.seed_map_reduce(make)


async def test_branches_run_in_dask_worker_processes(make: cases.Make) -> None:
    await cases.branches_run_on_cluster_workers(make)


async def test_a_nested_block_runs_inside_a_dask_branch(make: cases.Make) -> None:
    await cases.nested_block_inside_a_remote_branch(make)


async def test_collect_keeps_yield_order_when_dask_branches_finish_scrambled(
    make: cases.Make,
) -> None:
    await cases.yield_order_with_scrambled_finish_times(make)


async def test_user_exception_from_dask_arrives_as_itself_with_node_branch_and_traceback(
    make: cases.Make,
) -> None:
    await cases.user_exception_as_itself(make, "a Dask worker")


async def test_a_killed_dask_worker_raises_worker_crashed_error_and_the_next_run_works(
    make: cases.Make,
) -> None:
    await cases.killed_worker(make, "Dask worker tcp://", "allowed-failures")


async def test_cancelling_execute_cancels_its_dask_futures(make: cases.Make, address: str) -> None:
    # The node sleeps far longer than the test waits: its worker thread is interrupted.
    await cases.cancelling_execute(make, _running(address), seconds=60)


async def test_cancelling_execute_stops_a_dask_branch_running_a_python_loop(
    make: cases.Make, tmp_path: Path
) -> None:
    await cases.cancelling_stops_a_running_branch(make, tmp_path)


async def test_unreachable_scheduler_raises_executor_error_naming_it_in_bounded_time() -> None:
    await cases.unreachable_address(
        lambda address: executors.DaskExecutor(address=address, connect_timeout=1.0),
        "tcp://127.0.0.1:9",
    )


async def test_retry_and_timeout_work_inside_dask_branches(
    make: cases.Make, tmp_path: Path
) -> None:
    await cases.retry_and_timeout_in_remote_branches(make, tmp_path)


async def test_unpicklable_return_value_raises_serialization_error_naming_the_node(
    make: cases.Make,
) -> None:
    await cases.unpicklable_return_value(make)


async def test_unpicklable_outer_value_raises_serialization_error_naming_it(
    make: cases.Make,
) -> None:
    await cases.unpicklable_outer_value(make)


async def test_outer_values_and_frame_are_scattered_once_per_execution(address: str) -> None:
    def work(item: int, base: int) -> int:
        return item + base

    client = await _client(address)
    scattered: list[Any] = []
    scatter = client.scatter

    async def counting(data: Any, **kwargs: Any) -> Any:
        scattered.append(data)
        return await scatter(data, **kwargs)

    client.scatter = counting
    try:
        executor = executors.DaskExecutor(client=client, batch_size=1)
        dr = build(*cases.fan_out(work), remote=executor)
        async with dr:
            async with asyncio.timeout(HANG_GUARD):
                out = await dr.execute(["results"], inputs={"n": 10, "base": 5})
        assert out == {"results": [5 + i for i in range(10)]}
        assert len(scattered) == 2  # the branch frame and the outer values, not 10 of each
        assert client.status == "running", "a given client is left open"
    finally:
        await client.close()


_OWN_CLUSTER = """
import asyncio, os, sys
import psutil
sys.path.insert(0, {tests!r})
from conftest import build
from cluster_cases import fan_out
from asyncdag import executors

def work(item: int) -> int:
    return os.getpid()

async def main() -> None:
    dr = build(*fan_out(work), remote=executors.DaskExecutor())
    async with dr:
        pids = set((await dr.execute(["results"], inputs={{"n": 4}}))["results"])
        print("workers", len(pids), os.getpid() in pids)
    print("alive after", [pid for pid in pids if psutil.pid_exists(pid)])

if __name__ == "__main__":
    asyncio.run(main())
"""


# In a process of its own: the cluster's scheduler runs on Dask's own loop thread, and the
# nanny's multiprocessing leaves a resource tracker that lives as long as its interpreter.
@pytest.mark.allow_blocking
def test_with_neither_client_nor_address_a_local_cluster_starts_and_closes_with_it(
    tmp_path: Path,
) -> None:
    script = tmp_path / "own_cluster.py"
    script.write_text(_OWN_CLUSTER.format(tests=str(Path(__file__).parent)))
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD * 3,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "workers 2 False" in done.stdout or "workers 1 False" in done.stdout
    assert "alive after []" in done.stdout


async def test_a_skipped_branch_on_dask_is_left_out_and_the_run_goes_on(make: cases.Make) -> None:
    await cases.skipped_branch_is_left_out(make)


async def test_more_skipped_dask_branches_than_max_failures_fail_the_run(make: cases.Make) -> None:
    await cases.more_failures_than_max_failures(make)


async def test_a_killed_dask_worker_under_skip_leaves_out_only_its_branch(
    make: cases.Make,
) -> None:
    # The fixture's cluster sets allowed-failures to 0: Dask does not run the task again
    # first (with its default, 3, the branch is skipped after Dask's own retries).
    await cases.killed_worker_skips_only_its_branch(make)


@pytest.mark.allow_blocking
def test_entering_the_driver_starts_the_local_dask_cluster_before_the_first_execute() -> None:
    out = cases.warm_start("executors.DaskExecutor()")
    assert "before 0" in out
    assert "entered 0" not in out
    assert "ran on workers started on entering True" in out, out


def test_dask_executor_rejects_client_and_address_together() -> None:
    with pytest.raises(ValueError, match="not both"):
        executors.DaskExecutor(client=object(), address="tcp://127.0.0.1:8786")  # type: ignore[arg-type]


def test_hamiltons_h_dask_executor_is_the_dask_executor() -> None:
    assert h_dask.DaskExecutor is executors.DaskExecutor


@pytest.mark.allow_blocking
def test_cluster_example_counts_every_word_on_dask() -> None:
    last = cases.example_output("dask").splitlines()[-1].split()
    assert last == ["total", str(cases.expected_example_total())]


async def test_automatic_batches_send_the_first_item_alone_and_gather_while_workers_are_busy(
    address: str,
) -> None:
    def work(item: int) -> int:
        time.sleep(0.01)
        return item * 3

    client = await _client(address)
    sizes: list[int] = []
    submit = client.submit

    def counting(fn: Any, payloads: list[bytes], *args: Any, **kwargs: Any) -> Any:
        sizes.append(len(payloads))
        return submit(fn, payloads, *args, **kwargs)

    client.submit = counting
    try:
        dr = build(*cases.fan_out(work), remote=executors.DaskExecutor(client=client))
        async with dr:
            async with asyncio.timeout(HANG_GUARD):
                out = await dr.execute(["results"], inputs={"n": 200})
    finally:
        await client.close()
    assert out == {"results": [i * 3 for i in range(200)]}
    assert sizes[0] == 1, "the first item goes alone: its result streams at once"
    assert sum(sizes) == 200
    assert len(sizes) < 100, "while every task slot is busy, items gather into batches"


@pytest.fixture
def fixed(address: str) -> Callable[[int], cases.Make]:
    return lambda batch_size: lambda: executors.DaskExecutor(address=address, batch_size=batch_size)


async def test_fixed_dask_batches_keep_yield_order_when_branches_finish_scrambled(
    fixed: Callable[[int], cases.Make],
) -> None:
    await cases.yield_order_with_scrambled_finish_times(fixed(3))


async def test_a_failure_in_a_fixed_dask_batch_names_its_node_and_branch(
    fixed: Callable[[int], cases.Make],
) -> None:
    await cases.user_exception_as_itself(fixed(3), "a Dask worker")


async def test_async_nodes_run_in_fixed_dask_batches(fixed: Callable[[int], cases.Make]) -> None:
    await cases.async_nodes_run_in_fixed_batches(fixed(2))


async def test_a_skipped_branch_in_a_fixed_dask_batch_is_left_out(
    fixed: Callable[[int], cases.Make],
) -> None:
    await cases.skipped_branch_is_left_out(fixed(2))


async def test_cancelling_execute_stops_a_dask_branch_of_a_fixed_batch(
    fixed: Callable[[int], cases.Make], tmp_path: Path
) -> None:
    await cases.cancelling_stops_a_running_branch(fixed(1), tmp_path)
