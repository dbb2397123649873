"""Build + first execute of large generated graphs: the cost per node must not grow with size.

Three shapes: a lattice of ``def`` nodes, the same lattice of ``async def`` nodes, and a chain of
sync nodes routed to a named thread executor. Each (shape, size) runs in its own child process,
so the first execute really is the first (nothing cached) and its peak memory is its own.

Run as ``python -m benchmarks.planning SHAPE N`` it is the child: it generates the module,
builds the driver, executes once and prints seconds and peak RSS as JSON.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import time
import types
from typing import Any

from asyncdag import Builder, executors, tag

from .memory import _rss_mb

Row = dict[str, Any]
LATTICE, LATTICE_ASYNC, THREAD_CHAIN = "lattice def", "lattice async def", "chain on threads"
SHAPES = (LATTICE, LATTICE_ASYNC, THREAD_CHAIN)
WIDTH = 50  # nodes per lattice layer
SIZES, QUICK_SIZES = (1_000, 10_000, 100_000), (1_000, 10_000)


def _module(name: str, sources: list[str], names: list[str]) -> types.ModuleType:
    """A module holding the generated functions ``names``, as if defined in it."""
    module = types.ModuleType(name)
    sys.modules[name] = module
    namespace: dict[str, Any] = {"__name__": name, "tag": tag}
    for start in range(0, len(sources), 1000):  # in pieces: one huge AST would be the peak
        exec(compile("\n".join(sources[start : start + 1000]), f"<{name}>", "exec"), namespace)
    for key in names:
        setattr(module, key, namespace[key])
    return module


def lattice(nodes: int, *, use_async: bool, width: int = WIDTH) -> tuple[types.ModuleType, str]:
    """Layers of ``width`` nodes, each reading 2 or 3 nodes of the layer above; one sink."""
    kind = "async def" if use_async else "def"
    layers = max(1, round((nodes - 1) / width))
    sources, names = [], []
    for i in range(width):
        names.append(f"l_0_{i}")
        sources.append(f"{kind} l_0_{i}(x: int) -> int:\n    return x + {i}\n")
    for layer in range(1, layers):
        for i in range(width):
            reads = dict.fromkeys((i, (i + 1) % width, (i + width // 2) % width if i % 2 else i))
            params = [f"l_{layer - 1}_{j}" for j in reads]
            names.append(f"l_{layer}_{i}")
            sources.append(
                f"{kind} l_{layer}_{i}({', '.join(f'{p}: int' for p in params)}) -> int:\n"
                f"    return ({' + '.join(params)}) & 0xFFFF\n"
            )
    last = [f"l_{layers - 1}_{i}" for i in range(width)]
    names.append("sink")
    sources.append(
        f"{kind} sink({', '.join(f'{p}: int' for p in last)}) -> int:\n"
        f"    return {' + '.join(last)}\n"
    )
    suffix = "async" if use_async else "sync"
    return _module(f"benchmarks_planning_lattice_{nodes}_{suffix}", sources, names), "sink"


def thread_chain(nodes: int) -> tuple[types.ModuleType, str]:
    """``c_0(x) -> c_1(c_0) -> ...``, every node tagged ``executor="t"``."""
    sources = ['@tag(executor="t")\ndef c_0(x: int) -> int:\n    return x + 1\n']
    sources += [
        f'@tag(executor="t")\ndef c_{i}(c_{i - 1}: int) -> int:\n    return c_{i - 1} + 1\n'
        for i in range(1, nodes)
    ]
    names = [f"c_{i}" for i in range(nodes)]
    return _module(f"benchmarks_planning_chain_{nodes}", sources, names), f"c_{nodes - 1}"


def child(shape: str, n: int) -> Row:
    """Build and execute ``shape`` at ``n`` nodes once, in this process."""
    if shape == THREAD_CHAIN:
        module, output = thread_chain(n)
    else:
        module, output = lattice(n, use_async=shape == LATTICE_ASYNC)
    count = sum(isinstance(v, types.FunctionType) for v in vars(module).values())
    collecting = _GcClock()
    gc.callbacks.append(collecting)
    start = time.perf_counter()
    builder = Builder().with_modules(module)
    if shape == THREAD_CHAIN:
        builder = builder.with_executor("t", executors.ThreadExecutor())
    dr = builder.build()
    built = time.perf_counter()
    result = dr.execute_sync([output], inputs={"x": 0})
    done = time.perf_counter()
    gc.callbacks.remove(collecting)
    assert output in result
    return {
        "nodes": count,
        "build_s": built - start,
        "execute_s": done - built,
        "gc_s": collecting.seconds,  # the cyclic collector walks every live object: not ours
        "peak_mb": _rss_mb(),
    }


class _GcClock:
    """A ``gc.callbacks`` entry adding up the time spent in garbage collections."""

    def __init__(self) -> None:
        self.seconds, self._started = 0.0, 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started


def measure(shape: str, n: int, timeout_s: float) -> Row:
    """Run the child for ``shape`` at ``n``; its report, or why there is none."""
    command = [sys.executable, "-m", __name__, shape, str(n)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"skipped": f"did not finish within {timeout_s:.0f} s"}
    if done.returncode != 0:
        return {"skipped": f"child failed: {done.stderr.strip().splitlines()[-1:]}"}
    report: Row = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def _us(point: Row, gc_too: bool = True) -> float:
    """Microseconds per node of one point, with or without the collector's share."""
    seconds = point["build_s"] + point["execute_s"] - (0.0 if gc_too else point["gc_s"])
    return float(seconds / point["nodes"] * 1e6)


