"""The ingestion example (``examples/ingest``) end to end: records per second and peak RSS.

Each configuration is one run of the real service in a child process over a JSON-lines file
written beforehand (so the producer, the file, is always faster than the branches), into a
fresh SQLite database. Run alone: ``python -m benchmarks.ingest [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

Row = dict[str, Any]

INGEST = Path(__file__).resolve().parent.parent / "examples" / "ingest"
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
# name -> extra service arguments
CONFIGS: dict[str, tuple[str, ...]] = {
    "inline": (),
    "processes (2, batches of 64)": ("--processes", "2", "--batch-size", "64"),
}


def _input(directory: Path, n: int) -> Path:
    sys.path.insert(0, str(INGEST))
    import make_input

    path = directory / f"in-{n}.jsonl"
    if not path.exists():
        make_input.write(str(path), n)
    return path


def measure(config: str, n: int, directory: Path, timeout_s: float) -> Row:
    """One run of the service; its report, or why there is none."""
    db = directory / f"out-{n}-{len(config)}.db"
    db.unlink(missing_ok=True)
    command = [
        sys.executable,
        str(INGEST / "service.py"),
        "--input",
        str(_input(directory, n)),
        "--db",
        str(db),
        *CONFIGS[config],
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"skipped": f"did not finish within {timeout_s:.0f} s"}
    if done.returncode != 0:
        return {"skipped": f"service failed: {done.stderr.strip().splitlines()[-1:]}"}
    report: Row = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["records"] + report["dead_letters"] == n
    return report


def run(sizes: tuple[int, ...], timeout_s: float = 900) -> list[Row]:
    """Every configuration at every size: records/s and peak RSS (with its ratio to the first)."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for config in CONFIGS:
            first_peak = None
            for n in sizes:
                if config != "inline" and n > 100_000:
                    continue  # the process run's per-record cost is known by 100k
                report = measure(config, n, directory, timeout_s)
                row: Row = {"config": config, "n": n, **report}
                if "skipped" in report:
                    print(f"  ingest  {config:30} {n:>9,}: skipped: {report['skipped']}")
                    rows.append(row)
                    continue
                row["records_per_s"] = n / report["seconds"]
                first_peak = first_peak or report["peak_rss_mb"]
                row["rss_ratio"] = report["peak_rss_mb"] / first_peak
                print(
                    f"  ingest  {config:30} {n:>9,}: {row['records_per_s']:9,.0f} records/s  "
                    f"peak {report['peak_rss_mb']:6.1f} MB ({row['rss_ratio']:.2f}x)",
                    flush=True,
                )
                rows.append(row)
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="up to 100k records")
    args = parser.parse_args()
    print(json.dumps(run(QUICK_SIZES if args.quick else SIZES), indent=1))
