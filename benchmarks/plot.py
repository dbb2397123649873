"""A PNG of per-item (per-node) cost against N for each system, on log-log axes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .session import CHAIN, FANOUT

Row = dict[str, Any]


def plot(rows: Sequence[Row], path: Path, title: str) -> bool:
    """Draw the fan-out and chain costs; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("  plot skipped: matplotlib is not installed (pip install -e '.[bench]')")
        return False
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5))
    for ax, workload in zip(axes, (FANOUT, CHAIN), strict=True):
        systems = dict.fromkeys(r["system"] for r in rows if r["workload"] == workload)
        for system in systems:
            points = sorted(
                (r["n"], r["median_us"])
                for r in rows
                if r["workload"] == workload and r["system"] == system and not r["skipped"]
            )
            if not points:
                continue
            style = "--" if system.startswith("asyncio") else "-"
            ax.plot(*zip(*points, strict=True), style, marker="o", label=system)
        ax.set_xscale("log")
        ax.set_yscale("log")
        unit = "item" if workload == FANOUT else "node"
        ax.set_xlabel(f"N ({unit}s)")
        ax.set_ylabel(f"microseconds per {unit} (median)")
        ax.set_title(f"{workload}: cost per {unit}")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"  plot written to {path}")
    return True
