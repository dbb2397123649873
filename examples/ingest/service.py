"""A streaming ingestion service: JSON lines in, SQLite out, every record exactly once.

    pip install 'asyncdag[ingest]'
    python examples/ingest/service.py --input records.jsonl --db ingest.db --follow

It tails ``--input`` (``--follow``: waits for more lines; otherwise stops at the end),
runs ``pipeline.py`` per record, writes each window of good records to ``records`` with the
offset to resume from in the same transaction, and bad records to ``dead_letters`` (keyed
by offset, so a record re-read after a crash is not dead-lettered twice; they are committed
with the next window). SIGTERM or SIGINT:
stop reading, let the branches in flight finish, write the last window, exit 0. A restart
resumes from the stored offset. ``--processes N`` runs the branches in N worker processes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import resource
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosqlite
import pipeline

from asyncdag import Builder, executors
from asyncdag.lifecycle import NodeExecutionHook

CHUNK = 1 << 16
POLL = 0.05  # how often a followed file is checked for new lines

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    row INTEGER PRIMARY KEY AUTOINCREMENT, start INTEGER NOT NULL, id TEXT, amount REAL,
    region TEXT, region_name TEXT
);
CREATE TABLE IF NOT EXISTS dead_letters (
    start INTEGER PRIMARY KEY, node TEXT NOT NULL, error TEXT NOT NULL, data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS progress (one INTEGER PRIMARY KEY CHECK (one = 1), resume_at INTEGER);
"""


class FileLines:
    """The records of a JSON-lines file from byte ``offset`` on; ``stop()`` ends them."""

    def __init__(self, path: Path, offset: int, follow: bool) -> None:
        self.path, self.offset, self.follow = path, offset, follow
        self.read_to = offset  # the end of the last record yielded
        self.stopping = asyncio.Event()

    def stop(self) -> None:
        self.stopping.set()

    async def __aiter__(self) -> AsyncIterator[pipeline.Record]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            start, pending = self.offset, b""
            while not self.stopping.is_set():
                chunk = await asyncio.to_thread(f.read, CHUNK)
                if not chunk:
                    if not self.follow:
                        return
                    # A growing file: look again soon, or stop when told.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.stopping.wait(), POLL)
                    continue
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    end = start + len(line) + 1
                    if line.strip():
                        self.read_to = end
                        yield start, end, line.decode("utf-8", "replace")
                    start = end
                    if self.stopping.is_set():
                        return


class SqliteSink:
    """Windows of records and the resume offset, written in one transaction each."""

    def __init__(self, db: aiosqlite.Connection, verbose: bool = False) -> None:
        self.db, self.verbose = db, verbose
        self.windows = 0

    async def write(self, rows: list[dict[str, Any]], resume_at: int) -> None:
        await self.db.executemany(
            "INSERT INTO records (start, id, amount, region, region_name) VALUES (?, ?, ?, ?, ?)",
            [
                (r["_start"], str(r["id"]), r["amount"], r.get("region"), r["region_name"])
                for r in rows
            ],
        )
        await self.db.execute(
            "INSERT INTO progress (one, resume_at) VALUES (1, ?) "
            "ON CONFLICT (one) DO UPDATE SET resume_at = excluded.resume_at",
            (resume_at,),
        )
        await self.db.commit()
        if self.verbose:
            print(f"window {self.windows}: {len(rows)} records, resume at {resume_at}", flush=True)
        self.windows += 1


class DeadLetters(NodeExecutionHook):
    """Adds a failed record to ``dead_letters`` before its window can run.

    Not committed here: the next window's transaction commits it (on the one connection), so
    a dead letter is never durable later than the offset that skips past its record.
    """

    def __init__(self, db: aiosqlite.Connection) -> None:
        self.db = db
        self.count = 0

    def run_before_node_execution(self, **kwargs: Any) -> None:
        pass

    async def run_after_node_execution(
        self, *, node_name: str, node_kwargs: dict[str, Any], success: bool, **kwargs: Any
    ) -> None:
        if success:
            return
        (value,) = node_kwargs.values()  # every branch node reads one value
        if isinstance(value, tuple):  # the raw record: (start, end, line)
            start, data = value[0], value[2]
        else:
            start, data = value["_start"], json.dumps(value, default=str)
        error = kwargs.get("error")
        await self.db.execute(
            "INSERT OR IGNORE INTO dead_letters (start, node, error, data) VALUES (?, ?, ?, ?)",
            (start, node_name, f"{type(error).__name__}: {error}", data),
        )
        self.count += 1


async def resume_offset(db: aiosqlite.Connection) -> int:
    async with db.execute("SELECT resume_at FROM progress WHERE one = 1") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def serve(args: argparse.Namespace) -> dict[str, Any]:
    """Run until the input ends (or, following it, until SIGTERM); what was done."""
    began = time.perf_counter()
    async with aiosqlite.connect(args.db) as db:
        await db.execute("PRAGMA journal_mode=WAL")  # a commit syncs the log only
        await db.executescript(SCHEMA)
        await db.commit()
        offset = await resume_offset(db)
        lines = FileLines(Path(args.input), offset, args.follow)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lines.stop)
        sink, dead = SqliteSink(db, args.verbose), DeadLetters(db)
        if args.processes:
            import cloudpickle

            cloudpickle.register_pickle_by_value(pipeline)  # workers cannot import it by name
            remote: executors.Executor = executors.ProcessExecutor(
                max_tasks=args.processes, batch_size=args.batch_size
            )
        else:
            remote = executors.InlineExecutor(max_tasks=args.max_tasks)
        dr = (
            Builder()
            .with_modules(pipeline)
            .with_remote_executor(remote)
            .with_adapters(dead)
            .build()
        )
        async with dr:  # `dr.stream` would give each window as an event; this run needs none
            done = await dr.execute(["stored"], inputs={"lines": lines, "sink": sink})
        await db.commit()  # dead letters after the last window
        written = sum(done["stored"])
    return {
        "read_to": lines.read_to,
        "records": written,
        "dead_letters": dead.count,
        "windows": sink.windows,
        "seconds": round(time.perf_counter() - began, 3),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def peak_rss_mb() -> float:
    """This process's peak resident set size: ``VmHWM`` on Linux (``ru_maxrss`` survives
    ``exec``, so a service started by a bigger process would report that one's peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="the JSON-lines file to read")
    parser.add_argument("--db", required=True, help="the SQLite database to write")
    parser.add_argument("--follow", action="store_true", help="wait for more lines at the end")
    parser.add_argument("--processes", type=int, default=0, help="worker processes (0: none)")
    parser.add_argument("--batch-size", type=int, default=64, help="records per process job")
    parser.add_argument("--max-tasks", type=int, default=256, help="branches in flight")
    parser.add_argument("--verbose", action="store_true", help="print a line per window")
    parser.add_argument("--log-skips", action="store_true", help="log each bad record too")
    args = parser.parse_args(argv)
    # Bad records go to the dead-letter table; their warnings only on request.
    logging.basicConfig(level=logging.WARNING if args.log_skips else logging.ERROR)
    report = asyncio.run(serve(args))
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    sys.exit(main())
