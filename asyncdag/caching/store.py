"""The cache on disk: SQLite for metadata, one file per result (content-addressed).

``metadata.db`` maps a cache key (node, code version, input data versions) to the data
version of the result; ``results/<data version>.<format>`` holds the value. SQLite (WAL
mode, a connection per thread) serializes writers of any process; a result file is written
under a temporary name and renamed into place, so a reader sees a whole file or none. A
result is written before its metadata row, so a row always points at a complete file.

Every method blocks: the cache adapter calls them on a thread, never on the event loop.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import sqlite3
import tempfile
import threading
from pathlib import Path
from typing import Any

FORMATS = ("pickle", "json", "parquet", "csv")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_metadata (
    cache_key TEXT PRIMARY KEY,
    node_name TEXT NOT NULL,
    data_version TEXT NOT NULL,
    format TEXT NOT NULL
)
"""


class ResultRetrievalError(Exception):
    """A result file could not be read back (missing, truncated, or in a broken format)."""


class Store:
    """Metadata in ``<path>/metadata.db`` and results in ``<path>/results/``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.results = self.path / "results"  # made by the first connection, on a thread
        self._local = threading.local()  # one SQLite connection per thread

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            self.results.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(self.path / "metadata.db", timeout=60.0)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(_SCHEMA)
            connection.commit()
            self._local.connection = connection
        return connection

    def get(self, cache_key: str) -> tuple[str, Any] | None:
        """``(data version, value)`` stored under ``cache_key``, or None (a miss)."""
        row = (
            self._connection()
            .execute(
                "SELECT data_version, format FROM cache_metadata WHERE cache_key = ?",
                (cache_key,),
            )
            .fetchone()
        )
        if row is None:
            return None
        version, fmt = row
        try:
            return version, self._read(self._file(version, fmt), fmt)
        except ResultRetrievalError:
            self.delete(cache_key)
            return None

    def set(self, cache_key: str, node_name: str, version: str, value: Any, fmt: str) -> None:
        """Store ``value`` as ``version`` and point ``cache_key`` at it."""
        target = self._file(version, fmt)
        if not target.exists():
            self._write(target, value, fmt)
        connection = self._connection()
        with connection:
            connection.execute(
                "INSERT OR REPLACE INTO cache_metadata VALUES (?, ?, ?, ?)",
                (cache_key, node_name, version, fmt),
            )

    def delete(self, cache_key: str) -> None:
        connection = self._connection()
        with connection:
            connection.execute("DELETE FROM cache_metadata WHERE cache_key = ?", (cache_key,))

    def _file(self, version: str, fmt: str) -> Path:
        return self.results / f"{version}.{fmt}"

    def _write(self, target: Path, value: Any, fmt: str) -> None:
        fd, temporary = tempfile.mkstemp(dir=self.results, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as file:
                if fmt == "pickle":
                    pickle.dump(value, file, protocol=pickle.HIGHEST_PROTOCOL)
                elif fmt == "json":
                    file.write(json.dumps(value).encode())
                elif fmt == "parquet":
                    value.to_parquet(file)
                else:
                    value.to_csv(file)
            os.replace(temporary, target)
        except BaseException:
            os.unlink(temporary)
            raise

    def _read(self, source: Path, fmt: str) -> Any:
        try:
            if fmt == "pickle":
                with source.open("rb") as file:
                    return pickle.load(file)
            if fmt == "json":
                return json.loads(source.read_bytes())
            pd = importlib.import_module("pandas")
            if fmt == "parquet":
                return pd.read_parquet(source)
            return pd.read_csv(source, index_col=0)
        except Exception as exc:  # missing, truncated or unreadable: recompute instead
            raise ResultRetrievalError(str(source)) from exc
