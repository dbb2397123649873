"""A PNG of per-item (per-node) cost against N for each system, on log-log axes.

``python -m benchmarks.plot [results.json]`` redraws the plot of a results file.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .session import CHAIN, FANOUT

Row = dict[str, Any]
RESULTS = Path(__file__).parent / "results"


def plot(rows: Sequence[Row], path: Path, title: str) -> bool:
    """Draw the fan-out and chain costs; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  plot skipped: matplotlib is not installed (pip install -e '.[bench]')")
        return False
    systems = list(dict.fromkeys(r["system"] for r in rows))
    colors = {s: plt.get_cmap("tab10")(i % 10) for i, s in enumerate(systems)}
    fig, axes = plt.subplots(1, 2, figsize=(13, 6.5))
    for ax, workload in zip(axes, (FANOUT, CHAIN), strict=True):
        for system in systems:
            points = sorted(
                (r["n"], r["median_us"])
                for r in rows
                if r["workload"] == workload and r["system"] == system and not r["skipped"]
            )
            if not points:
                continue
            style = "--" if system.startswith("asyncio") else "-"
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, style, marker="o", color=colors[system], label=system)
        ax.set_xscale("log")
        ax.set_yscale("log")
        unit = "item" if workload == FANOUT else "node"
        ax.set_xlabel(f"N ({unit}s)")
        ax.set_ylabel(f"microseconds per {unit} (median)")
        ax.set_title(f"{workload}: cost per {unit}")
        ax.grid(True, which="both", alpha=0.3)
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=4, fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"  plot written to {path}")
    return True


def title_for(machine: Row) -> str:
    return (
        f"asyncdag benchmarks on {machine['cpu']} ({machine['cores']} cores), "
        f"Python {machine['python']}"
    )


def main(argv: list[str]) -> int:
    source = Path(argv[0]) if argv else RESULTS / "results.json"
    results = json.loads(source.read_text(encoding="utf-8"))
    target = source.with_name(source.name.replace("results", "per_item_cost")).with_suffix(".png")
    plot(results["throughput"], target, title_for(results["machine"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
