"""Run the benchmarks, print the table and verdict, write JSON and the plot to ``results/``."""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from . import (
    branches,
    cpu,
    first_result,
    hamilton_runs,
    memory,
    plot,
    report,
    responsiveness,
    throughput,
)
from .asyncdag_runs import asyncdag, inline, threads
from .floor import floor
from .measure import Budget
from .session import CHAIN, DIAMOND, FANOUT, Contender, asyncio_loop, uvloop_loop

RESULTS = Path(__file__).parent / "results"
SUITES = (
    "throughput",
    "first_result",
    "memory",
    "cpu",
    "responsiveness",
    "branches",
    "planning",
    "observing",
    "caching",
    "ingest",
    "processes",
    "web",
    "cluster",
)


@dataclass(frozen=True)
class Plan:
    """Sizes, repeats and limits of one run (full or ``--quick``)."""

    sizes: dict[str, tuple[int, ...]]
    budget: Budget
    peer_budget: Budget
    first_repeats: int
    memory_sizes: tuple[int, int]
    memory_systems: tuple[str, ...]
    cpu_branches_per_core: int
    cpu_branch_s: float
    loop_branches_per_core: int
    loop_branch_s: float
    loop_repeats: int


FULL = Plan(
    sizes={FANOUT: (100, 1_000, 10_000, 100_000), CHAIN: (100, 1_000), DIAMOND: (1_000,)},
    budget=Budget(max_run_s=60, repeats=7),
    peer_budget=Budget(max_run_s=60, repeats=5),
    first_repeats=5,
    memory_sizes=(100, 1_000_000),
    memory_systems=tuple(memory.SYSTEMS),
    cpu_branches_per_core=8,
    cpu_branch_s=0.05,
    loop_branches_per_core=8,
    loop_branch_s=0.05,
    loop_repeats=5,
)
QUICK = Plan(
    sizes=FULL.sizes,
    budget=Budget(max_run_s=1.5, repeats=3, single_above_s=0.4),
    peer_budget=Budget(max_run_s=1.5, repeats=1),
    first_repeats=1,
    memory_sizes=(100, 100_000),
    memory_systems=("asyncdag sync inline", "asyncdag async inline"),
    cpu_branches_per_core=4,
    cpu_branch_s=0.02,
    loop_branches_per_core=4,
    loop_branch_s=0.02,
    loop_repeats=2,
)


def contenders(with_hamilton: bool) -> list[Contender]:
    """Every system and configuration measured on the throughput workloads."""
    floor_uv = "asyncio floor (uvloop)"
    found = [
        floor(report.FLOOR, asyncio_loop),
        floor(floor_uv, uvloop_loop),
        floor(report.THREAD_FLOOR, asyncio_loop, threads=8),
        floor(report.THREAD_FLOOR_2, asyncio_loop, threads=2),
        asyncdag(
            report.SYNC_INLINE,
            use_async=False,
            make_executor=inline,
            loop_factory=asyncio_loop,
            floor=report.FLOOR,
        ),
        asyncdag(
            report.SYNC_THREAD,
            use_async=False,
            make_executor=threads(8),
            loop_factory=asyncio_loop,
            floor=report.THREAD_FLOOR,
        ),
        asyncdag(
            report.SYNC_THREAD_2,
            use_async=False,
            make_executor=threads(2),
            loop_factory=asyncio_loop,
            floor=report.THREAD_FLOOR_2,
        ),
        asyncdag(
            "asyncdag async inline",
            use_async=True,
            make_executor=inline,
            loop_factory=asyncio_loop,
            floor=report.FLOOR,
        ),
        asyncdag(
            "asyncdag async inline (uvloop)",
            use_async=True,
            make_executor=inline,
            loop_factory=uvloop_loop,
            floor=floor_uv,
        ),
    ]
    if with_hamilton:
        found += [
            hamilton_runs.v2(report.HAMILTON_SYNC, threads=None, baseline=report.SYNC_INLINE),
            hamilton_runs.v2(report.HAMILTON_THREADS, threads=8, baseline=report.SYNC_THREAD),
            hamilton_runs.async_chain("hamilton async driver", baseline="asyncdag async inline"),
        ]
    return found


