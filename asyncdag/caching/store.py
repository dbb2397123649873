"""The cache on disk: SQLite for metadata and small results, files for the others.

``metadata.db`` maps a cache key (node, code version, input data versions) to the data
version of the result. Results are content-addressed by data version: a pickle of at most
``INLINE_MAX`` bytes is a row of ``metadata.db``; bigger ones, and the ``json``, ``parquet``
and ``csv`` formats, are files ``results/<data version>.<format>``. SQLite (WAL mode, a
connection per thread) serializes writers of any process; a file is written under a
temporary name and renamed into place, so a reader sees a whole file or none, and it is
written before the row pointing at it. An inline result and its key commit together.

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
INLINE = "inline"  # a small pickle, kept in the database
INLINE_MAX = 64 * 1024
_CHUNK = 500  # keys per lookup query (SQLite allows 32,766 parameters)

Link = tuple[str, str, str, str, bytes | None]  # (key, node, data version, format, inline)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS cache_metadata (
    cache_key TEXT PRIMARY KEY,
    node_name TEXT NOT NULL,
    data_version TEXT NOT NULL,
    format TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cache_results (
    data_version TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
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
            connection.executescript(_SCHEMA)
            self._local.connection = connection
        return connection

    def get(self, cache_key: str) -> tuple[str, Any] | None:
        """``(data version, value)`` stored under ``cache_key``, or None (a miss)."""
        return self.get_many([cache_key]).get(cache_key)

    def get_many(self, cache_keys: list[str]) -> dict[str, tuple[str, Any]]:
        """``{key: (data version, value)}`` for the keys stored (a few queries for many keys)."""
        connection = self._connection()
        found: dict[str, tuple[str, Any]] = {}
        for start in range(0, len(cache_keys), _CHUNK):
            chunk = cache_keys[start : start + _CHUNK]
            rows = connection.execute(
                "SELECT m.cache_key, m.data_version, m.format, r.value FROM cache_metadata AS m "
                "LEFT JOIN cache_results AS r ON r.data_version = m.data_version "
                f"WHERE m.cache_key IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            for key, version, fmt, inline in rows:
                try:
                    if fmt == INLINE:
                        if inline is None:
                            raise ResultRetrievalError(version)
                        found[key] = version, _unpickled(inline)
                    else:
                        found[key] = version, self._read(self._file(version, fmt), fmt)
                except ResultRetrievalError:
                    self.delete(key)
        return found

    def set(self, cache_key: str, node_name: str, version: str, value: Any, fmt: str) -> None:
        """Store ``value`` as ``version`` and point ``cache_key`` at it."""
        self.link([(cache_key, node_name, version, *self.put(version, value, fmt))])

    def put(self, version: str, value: Any, fmt: str) -> tuple[str, bytes | None]:
        """Write ``value``'s file (unless that version has one), or return its small pickle:
        ``(format, inline bytes or None)`` for ``link``."""
        self._connection()  # the first connection makes the directories
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL) if fmt == "pickle" else None
        if data is not None and len(data) <= INLINE_MAX:
            return INLINE, data
        target = self._file(version, fmt)
        if not target.exists():
            self._write(target, value, fmt, data)
        return fmt, None

    def link(self, links: list[Link]) -> None:
        """Point cache keys at stored versions (with their inline results), in one commit."""
        connection = self._connection()
        with connection:
            connection.executemany(
                "INSERT OR IGNORE INTO cache_results VALUES (?, ?)",
                [(version, data) for _, _, version, _, data in links if data is not None],
            )
            connection.executemany(
                "INSERT OR REPLACE INTO cache_metadata VALUES (?, ?, ?, ?)",
                [link[:4] for link in links],
            )

    def delete(self, cache_key: str) -> None:
        connection = self._connection()
        with connection:
            connection.execute("DELETE FROM cache_metadata WHERE cache_key = ?", (cache_key,))

    def _file(self, version: str, fmt: str) -> Path:
        return self.results / f"{version}.{fmt}"

    def _write(self, target: Path, value: Any, fmt: str, data: bytes | None) -> None:
        fd, temporary = tempfile.mkstemp(dir=self.results, prefix=".", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as file:
                if data is not None:
                    file.write(data)
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
                return _unpickled(source.read_bytes())
            if fmt == "json":
                return json.loads(source.read_bytes())
            pd = importlib.import_module("pandas")
            if fmt == "parquet":
                return pd.read_parquet(source)
            return pd.read_csv(source, index_col=0)
        except Exception as exc:  # missing, truncated or unreadable: recompute instead
            raise ResultRetrievalError(str(source)) from exc


def _unpickled(data: bytes) -> Any:
    try:
        return pickle.loads(data)
    except Exception as exc:  # a class that moved or changed: recompute instead
        raise ResultRetrievalError("an unreadable pickle") from exc
