"""RayExecutor against a real local Ray (2 CPUs): whole branches as Ray tasks, ``await ref``."""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import cluster_cases as cases
import pytest
from conftest import HANG_GUARD

from asyncdag import executors
from asyncdag.plugins import h_ray

ray = pytest.importorskip("ray")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


@pytest.fixture(scope="module", autouse=True)
def local_ray() -> Iterator[None]:
    """Ray started by the application (here, the tests): executors use it and leave it up."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        # Refs held in garbage cycles (a failed test's traceback) are freed while Ray is up:
        # one collected later, in any thread, makes Ray end this process ("The core worker
        # has already been shutdown ... The process will exit").
        gc.collect()
        ray.shutdown()


def make() -> executors.RayExecutor:
    return executors.RayExecutor()


async def _busy_cpus() -> float:
    available: float = ray.available_resources().get("CPU", 0.0)
    return 2.0 - available


async def test_seed_word_count_runs_its_branches_on_ray() -> None:
    await cases.seed_map_reduce(make)


async def test_branches_run_in_ray_worker_processes() -> None:
    await cases.branches_run_on_cluster_workers(make)


async def test_a_nested_block_runs_inside_a_ray_branch() -> None:
    await cases.nested_block_inside_a_remote_branch(make)


async def test_collect_keeps_yield_order_when_ray_branches_finish_scrambled() -> None:
    await cases.yield_order_with_scrambled_finish_times(make)


async def test_user_exception_from_ray_arrives_as_itself_with_node_branch_and_traceback() -> None:
    await cases.user_exception_as_itself(make, "a Ray worker")


async def test_a_killed_ray_worker_raises_worker_crashed_error_and_the_next_run_works() -> None:
    await cases.killed_worker(
        lambda: executors.RayExecutor(max_retries=0), "a Ray worker", "max_retries"
    )


async def test_cancelling_execute_cancels_its_ray_tasks() -> None:
    # The node sleeps far longer than the test waits: only ray.cancel frees the CPUs.
    await cases.cancelling_execute(make, _busy_cpus, seconds=60)


async def test_cancelling_execute_stops_a_ray_branch_running_a_python_loop(tmp_path: Path) -> None:
    await cases.cancelling_stops_a_running_branch(make, tmp_path)


async def test_retry_and_timeout_work_inside_ray_branches(tmp_path: Path) -> None:
    await cases.retry_and_timeout_in_remote_branches(make, tmp_path)


async def test_unpicklable_return_value_raises_serialization_error_naming_the_node() -> None:
    await cases.unpicklable_return_value(make)


async def test_unpicklable_outer_value_raises_serialization_error_naming_it() -> None:
    await cases.unpicklable_outer_value(make)


async def test_an_application_initialised_ray_is_left_running() -> None:
    await cases.branches_run_on_cluster_workers(make)
    assert ray.is_initialized()


def _own_process(script: str) -> subprocess.CompletedProcess[str]:
    """Run ``script`` in a fresh interpreter, where Ray is not initialised."""
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=HANG_GUARD * 3,
        check=False,
    )


_DAG = """
import asyncio, sys, time
sys.path.insert(0, {tests!r})
from conftest import build
from cluster_cases import fan_out
from asyncdag import executors
import ray

def work(item: int) -> int:
    return item * 2
"""


@pytest.mark.allow_blocking
def test_ray_executor_starts_ray_when_not_initialised_and_shuts_it_down() -> None:
    script = (
        _DAG.format(tests=str(Path(__file__).parent))
        + """
async def main() -> None:
    dr = build(*fan_out(work), remote=executors.RayExecutor(num_cpus=1))
    async with dr:
        out = await dr.execute(["results"], inputs={"n": 3})
        print("up", ray.is_initialized(), out["results"])
    print("after", ray.is_initialized())

asyncio.run(main())
"""
    )
    done = _own_process(script)
    assert done.returncode == 0, done.stderr
    assert "up True [0, 2, 4]" in done.stdout
    assert "after False" in done.stdout


@pytest.mark.allow_blocking
def test_unreachable_ray_address_raises_executor_error_naming_it_in_bounded_time() -> None:
    script = (
        _DAG.format(tests=str(Path(__file__).parent))
        + """
from asyncdag.errors import ExecutorError

async def main() -> None:
    dr = build(*fan_out(work), remote=executors.RayExecutor("127.0.0.1:9", connect_timeout=2))
    start = time.monotonic()
    try:
        await dr.execute(["results"], inputs={"n": 2})
    except ExecutorError as exc:
        print("error", time.monotonic() - start < 10, exc)
    print("initialised", ray.is_initialized())

asyncio.run(main())
"""
    )
    done = _own_process(script)
    assert done.returncode == 0, done.stderr
    assert "error True" in done.stdout and "127.0.0.1:9" in done.stdout
    assert "initialised False" in done.stdout


async def test_a_skipped_branch_on_ray_is_left_out_and_the_run_goes_on() -> None:
    await cases.skipped_branch_is_left_out(make)


async def test_more_skipped_ray_branches_than_max_failures_fail_the_run() -> None:
    await cases.more_failures_than_max_failures(make)


async def test_a_killed_ray_worker_under_skip_leaves_out_only_its_branch() -> None:
    # Without retries: with Ray's default (3), the branch is skipped after Ray's own retries.
    await cases.killed_worker_skips_only_its_branch(lambda: executors.RayExecutor(max_retries=0))


@pytest.mark.allow_blocking
def test_entering_the_driver_starts_local_ray_before_the_first_execute() -> None:
    out = cases.warm_start("executors.RayExecutor(num_cpus=2)")
    assert "before 0" in out
    assert "entered 0" not in out
    assert "ran on workers started on entering True" in out, out


def test_hamiltons_h_ray_task_executor_is_the_ray_executor() -> None:
    assert h_ray.RayTaskExecutor is executors.RayExecutor


def test_ray_executor_rejects_a_bad_batch_size() -> None:
    with pytest.raises(ValueError, match="batch_size"):
        executors.RayExecutor(batch_size=0)


@pytest.mark.allow_blocking
def test_cluster_example_counts_every_word_on_ray() -> None:
    last = cases.example_output("ray").splitlines()[-1].split()
    assert last == ["total", str(cases.expected_example_total())]


def fixed(batch_size: int) -> cases.Make:
    return lambda: executors.RayExecutor(batch_size=batch_size)


async def test_fixed_ray_batches_keep_yield_order_when_branches_finish_scrambled() -> None:
    await cases.yield_order_with_scrambled_finish_times(fixed(3))


async def test_a_failure_in_a_fixed_ray_batch_names_its_node_and_branch() -> None:
    await cases.user_exception_as_itself(fixed(3), "a Ray worker")


async def test_async_nodes_run_in_fixed_ray_batches() -> None:
    await cases.async_nodes_run_in_fixed_batches(fixed(2))


async def test_a_skipped_branch_in_a_fixed_ray_batch_is_left_out() -> None:
    await cases.skipped_branch_is_left_out(fixed(2))


async def test_cancelling_execute_stops_a_ray_branch_of_a_fixed_batch(tmp_path: Path) -> None:
    await cases.cancelling_stops_a_running_branch(fixed(1), tmp_path)


async def test_an_unpicklable_return_value_in_a_fixed_ray_batch_names_the_node() -> None:
    await cases.unpicklable_return_value(fixed(1))
