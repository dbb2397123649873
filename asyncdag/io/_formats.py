"""The file formats of loaders and savers: json, csv, pickle and parquet, as in Hamilton.

Each load returns ``(data, metadata)`` and each save returns metadata, shaped like
Hamilton's ``hamilton.io.utils``: ``{"file_metadata": {...}}``, plus ``"dataframe_metadata"``
for pandas formats. csv and parquet need pandas (parquet also pyarrow), imported only when used.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import json
import os
import pickle
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..graph.modifiers.meta import Dependency, LiteralDependency, UpstreamDependency
from ..graph.types import compatible

FILE_METADATA = "file_metadata"
DATAFRAME_METADATA = "dataframe_metadata"
Metadata = dict[str, Any]


def file_metadata(path: Any) -> Metadata:
    """Hamilton's ``get_file_metadata``: size, path, last_modified, timestamp, scheme, notes."""
    path = os.fspath(path) if isinstance(path, os.PathLike) else str(path)
    scheme = urllib.parse.urlparse(path).scheme
    size: int | None = None
    last_modified = time.time()
    notes = f"File metadata is unsupported for scheme: {scheme} or path: {path} does not exist."
    is_drive = len(scheme) == 1 and scheme.isalpha()  # "C:" of a Windows path
    if (scheme == "" or is_drive) and os.path.exists(path):
        size = os.path.getsize(path)
        last_modified = os.path.getmtime(path)
        notes = ""
    return {
        FILE_METADATA: {
            "size": size,
            "path": path,
            "last_modified": last_modified,
            "timestamp": time.time(),
            "scheme": scheme,
            "notes": notes,
            "__version__": "1.0.0",
        }
    }


def dataframe_metadata(df: Any) -> Metadata:
    """Hamilton's ``get_dataframe_metadata``: rows, columns, column names, data types."""
    return {
        DATAFRAME_METADATA: {
            "__version__": "1.0.0",
            "rows": len(df),
            "columns": len(df.columns),
            "column_names": list(df.columns),
            "datatypes": [str(t) for t in df.dtypes],
        }
    }


def _pandas() -> Any:
    return importlib.import_module("pandas")


def _dataframe() -> tuple[Any, ...]:
    return (_pandas().DataFrame,)


def _load_json(path: Any) -> tuple[Any, Metadata]:
    with open(path, encoding="utf-8") as f:
        return json.load(f), file_metadata(path)


def _save_json(data: Any, path: Any) -> Metadata:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f)
    return file_metadata(path)


def _load_pickle(path: Any) -> tuple[Any, Metadata]:
    with open(path, "rb") as f:
        return pickle.load(f), file_metadata(path)


def _save_pickle(data: Any, path: Any) -> Metadata:
    with open(path, "wb") as f:
        pickle.dump(data, f)
    return file_metadata(path)


def _load_csv(path: Any, **options: Any) -> tuple[Any, Metadata]:
    df = _pandas().read_csv(path, **options)
    return df, {**file_metadata(path), **dataframe_metadata(df)}


def _save_csv(data: Any, path: Any, **options: Any) -> Metadata:
    data.to_csv(path, **{"index": False, **options})  # Hamilton's default: no index column
    return {**file_metadata(path), **dataframe_metadata(data)}


def _load_parquet(path: Any, **options: Any) -> tuple[Any, Metadata]:
    df = _pandas().read_parquet(path, **options)
    return df, {**file_metadata(path), **dataframe_metadata(df)}


def _save_parquet(data: Any, path: Any, **options: Any) -> Metadata:
    data.to_parquet(path, **options)
    return {**file_metadata(path), **dataframe_metadata(data)}


def _no_options() -> tuple[frozenset[str], frozenset[str]] | None:
    return frozenset(), frozenset()


def _csv_options() -> tuple[frozenset[str], frozenset[str]] | None:
    pd = _pandas()
    return _keywords(pd.read_csv, "filepath_or_buffer"), _keywords(pd.DataFrame.to_csv, "self")


