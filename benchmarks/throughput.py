"""Per-item and per-node cost of every contender on the throughput workloads, in this process."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from .measure import Budget, estimate, repeat
from .session import DIAMOND, UNIT, Contender
from .workloads import generated

Row = dict[str, Any]


def units(workload: str, n: int) -> int:
    """How many items or nodes a run of ``workload`` at ``n`` has."""
    return generated.diamond_size(n) if workload == DIAMOND else n


def run_workload(
    workload: str, sizes: Sequence[int], contenders: Sequence[Contender], budget: Budget
) -> list[Row]:
    """Every contender on ``workload`` at each size; a size estimated past the budget is skipped."""
    rows: list[Row] = []
    for contender in contenders:
        session = contender.open(workload)
        if session is None:
            continue
        history: list[tuple[int, float]] = []
        try:
            for n in sizes:
                row: Row = {
                    "workload": workload,
                    "n": n,
                    "units": units(workload, n),
                    "unit": UNIT[workload],
                    "system": contender.name,
                    "kind": contender.kind,
                    "baseline": contender.baseline,
                }
                guess = estimate(history, n)
                if guess > budget.max_run_s:
                    row["skipped"] = (
                        f"one run estimated at {guess:.0f} s from smaller sizes, "
                        f"over the {budget.max_run_s:.0f} s limit"
                    )
                    print(f"  {workload:8} {n:>9,} {contender.name:34} skipped: {row['skipped']}")
                    rows.append(row)
                    continue
                timing = repeat(
                    functools.partial(session.run, n),
                    budget.repeats_for(guess),
                    warmup=guess < budget.warmup_below_s,
                )
                per_unit = 1e6 / row["units"]
                row |= {
                    "median_us": timing.median * per_unit,
                    "min_us": min(timing.runs) * per_unit,
                    "max_us": max(timing.runs) * per_unit,
                    "spread": timing.spread,
                    "repeats": len(timing.runs),
                    "total_s": timing.median,
                    "skipped": None,
                }
                history.append((n, timing.median))
                print(
                    f"  {workload:8} {n:>9,} {contender.name:34} "
                    f"{row['median_us']:10.2f} us/{row['unit']}  (±{timing.spread:.0%}, "
                    f"{len(timing.runs)} runs, {timing.median:.3f} s each)",
                    flush=True,
                )
                rows.append(row)
        finally:
            session.close()
    return rows