def machine() -> dict[str, Any]:
    """What the numbers were taken on."""
    model = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            model = next(line.split(":", 1)[1].strip() for line in info if "model name" in line)
    except (OSError, StopIteration):
        pass
    versions: dict[str, str | None] = {}
    for package in ("asyncdag", "apache-hamilton", "uvloop", "matplotlib"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": versions,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        # Other work on the machine skews the numbers, the parallel ones most.
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def _web_verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The web suite's target, when it ran."""
    if not results.get("web"):
        return []
    from . import web

    found = web.verdict(results["web"])
    return [] if found is None else [found]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small budget: under a minute")
    parser.add_argument("--only", choices=SUITES, action="append", help="run only these suites")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where results go")
    args = parser.parse_args(argv)
    plan, suffix = (QUICK, "-quick") if args.quick else (FULL, "")
    suites = args.only or list(SUITES)
    with_hamilton = hamilton_runs.available()
    if not with_hamilton:
        print("Hamilton skipped: apache-hamilton is not installed (pip install -e '.[bench]')")

    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick}
    print(f"asyncdag benchmarks{' (--quick)' if args.quick else ''} on {results['machine']['cpu']}")
    if "throughput" in suites:
        print("\nThroughput (one process, the same workloads for every system)")
        rows: list[dict[str, Any]] = []
        for workload, sizes in plan.sizes.items():
            for contender in contenders(with_hamilton):
                budget = plan.peer_budget if contender.kind == "peer" else plan.budget
                rows += throughput.run_workload(workload, sizes, [contender], budget)
        report.add_ratios(rows)
        results["throughput"] = rows
    if "first_result" in suites:
        print(f"\nTime to first branch result ({first_result.N_ITEMS} items, 10 ms apart)")
        results["first_result"] = first_result.run(plan.first_repeats, with_hamilton)
    if "memory" in suites:
        print(f"\nPeak memory, one child process each, max_tasks={memory.MAX_TASKS}")
        results["memory"] = memory.run(plan.memory_sizes, list(plan.memory_systems), timeout_s=300)
    if "cpu" in suites:
        print("\nCPU-bound branches")
        results["cpu"] = cpu.run(plan.cpu_branches_per_core, plan.cpu_branch_s)
    if "responsiveness" in suites:
        print(f"\nLoop responsiveness: a heartbeat every {responsiveness.HEARTBEAT_S * 1e3:.0f} ms")
        results["responsiveness"] = responsiveness.run(
            plan.loop_branches_per_core, plan.loop_branch_s, plan.loop_repeats
        )

    if "branches" in suites:
        print("\nShipped branches: per item, in worker processes")
        results["branches"] = branches.run(2_000, plan.loop_repeats + 1)
    if "observing" in suites:
        from . import observing

        print(f"\nWhat watching a run costs ({observing.N:,}-item fan-out)")
        results["observing"] = observing.run(plan.loop_repeats + 1)
    if "processes" in suites:
        from . import processes

        print("\nWorker processes against ProcessPoolExecutor and loky")
        results["processes"] = processes.run(4_000 if args.quick else 20_000, plan.loop_repeats)
    if "planning" in suites:
        from . import planning

        print("\nPlan building: build + first execute, one child process each")
        sizes = planning.QUICK_SIZES if args.quick else planning.SIZES
        results["planning"] = planning.run(sizes, timeout_s=600)
    if "ingest" in suites:
        from . import ingest

        print("\nStreaming ingestion (examples/ingest): records/s and peak RSS, one child each")
        results["ingest"] = ingest.run(ingest.QUICK_SIZES if args.quick else ingest.SIZES)

    if "caching" in suites:
        from . import caching

        print(f"\nCaching: the {caching.N:,}-item fan-out without and with Builder.with_cache()")
        results["caching"] = caching.run(3)
    if "web" in suites:
        from . import web

        print("\nWeb: the FastAPI example against plain asyncio.gather, requests over loopback")
        if web.available():
            results["web"] = web.run(300 if args.quick else 1_000, 2 if args.quick else 5)
        else:
            print("  skipped: fastapi, uvicorn or aiohttp is missing (pip install -e '.[bench]')")

    if "cluster" in suites:
        from . import cluster

        print("\nClusters: per item, a 3-node branch on Dask and Ray against their own APIs")
        results["cluster"] = cluster.run(200 if args.quick else 1_000, plan.loop_repeats + 1)

    if "throughput" in results:
        report.print_table(results["throughput"])
    results["verdicts"] = report.verdicts(results) + _web_verdicts(results)
    report.print_verdicts(results["verdicts"])
    results["seconds"] = time.perf_counter() - started
    json_path = args.out / f"results{suffix}.json"
    if args.only:  # a partial run replaces its own parts of the results file, keeps the others
        results = report.merge(json_path, results, suites)
        results["verdicts"] = report.verdicts(results) + _web_verdicts(results)
    report.write_json(results, json_path)
    print(f"\n  results written to {json_path}")
    if "throughput" in suites:
        plot.plot(
            results["throughput"],
            args.out / f"per_item_cost{suffix}.png",
            plot.title_for(results["machine"]),
        )
    print(f"  done in {time.perf_counter() - started:.0f} s")
    return 0