def _keywords(fn: Callable[..., Any], *skip: str) -> frozenset[str]:
    params = inspect.signature(fn).parameters.values()
    return frozenset(p.name for p in params if p.name not in (*skip, "path_or_buf"))


def _any_options() -> tuple[frozenset[str], frozenset[str]] | None:
    return None  # pandas' parquet functions pass **kwargs on to the engine


@dataclass(frozen=True)
class Format:
    """One file format: what it reads and writes, how, and what it needs installed."""

    name: str
    kinds: str  # the types it handles, for messages
    types: Callable[[], tuple[Any, ...]]  # () means any type
    loader: Callable[..., tuple[Any, Metadata]]
    saver: Callable[..., Metadata]
    options: Callable[[], tuple[frozenset[str], frozenset[str]] | None]  # (load, save)
    needs: tuple[str, ...] = ()  # modules it imports
    extra: str = ""  # the asyncdag extra that installs them

    def loads_into(self, annotation: Any) -> bool:
        """Whether a value this format loads can feed a parameter annotated ``annotation``."""
        types = self.types()
        return not types or any(compatible(t, annotation) for t in types)

    def saves_from(self, annotation: Any) -> bool:
        """Whether this format can save the value of a node annotated ``annotation``."""
        types = self.types()
        return not types or any(compatible(annotation, t) for t in types)

    def load(self, **arguments: Any) -> tuple[Any, Metadata]:
        """Read the file at ``path`` (with the other arguments as options)."""
        return self.loader(**arguments)

    def save(self, data: Any, **arguments: Any) -> Metadata:
        """Write ``data`` to ``path`` (with the other arguments as options)."""
        return self.saver(data, **arguments)

    def arguments(
        self, what: str, loading: bool, given: Mapping[str, Any]
    ) -> dict[str, Dependency]:
        """``given`` as ``source``/``value`` dependencies (plain values count as ``value``).

        Raises:
            ImportError: a module the format needs is missing (with the pip line).
            TypeError: ``path`` is missing or an option is unknown to the format.
        """
        missing = [m for m in self.needs if importlib.util.find_spec(m) is None]
        if missing:
            raise ImportError(
                f"{what} needs {' and '.join(missing)}. Install with: "
                f"pip install 'asyncdag[{self.extra}]'"
            )
        if "path" not in given:
            raise TypeError(f"{what} needs path=... (a path, value(...) or source(...))")
        options = self.options()
        if options is not None:
            known = options[0] if loading else options[1]
            unknown = sorted(set(given) - known - {"path"})
            if unknown:
                close = difflib.get_close_matches(unknown[0], sorted(known), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                takes = f"path and {len(known)} options" if known else "only path"
                raise TypeError(
                    f"{what} got unknown argument(s) {', '.join(map(repr, unknown))}; "
                    f"{self.name} takes {takes}.{hint}"
                )
        return {
            k: v if isinstance(v, LiteralDependency | UpstreamDependency) else LiteralDependency(v)
            for k, v in given.items()
        }


FORMATS: Mapping[str, Format] = {
    "json": Format(
        "json", "dict or list", lambda: (dict, list), _load_json, _save_json, _no_options
    ),
    "csv": Format(
        "csv",
        "pandas.DataFrame",
        _dataframe,
        _load_csv,
        _save_csv,
        _csv_options,
        ("pandas",),
        "pandas",
    ),
    "pickle": Format("pickle", "any value", lambda: (), _load_pickle, _save_pickle, _no_options),
    "parquet": Format(
        "parquet",
        "pandas.DataFrame",
        _dataframe,
        _load_parquet,
        _save_parquet,
        _any_options,
        ("pandas", "pyarrow"),
        "parquet",
    ),
}


def unknown_format(kind: str, name: str) -> AttributeError:
    """The error for ``to.<name>`` and the like when asyncdag has no such format."""
    return AttributeError(
        f"{kind} has no format {name!r}; asyncdag has {', '.join(FORMATS)}. Hamilton's other "
        "data adapters are not supported: write a @dataloader/@datasaver function instead."
    )
