"""The ingestion DAG: one branch per JSON line, parse -> enrich -> validate, windows to SQLite.

A record is ``(start, end, text)``: the byte offsets of its line in the input file and the
line itself; every stage carries ``start`` so that a failure can be dead-lettered by offset.
A bad record (broken JSON, a failed check) fails its branch, and ``@on_branch_error("skip")``
leaves it out of the window; the service's hook writes it to the dead-letter table before
the window holding it can run.

Each window is written with the input offset to resume from in one transaction: windows run
in yield order, after all their branches, so a restart from the stored offset reads every
record not yet written, and none twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any, Protocol

from asyncdag import Collect, Parallelizable, on_branch_error, window

Record = tuple[int, int, str]  # (start offset, end offset, line)

REGIONS = {"eu": "Europe", "us": "Americas", "ap": "Asia-Pacific"}  # what enrich looks up

WINDOW_SIZE = 500
WINDOW_SECONDS = 1.0


class Lines(Protocol):
    """Where records come from (a growing file, a queue): an async iterator of records."""

    def __aiter__(self) -> AsyncIterator[Record]: ...


class Sink(Protocol):
    """Where windows go: rows plus the offset to resume from, in one transaction."""

    async def write(self, rows: list[dict[str, Any]], resume_at: int) -> None: ...


@on_branch_error("skip")
async def record(lines: Lines) -> Parallelizable[Record]:
    """Every record of the input, in input order (never ends while the input grows)."""
    async for line in lines:
        yield line


def parsed(record: Record) -> dict[str, Any]:
    """The record's JSON object, with its offsets."""
    start, end, text = record
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"a record must be a JSON object, not {type(value).__name__}")
    return {**value, "_start": start, "_end": end}


async def enriched(parsed: dict[str, Any]) -> dict[str, Any]:
    """The record with its region's name (an async lookup; a real service would call out)."""
    await asyncio.sleep(0)
    return {**parsed, "region_name": REGIONS.get(str(parsed.get("region")), "unknown")}


def validated(enriched: dict[str, Any]) -> dict[str, Any]:
    """The record, if it has an ``id`` and a non-negative numeric ``amount``."""
    if "id" not in enriched:
        raise ValueError("record has no 'id'")
    amount = enriched.get("amount")
    if not isinstance(amount, int | float) or amount < 0:
        raise ValueError(f"record {enriched['id']!r} has a bad amount {amount!r}")
    return enriched


@window(size=WINDOW_SIZE, seconds=WINDOW_SECONDS)
async def stored(validated: Collect[dict[str, Any]], sink: Sink) -> int:
    """Write one window and the offset after its last record; the number of rows written."""
    if validated:
        await sink.write(validated, max(r["_end"] for r in validated))
    return len(validated)