def run(sizes: tuple[int, ...], timeout_s: float) -> list[Row]:
    """Every shape at every size; the largest size's cost per node over the smallest's.

    The ratio is given twice: as measured, and without the time in CPython's cyclic garbage
    collector, which walks every live object (the user's functions too) and, past the CPU
    caches, costs more per object; the second ratio is the engine's own work.
    """
    rows: list[Row] = []
    for shape in SHAPES:
        points = {n: measure(shape, n, timeout_s) for n in sizes}
        row: Row = {"shape": shape, "points": [{"n": n, **points[n]} for n in sizes]}
        small, large = points[sizes[0]], points[sizes[-1]]
        ok = "nodes" in small and "nodes" in large
        row["ratio"] = _us(large) / _us(small) if ok else None
        row["ratio_without_gc"] = _us(large, False) / _us(small, False) if ok else None
        cells = "  ".join(
            f"{n:>7,}: {_us(p):6.1f} us (gc {_us(p) - _us(p, False):4.1f}) {p['peak_mb']:5.0f} MB"
            if "nodes" in p
            else f"{n:>7,}: {p['skipped']}"
            for n, p in points.items()
        )
        ratio = "n/a"
        if ok:
            ratio = f"{row['ratio']:.2f}x, {row['ratio_without_gc']:.2f}x without gc"
        print(f"  planning  {shape:18} {cells}  ({ratio})", flush=True)
        rows.append(row)
    return rows


def verdict(rows: list[Row]) -> Row | None:
    """The engine's cost per node at the largest size within 2x the smallest's."""
    measured = [r for r in rows if r.get("ratio") is not None]
    if not measured:
        return None
    sizes = [p["n"] for p in measured[0]["points"]]
    return {
        "target": (
            f"plan building linear: build + first execute, us/node at {sizes[-1]:,} nodes "
            f"<= 2x at {sizes[0]:,}, garbage collection aside"
        ),
        "met": all(r["ratio_without_gc"] <= 2 for r in measured) and len(measured) == len(rows),
        "detail": "; ".join(
            f"{r['shape']}: {r['ratio_without_gc']:.2f}x ({r['ratio']:.2f}x with gc)"
            for r in measured
        ),
    }


def table(rows: list[Row]) -> list[str]:
    """Markdown: microseconds per node at each size, peak memory, largest over smallest."""
    sizes = [p["n"] for p in rows[0]["points"]] if rows else []
    lines = [
        "| graph | "
        + " | ".join(f"us/node at {n:,}" for n in sizes)
        + " | peak MB | ratio | without gc |",
        "| --- | " + " | ".join("---:" for _ in sizes) + " | ---: | ---: | ---: |",
    ]
    for r in rows:
        cells = [f"{_us(p):.1f}" if "nodes" in p else "skipped" for p in r["points"]]
        peak = r["points"][-1].get("peak_mb")
        cells.append(f"{peak:,.0f}" if peak is not None else "")
        cells.append(f"{r['ratio']:.2f}x" if r["ratio"] is not None else "")
        cells.append(f"{r['ratio_without_gc']:.2f}x" if r["ratio"] is not None else "")
        lines.append(f"| {r['shape']} | " + " | ".join(cells) + " |")
    return lines


if __name__ == "__main__":
    print(json.dumps(child(sys.argv[1], int(sys.argv[2]))))
