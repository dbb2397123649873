"""ProcessExecutor's pool: concurrent units per worker, warm start, bounded worker caches,
shared values sent once per worker."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import pytest
from conftest import HANG_GUARD, build, children

from asyncdag import Collect, Parallelizable, executors
from asyncdag.execution.executors.base import Call

pytestmark = pytest.mark.timeout(60)


def fan_out(work: Any) -> tuple[Any, ...]:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def results(work: Collect[Any]) -> list[Any]:
        return list(work)

    return item, work, results


def adding(shape: int) -> Any:
    def work(item: int) -> int:
        return item + shape

    return work


async def no_worker_left() -> None:
    assert await asyncio.to_thread(children) == []


async def test_child_concurrency_overlaps_async_branches_inside_one_worker() -> None:
    async def work(item: int) -> tuple[int, float, float]:
        start = time.monotonic()
        await asyncio.sleep(0.3)
        return os.getpid(), start, time.monotonic()

    executor = executors.ProcessExecutor(max_tasks=1, child_concurrency=4)
    dr = build(*fan_out(work), remote=executor)
    async with dr, asyncio.timeout(HANG_GUARD):
        rows = (await dr.execute(["results"], inputs={"n": 4}))["results"]
    assert len({pid for pid, _, _ in rows}) == 1
    assert max(start for _, start, _ in rows) < min(end for _, _, end in rows), "all overlap"
    await no_worker_left()


def test_child_concurrency_must_be_a_positive_int() -> None:
    with pytest.raises(ValueError, match="child_concurrency"):
        executors.ProcessExecutor(child_concurrency=0)


async def test_entering_the_driver_starts_the_workers() -> None:
    executor = executors.ProcessExecutor(max_tasks=2)
    dr = build(*fan_out(adding(0)), remote=executor)
    async with dr:
        assert len(executor.worker_pids()) == 2, "started before the first execute"
        assert await dr.execute(["results"], inputs={"n": 3}) == {"results": [0, 1, 2]}
    assert executor.worker_pids() == []
    await no_worker_left()


async def test_entering_the_driver_waits_until_every_worker_has_answered() -> None:
    # A started worker still imports asyncdag for up to a second; the first request must
    # not pay for that: entering returns once each worker has answered a request.
    executor = executors.ProcessExecutor(max_tasks=2)
    dr = build(*fan_out(adding(0)), remote=executor)
    async with dr:
        pool = executor._pools[asyncio.get_running_loop()]
        assert [w.protocol.answered >= 1 for w in pool._workers] == [True, True]
    await no_worker_left()


def _parts_kept_by_this_worker() -> int:
    from asyncdag.execution.executors import worker

    server = worker.current()
    assert server is not None
    return len(server.kept)


async def test_a_worker_keeps_no_more_branch_frames_than_the_parent() -> None:
    executor = executors.ProcessExecutor(max_tasks=1)
    executor._frames.kept = 3  # the parent keeps the 3 newest frames
    async with executor, asyncio.timeout(HANG_GUARD):
        for shape in range(8):  # 8 request shapes: 8 different branch frames
            dr = build(*fan_out(adding(shape)), remote=executor)
            assert await dr.execute(["results"], inputs={"n": 2}) == {"results": [shape, shape + 1]}
        kept = await executor.submit(Call("probe", "", _parts_kept_by_this_worker, {}))
    assert kept <= 3
    await no_worker_left()


PICKLED = 0


class Counted:
    """A value that counts how often the parent pickles it."""

    def __reduce__(self) -> Any:
        global PICKLED
        PICKLED += 1
        return (Counted, ())


async def test_a_value_read_by_every_branch_is_pickled_once_per_block() -> None:
    def work(item: int, shared: Any) -> int:
        return item

    dr = build(*fan_out(work), remote=executors.ProcessExecutor(max_tasks=2, batch_size=1))
    before = PICKLED
    async with dr, asyncio.timeout(HANG_GUARD):
        out = await dr.execute(["results"], inputs={"n": 8, "shared": Counted()})
    assert out == {"results": list(range(8))}
    assert PICKLED - before == 1
    await no_worker_left()


def recording_batches(executor: executors.ProcessExecutor) -> list[int]:
    """The number of items of each unit sent to ``executor``, in order."""
    sizes: list[int] = []
    submit = executor.submit

    async def recorded(unit: Any) -> Any:
        sizes.append(len(unit.items))
        return await submit(unit)

    executor.submit = recorded  # type: ignore[method-assign]
    return sizes


async def test_automatic_batches_send_the_first_item_alone_then_grow_while_units_are_short() -> (
    None
):
    executor = executors.ProcessExecutor(max_tasks=2)
    sizes = recording_batches(executor)
    dr = build(*fan_out(adding(1)), remote=executor)
    async with dr, asyncio.timeout(HANG_GUARD):
        out = await dr.execute(["results"], inputs={"n": 3000})
    assert out == {"results": list(range(1, 3001))}
    assert sizes[0] == 1, "streaming starts at once"
    assert max(sizes) >= 16, sizes
    await no_worker_left()


async def test_automatic_batches_stay_single_items_while_units_are_long() -> None:
    def work(item: int) -> int:
        time.sleep(0.05)
        return item

    executor = executors.ProcessExecutor(max_tasks=2)
    sizes = recording_batches(executor)
    dr = build(*fan_out(work), remote=executor)
    async with dr, asyncio.timeout(HANG_GUARD):
        assert await dr.execute(["results"], inputs={"n": 12}) == {"results": list(range(12))}
    assert max(sizes) <= 2, sizes
    await no_worker_left()


async def test_a_workers_log_record_is_re_emitted_on_the_parents_logger_with_node_and_branch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    def work(item: int) -> int:
        logging.getLogger("asyncdag_test_app").warning("handled item %s", item)
        return item

    dr = build(*fan_out(work), remote=executors.ProcessExecutor(max_tasks=1))
    with caplog.at_level(logging.WARNING, logger="asyncdag_test_app"):
        async with dr, asyncio.timeout(HANG_GUARD):
            await dr.execute(["results"], inputs={"n": 2})
    records = [r for r in caplog.records if r.name == "asyncdag_test_app"]
    assert [r.getMessage() for r in records] == ["handled item 0", "handled item 1"]
    assert [(r.node, r.branch) for r in records] == [("work", "item[0]"), ("work", "item[1]")]  # type: ignore[attr-defined]
    await no_worker_left()
