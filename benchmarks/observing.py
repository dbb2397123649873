"""What watching a run costs: execute with nothing listening, with hooks, with stream().

Each row is the per-item cost of the same 10,000-item fan-out (sync branches inline, and
``async def`` branches) on one event loop, measured in the same process one after another,
with the ratio against ``execute`` with nothing listening: the no-hook row is the engine's
plain path, and the others show what a listener adds per item.
"""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable, Coroutine
from typing import Any

from asyncdag import Builder, Driver
from asyncdag.lifecycle import NodeExecutionHook, ProgressBar

from .measure import repeat
from .workloads import porting

N = 10_000


class _NoOpHook(NodeExecutionHook):
    def run_before_node_execution(self, **kwargs: Any) -> None:
        pass

    def run_after_node_execution(self, **kwargs: Any) -> None:
        pass


def _driver(module_name: str, *adapters: Any) -> Driver:
    module = porting.asyncdag_module(module_name)
    return Builder().with_modules(module).with_adapters(*adapters).build()


async def _drain(dr: Driver, n: int) -> None:
    async for _ in dr.stream(["total"], inputs={"n": n}):
        pass


Way = Callable[[], Callable[[int], Coroutine[Any, Any, Any]]]


def _ways(module_name: str) -> dict[str, Way]:
    def execute(*adapters: Any) -> Way:
        def make() -> Callable[[int], Coroutine[Any, Any, Any]]:
            dr = _driver(module_name, *adapters)
            return lambda n: dr.execute(["total"], inputs={"n": n})

        return make

    def stream() -> Callable[[int], Coroutine[Any, Any, Any]]:
        dr = _driver(module_name)
        return lambda n: _drain(dr, n)

    return {
        "execute, nothing listening": execute(),
        "execute, a no-op node hook": execute(_NoOpHook()),
        "execute, ProgressBar to a file": lambda: execute(ProgressBar(file=io.StringIO()))(),
        "stream(), consumer draining": stream,
    }


def run(repeats: int, n: int = N) -> list[dict[str, Any]]:
    """One row per (workload, way of running), with the ratio to nothing listening."""
    rows: list[dict[str, Any]] = []
    for module_name, label in (("fanout", "sync inline"), ("fanout_async", "async inline")):
        base: float | None = None
        for way, make in _ways(module_name).items():
            runner = asyncio.Runner()
            call = make()

            def once(
                call: Callable[[int], Coroutine[Any, Any, Any]] = call,
                runner: asyncio.Runner = runner,
            ) -> float:
                start = time.perf_counter()
                runner.run(call(n))
                return time.perf_counter() - start

            try:
                timing = repeat(once, repeats, warmup=True)
            finally:
                runner.close()
            per_item = timing.median * 1e6 / n
            base = base or per_item
            row = {"workload": label, "way": way, "n": n, "us_per_item": per_item}
            row["ratio"] = per_item / base
            print(f"  {label:13} {way:32} {per_item:8.2f} us/item  {row['ratio']:5.2f}x")
            rows.append(row)
    return rows


def table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown: microseconds per item for each way of running, and its ratio to execute."""
    lines = ["| fan-out | way of running | us/item | ratio |", "| --- | --- | ---: | ---: |"]
    for r in rows:
        lines.append(
            f"| {r['workload']} | {r['way']} | {r['us_per_item']:.2f} | {r['ratio']:.2f}x |"
        )
    return lines
