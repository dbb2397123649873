"""Print a results file as the Markdown tables of the README's Performance section.

``python -m benchmarks.markdown [benchmarks/results/results.json]``
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from . import observing, planning
from .main import RESULTS

Row = dict[str, Any]


def throughput_table(rows: list[Row]) -> list[str]:
    """One line per system, one column per workload and size: median us (ratio)."""
    systems = list(dict.fromkeys(r["system"] for r in rows))
    points = sorted({(r["workload"], r["n"]) for r in rows}, key=lambda p: (p[0] != "fanout", p))
    lines = [
        "| system | " + " | ".join(f"{w} {n:,}" for w, n in points) + " |",
        "| --- | " + " | ".join("---:" for _ in points) + " |",
    ]
    for system in systems:
        cells = []
        for workload, n in points:
            row = next(
                (r for r in rows if (r["workload"], r["n"], r["system"]) == (workload, n, system)),
                None,
            )
            if row is None:
                cells.append("")
            elif row["skipped"]:
                cells.append("skipped")
            else:
                ratio = f" ({row['ratio']:.2f}x)" if row.get("ratio") is not None else ""
                cells.append(f"{row['median_us']:,.2f}{ratio}")
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return lines


def first_result_table(rows: list[Row]) -> list[str]:
    lines = ["| system | first branch result (ms) | worst of repeats | whole run (ms) |"]
    lines.append("| --- | ---: | ---: | ---: |")
    for r in rows:
        lines.append(
            f"| {r['system']} | {r['first_ms']:.1f} | {r['first_max_ms']:.1f} | "
            f"{r['total_ms']:,.0f} |"
        )
    return lines


def memory_table(rows: list[Row]) -> list[str]:
    lines = ["| system | N | peak RSS (MB) | N | peak RSS (MB) | ratio | large run (s) |"]
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        if r.get("ratio") is None:
            lines.append(f"| {r['system']} | skipped: {r['small_skipped'] or r['large_skipped']} |")
            continue
        lines.append(
            f"| {r['system']} | {r['small_n']:,} | {r['small_peak_mb']:.1f} | {r['large_n']:,} | "
            f"{r['large_peak_mb']:.1f} | {r['ratio']:.2f}x | {r['large_seconds']:.1f} |"
        )
    return lines


def cpu_table(rows: list[Row]) -> list[str]:
    lines = ["| system | seconds | first run (s) | speed-up | per core |"]
    lines.append("| --- | ---: | ---: | ---: | ---: |")
    for r in rows:
        if "speedup" not in r:
            lines.append(f"| {r['system']} | {r['skipped']} | | | |")
            continue
        lines.append(
            f"| {r['system']} | {r['seconds']:.2f} | {r['cold_seconds']:.2f} | "
            f"{r['speedup']:.2f}x | {r['speedup_per_core']:.2f} |"
        )
    return lines


def responsiveness_table(rows: list[Row]) -> list[str]:
    lines = ["| system | wake-ups | median lag (ms) | p99 lag (ms) | worst lag (ms) | run (s) |"]
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        lines.append(
            f"| {r['system']} | {r['wakeups']:,} | {r['median_lag_ms']:.2f} | "
            f"{r['p99_lag_ms']:.2f} | {r['worst_lag_ms']:.2f} | {r['seconds']:.2f} |"
        )
    return lines


def verdict_list(rows: list[Row]) -> list[str]:
    marks = {True: "met", False: "**missed**", None: "not measured"}
    return [
        textwrap.fill(
            f"- {v['target']}: {marks[v['met']]}. {v['detail']}.", width=100, subsequent_indent="  "
        )
        for v in rows
    ]


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else RESULTS / "results.json"
    results = json.loads(path.read_text(encoding="utf-8"))
    sections = [
        ("throughput", throughput_table),
        ("first_result", first_result_table),
        ("memory", memory_table),
        ("cpu", cpu_table),
        ("responsiveness", responsiveness_table),
        ("planning", planning.table),
        ("observing", observing.table),
        ("verdicts", verdict_list),
    ]
    for key, render in sections:
        if results.get(key):
            print(f"<!-- {key} -->")
            print("\n".join(render(results[key])))
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
