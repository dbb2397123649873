"""examples/ingest: the service as a real subprocess, killed, stopped, restarted, measured."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("aiosqlite")

INGEST = Path(__file__).resolve().parent.parent / "examples" / "ingest"
sys.path.insert(0, str(INGEST))
import make_input  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

PATIENCE = 60.0


def start(tmp: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            str(INGEST / "service.py"),
            "--input",
            str(tmp / "in.jsonl"),
            "--db",
            str(tmp / "out.db"),
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = process.communicate(timeout=PATIENCE)
    assert process.returncode == 0, err
    report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return report


def resume_at(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as c:
            row = c.execute("SELECT resume_at FROM progress").fetchone()
    except sqlite3.OperationalError:  # the service has not made its tables yet
        return 0
    return int(row[0]) if row else 0


def wait_for_progress(db: Path, process: subprocess.Popen[str], beyond: int = 0) -> int:
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        at = resume_at(db)
        if at > beyond:
            return at
        assert process.poll() is None, process.communicate()[1]
        time.sleep(0.01)
    raise AssertionError("the service wrote no window in time")


def starts_of_input(path: Path) -> list[int]:
    starts, at = [], 0
    for line in path.read_bytes().split(b"\n")[:-1]:
        if line.strip():
            starts.append(at)
        at += len(line) + 1
    return starts


def outcome(db: Path) -> tuple[list[int], list[int]]:
    with sqlite3.connect(db) as c:
        written = [r[0] for r in c.execute("SELECT start FROM records")]
        dead = [r[0] for r in c.execute("SELECT start FROM dead_letters")]
    return written, dead


def assert_every_record_exactly_once(tmp: Path) -> None:
    written, dead = outcome(tmp / "out.db")
    assert len(written) == len(set(written)), "a record was written twice"
    assert not set(written) & set(dead)
    assert sorted(written + dead) == starts_of_input(tmp / "in.jsonl")
    assert dead  # the input has bad records: they were dead-lettered, not lost


def test_every_record_lands_exactly_once_across_a_sigkill_and_a_restart(tmp_path: Path) -> None:
    make_input.write(str(tmp_path / "in.jsonl"), 150_000)
    service = start(tmp_path)
    wait_for_progress(tmp_path / "out.db", service)
    assert service.poll() is None, "the service finished before it could be killed"
    service.send_signal(signal.SIGKILL)
    service.wait(timeout=PATIENCE)
    killed_at = resume_at(tmp_path / "out.db")
    assert 0 < killed_at < (tmp_path / "in.jsonl").stat().st_size
    finish(start(tmp_path))
    assert_every_record_exactly_once(tmp_path)


def test_sigterm_stops_reading_drains_and_writes_the_last_window(tmp_path: Path) -> None:
    make_input.write(str(tmp_path / "in.jsonl"), 2_000)
    service = start(tmp_path, "--follow", "--max-tasks", "4")
    first = wait_for_progress(tmp_path / "out.db", service)
    make_input.write(str(tmp_path / "in.jsonl"), 1_234, start=2_000)  # the file grows
    wait_for_progress(tmp_path / "out.db", service, beyond=first)
    service.send_signal(signal.SIGTERM)
    report = finish(service)
    written, dead = outcome(tmp_path / "out.db")
    assert report["records"] == len(written) and report["dead_letters"] == len(dead)
    # Everything read was written (the last, partial window included), nothing more:
    read = [s for s in starts_of_input(tmp_path / "in.jsonl") if s < report["read_to"]]
    assert sorted(written + dead) == read
    assert report["read_to"] < (tmp_path / "in.jsonl").stat().st_size, "it read everything"
    finish(start(tmp_path))  # the rest, from the stored offset
    assert_every_record_exactly_once(tmp_path)


def test_branches_on_worker_processes_write_every_record_once(tmp_path: Path) -> None:
    make_input.write(str(tmp_path / "in.jsonl"), 3_000)
    report = finish(start(tmp_path, "--processes", "2"))
    assert report["records"] + report["dead_letters"] == 3_000
    assert_every_record_exactly_once(tmp_path)


def test_memory_stays_flat_under_a_producer_faster_than_the_branches(tmp_path: Path) -> None:
    """Peak RSS at 10x the records stays within 1.2x (the 1M run is in benchmarks/ingest.py)."""
    peaks = []
    for n in (10_000, 100_000):
        run = tmp_path / str(n)
        run.mkdir()
        make_input.write(str(run / "in.jsonl"), n)
        report = finish(start(run))
        assert report["records"] + report["dead_letters"] == n
        peaks.append(report["peak_rss_mb"])
    small, large = peaks
    assert large <= 1.2 * small, f"peak RSS {small} MB at 10k, {large} MB at 100k"
