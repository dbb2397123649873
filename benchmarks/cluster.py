"""Per-item cost of a 3-node sync branch on a local Dask cluster and a local Ray, 2 workers each.

Each backend's own API runs the same work (the three nodes as one function per item):
``client.map`` + ``client.gather`` on an asynchronous Dask client, ``ray.remote`` +
``ray.get`` on Ray. asyncdag runs the ``branch3`` workload ported by text replacement, on
``DaskExecutor`` / ``RayExecutor`` with ``batch_size=1`` and with the automatic choice.
Target: at or below the backend's own API with automatic batching, within 1.2x with 1.

On Ray a second floor is measured: ``await ref`` on an asyncio loop with as many tasks in
flight as ``RayExecutor(batch_size=1)`` keeps (8 per CPU), which is how asyncdag receives
each result; one ``ray.get`` of the whole list is cheaper than that by itself.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from asyncdag import executors
from asyncdag.execution.executors import Executor

from . import asyncdag_runs
from .session import LoopSession, asyncio_loop
from .workloads import porting

Row = dict[str, Any]
WORKERS = 2
AWAITED = 8 * WORKERS  # Ray tasks in flight in the await-ref floor: RayExecutor's default


def _branch(item: int) -> int:
    """The ``branch3`` workload's three nodes, as one function for the backends' own APIs."""
    return (item + 1) * 2 - 1


def _median_us(once: Callable[[], float], n: int, repeats: int) -> float:
    once()  # warm: workers started, functions registered
    return statistics.median(once() for _ in range(repeats)) / n * 1e6


def _asyncdag_us(make: Callable[[], Executor], n: int, repeats: int) -> float:
    dr = asyncdag_runs.build(porting.asyncdag_module("branch3"), make)
    session = LoopSession(asyncio_loop)

    async def timed() -> float:
        start = time.perf_counter()
        await dr.execute(["total"], inputs={"n": n})
        return time.perf_counter() - start

    try:
        return _median_us(lambda: session.run_coro(timed()), n, repeats)
    finally:
        session.run_coro(dr.aclose())
        session.close()


def _dask_rows(n: int, repeats: int) -> list[Row]:
    import distributed

    with distributed.LocalCluster(
        n_workers=WORKERS, threads_per_worker=1, dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address
        session = LoopSession(asyncio_loop)

        async def own() -> float:
            async with distributed.Client(address, asynchronous=True) as client:
                start = time.perf_counter()
                await client.gather(client.map(_branch, range(n), pure=False))
                return time.perf_counter() - start

        try:
            own_us = _median_us(lambda: session.run_coro(own()), n, repeats)
        finally:
            session.close()
        rows = [{"backend": "dask", "system": "client.map + gather", "us_per_item": own_us}]
        for batch in (1, None):
            us = _asyncdag_us(
                lambda b=batch: executors.DaskExecutor(address=address, batch_size=b), n, repeats
            )
            rows.append(_row("dask", batch, us, own_us))
    return rows


def _ray_rows(n: int, repeats: int) -> list[Row]:
    import ray

    ray.init(num_cpus=WORKERS, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(_branch)

        def own() -> float:
            start = time.perf_counter()
            ray.get([remote.remote(i) for i in range(n)])
            return time.perf_counter() - start

        async def awaited() -> float:
            slots = asyncio.Semaphore(AWAITED)

            async def one(item: int) -> Any:
                async with slots:
                    return await remote.remote(item)

            start = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(n)))
            return time.perf_counter() - start

        session = LoopSession(asyncio_loop)
        try:
            own_us = _median_us(own, n, repeats)
            await_us = _median_us(lambda: session.run_coro(awaited()), n, repeats)
        finally:
            session.close()
        rows = [
            {"backend": "ray", "system": "ray.remote + ray.get", "us_per_item": own_us},
            {
                "backend": "ray",
                "system": f"ray.remote + await ref ({AWAITED})",
                "us_per_item": await_us,
                "ratio_to_own": await_us / own_us,
            },
        ]
        for batch in (1, None):
            us = _asyncdag_us(lambda b=batch: executors.RayExecutor(batch_size=b), n, repeats)
            rows.append({**_row("ray", batch, us, own_us), "ratio_to_await": us / await_us})
    finally:
        ray.shutdown()
    return rows


def _row(backend: str, batch: int | None, us: float, own_us: float) -> Row:
    name = f"asyncdag batch_size={'auto' if batch is None else batch}"
    return {"backend": backend, "system": name, "us_per_item": us, "ratio_to_own": us / own_us}


def run(n: int, repeats: int) -> list[Row]:
    """Rows per backend: its own API, then asyncdag; printed as measured. A missing backend
    is reported as skipped."""
    rows: list[Row] = []
    for backend, measure in (("dask", _dask_rows), ("ray", _ray_rows)):
        try:
            found = measure(n, repeats)
        except ImportError as exc:
            print(f"  {backend}: skipped ({exc}; pip install -e '.[{backend}]')")
            rows.append({"backend": backend, "skipped": str(exc)})
            continue
        for row in found:
            ratio = f"  {row['ratio_to_own']:.2f}x own API" if "ratio_to_own" in row else ""
            if "ratio_to_await" in row:
                ratio += f", {row['ratio_to_await']:.2f}x await ref"
            print(f"  {backend:5} {row['system']:30} {row['us_per_item']:8.1f} us/item{ratio}")
        rows += found
    return rows


if __name__ == "__main__":  # Dask's local workers re-import the main module
    run(1_000, 3)
