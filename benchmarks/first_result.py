"""Time to the first branch result when the producer yields items ``interval`` apart."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from . import asyncdag_runs, hamilton_runs
from .session import LoopSession, asyncio_loop
from .workloads import porting

Row = dict[str, Any]
N_ITEMS = 100
INTERVAL = 0.010


def _asyncdag_once(
    module_name: str, make_executor: asyncdag_runs.ExecutorFactory, *, local: bool = False
) -> Row:
    """One asyncdag run: via ``Driver.stream`` when it exists, else marked by branch 0."""
    if module_name.endswith("_async"):
        module = porting.hamilton_module(module_name)  # already written for asyncdag
    else:
        module = porting.asyncdag_module(module_name)
    dr = asyncdag_runs.build(module, make_executor, make_executor if local else None)
    marks: dict[str, float] = {}
    inputs = {"n_items": N_ITEMS, "interval": INTERVAL, "marks": marks}
    session = LoopSession(asyncio_loop)

    async def once() -> float:
        stream = getattr(dr, "stream", None)
        start = time.perf_counter()
        if stream is None:
            await dr.execute(["results"], inputs=inputs)
        else:
            async for event in stream(["results"], inputs=inputs):
                if event.kind == "branch" and "stream" not in marks:
                    marks["stream"] = time.perf_counter()
        end = time.perf_counter()
        await dr.aclose()
        marks["start"], marks["end"] = start, end
        return end - start

    try:
        session.run_coro(once())
    finally:
        session.close()
    return _row(marks)


def _hamilton_once(threads: int | None) -> Row:
    dr = hamilton_runs.v2_driver(porting.hamilton_module("first_result"), threads)
    marks: dict[str, float] = {}
    start = time.perf_counter()
    dr.execute(["results"], inputs={"n_items": N_ITEMS, "interval": INTERVAL, "marks": marks})
    marks["start"], marks["end"] = start, time.perf_counter()
    return _row(marks)


def _row(marks: dict[str, float]) -> Row:
    first = marks.get("stream", marks["first"])
    return {
        "first_ms": (first - marks["start"]) * 1e3,
        "total_ms": (marks["end"] - marks["start"]) * 1e3,
        "via": "stream" if "stream" in marks else "branch 0 mark",
    }


def run(repeats: int, with_hamilton: bool) -> list[Row]:
    """Each system ``repeats`` times; the median of each measure."""
    systems: list[tuple[str, str, Callable[[], Row]]] = [
        (
            "asyncdag sync inline",
            "asyncdag",
            lambda: _asyncdag_once("first_result", asyncdag_runs.inline),
        ),
        (
            # The producer sleeps: on threads (local executor) it leaves the loop free.
            "asyncdag sync thread",
            "asyncdag",
            lambda: _asyncdag_once("first_result", asyncdag_runs.threads(), local=True),
        ),
        (
            "asyncdag async inline",
            "asyncdag",
            lambda: _asyncdag_once("first_result_async", asyncdag_runs.inline),
        ),
    ]
    if with_hamilton:
        systems += [
            ("hamilton v2 sync", "peer", lambda: _hamilton_once(None)),
            ("hamilton v2 threads", "peer", lambda: _hamilton_once(8)),
        ]
    rows: list[Row] = []
    for name, kind, once in systems:
        runs = [once() for _ in range(repeats)]
        row: Row = {
            "system": name,
            "kind": kind,
            "n_items": N_ITEMS,
            "interval_ms": INTERVAL * 1e3,
            "first_ms": statistics.median(r["first_ms"] for r in runs),
            "first_max_ms": max(r["first_ms"] for r in runs),
            "total_ms": statistics.median(r["total_ms"] for r in runs),
            "via": runs[0]["via"],
            "repeats": repeats,
        }
        print(
            f"  first result  {name:34} {row['first_ms']:8.1f} ms to first "
            f"(max {row['first_max_ms']:.1f}), {row['total_ms']:7.0f} ms total"
        )
        rows.append(row)
    return rows
