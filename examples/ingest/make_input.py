"""Write N JSON-lines records, a few of them bad, for the ingestion service to read.

python examples/ingest/make_input.py records.jsonl 100000
"""

from __future__ import annotations

import json
import sys

BAD_EVERY = 97  # every 97th record is broken JSON, every 89th has a negative amount


def line(i: int) -> str:
    if i % BAD_EVERY == BAD_EVERY - 1:
        return '{"id": "broken'
    amount = -1 if i % 89 == 88 else i % 1000
    return json.dumps({"id": f"r{i}", "amount": amount, "region": ("eu", "us", "ap")[i % 3]})


def write(path: str, n: int, start: int = 0) -> None:
    with open(path, "a", encoding="utf-8") as f:
        for i in range(start, start + n):
            f.write(line(i) + "\n")


if __name__ == "__main__":
    write(sys.argv[1], int(sys.argv[2]))
