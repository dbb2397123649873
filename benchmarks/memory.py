"""Peak memory of a fan-out with ``max_tasks=100``, one child process per configuration.

Run as ``python -m benchmarks.memory SYSTEM N`` it is the child: it builds the driver, runs
the fan-out once and prints its peak resident set size (``ru_maxrss``) as JSON.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
from typing import Any

from asyncdag import executors

from . import asyncdag_runs
from .workloads import porting

Row = dict[str, Any]
MAX_TASKS = 100

# system -> (workload module, executor factory); all bound to MAX_TASKS branches in flight.
SYSTEMS: dict[str, tuple[str, asyncdag_runs.ExecutorFactory]] = {
    "asyncdag sync inline": ("memory", lambda: executors.InlineExecutor(max_tasks=MAX_TASKS)),
    "asyncdag async inline": (
        "memory_async",
        lambda: executors.InlineExecutor(max_tasks=MAX_TASKS),
    ),
    "asyncdag sync thread": ("memory", asyncdag_runs.threads(MAX_TASKS)),
}


def _rss_mb() -> float:
    """This process's peak resident set size, in MB.

    ``VmHWM`` where Linux has it: ``ru_maxrss`` survives ``exec`` and would report the
    parent's peak when that is larger.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


def child(system: str, n: int) -> Row:
    """Run one configuration in this process and report its memory."""
    module_name, make_executor = SYSTEMS[system]
    if module_name.endswith("_async"):
        module = porting.hamilton_module(module_name)
    else:
        module = porting.asyncdag_module(module_name)
    dr = asyncdag_runs.build(module, make_executor)
    baseline = _rss_mb()
    start = time.perf_counter()
    with asyncio.Runner() as runner:
        result = runner.run(dr.execute(["evens"], inputs={"n": n}))
        runner.run(dr.aclose())
    assert result["evens"] == (n + 1) // 2
    return {
        "baseline_mb": baseline,
        "peak_mb": _rss_mb(),
        "seconds": time.perf_counter() - start,
    }


def measure(system: str, n: int, timeout_s: float) -> Row:
    """Run the child for ``system`` at ``n``; its report, or why there is none."""
    command = [sys.executable, "-m", __name__, system, str(n)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"skipped": f"did not finish within {timeout_s:.0f} s"}
    if done.returncode != 0:
        return {"skipped": f"child failed: {done.stderr.strip().splitlines()[-1:]}"}
    report: Row = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def run(sizes: tuple[int, int], systems: list[str], timeout_s: float) -> list[Row]:
    """Each system at the small and the large size; the large run's peak over the small one's."""
    rows: list[Row] = []
    small, large = sizes
    for system in systems:
        reports = {n: measure(system, n, timeout_s) for n in (small, large)}
        row: Row = {"system": system, "max_tasks": MAX_TASKS, "small_n": small, "large_n": large}
        for label, n in (("small", small), ("large", large)):
            report = reports[n]
            row[f"{label}_peak_mb"] = report.get("peak_mb")
            row[f"{label}_baseline_mb"] = report.get("baseline_mb")
            row[f"{label}_seconds"] = report.get("seconds")
            row[f"{label}_skipped"] = report.get("skipped")
        if row["small_peak_mb"] and row["large_peak_mb"]:
            row["ratio"] = row["large_peak_mb"] / row["small_peak_mb"]
            print(
                f"  memory  {system:34} {small:>9,}: {row['small_peak_mb']:6.1f} MB  "
                f"{large:>9,}: {row['large_peak_mb']:6.1f} MB  ({row['ratio']:.2f}x, "
                f"{row['large_seconds']:.1f} s)",
                flush=True,
            )
        else:
            row["ratio"] = None
            why = row["small_skipped"] or row["large_skipped"]
            print(f"  memory  {system:34} skipped: {why}")
        rows.append(row)
    return rows


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], int(sys.argv[2]))))
