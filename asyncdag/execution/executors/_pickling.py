"""Serialization for executors that ship work to other processes (workers, clusters).

Units are cloudpickled; their shared parts (a block's branch frame) are written as
persistent ids and pickled once, so a worker receives each part once and keeps it. Modules
that a worker could not import by name (built at run time, or loaded from a file path) are
shipped by value. A value that cannot be pickled is named: node, what, type, attribute path.
"""

from __future__ import annotations

import importlib.machinery
import io
import itertools
import os
import pickle
import sys
import threading
import types
from collections.abc import Iterable
from typing import Any, Protocol

import cloudpickle

from ...errors import RemoteError, SerializationError

SharedKeys = dict[int, tuple[int, bytes]]  # id of a shared part -> (its key, its pickled bytes)


class Shipped(Protocol):
    """What ``dumps_unit`` needs of a unit: it names its node and its parts."""

    @property
    def node(self) -> str: ...

    def shared(self) -> tuple[object, ...]: ...

    def parts(self) -> Iterable[tuple[str, str, Any]]: ...


_KEYS = itertools.count()  # one key space for every cache: a worker may hold parts of several


class SharedParts:
    """Each shared part of the units pickled once, under a key, the newest ``kept`` of them.

    A unit then carries the key, not the part. ``live`` tells whether a key is still kept:
    a worker drops the keys the parent no longer keeps, so both hold the same few parts.
    """

    def __init__(self, kept: int = 64) -> None:
        self.kept = kept
        self._parts: dict[int, tuple[object, int, bytes]] = {}  # id -> (part, key, pickled)
        self._live: set[int] = set()
        self._keys = _KEYS
        self._lock = threading.Lock()  # loops in several threads share the parts

    def keys_for(self, unit: Shipped, parts: Iterable[object] | None = None) -> SharedKeys:
        """id of each shared part of ``unit`` (or of ``parts``) -> (its key, its pickled bytes)."""
        found: SharedKeys = {}
        for part in unit.shared() if parts is None else parts:
            entry = self._parts.get(id(part))
            if entry is None or entry[0] is not part:
                try:
                    pickled: bytes = cloudpickle.dumps(part, protocol=pickle.HIGHEST_PROTOCOL)
                except Exception as exc:
                    raise explain_unpicklable(unit.parts(), unit.node, exc) from exc
                with self._lock:
                    while len(self._parts) >= self.kept:
                        _, old, _ = self._parts.pop(next(iter(self._parts)))
                        self._live.discard(old)
                    key = next(self._keys)
                    entry = self._parts[id(part)] = (part, key, pickled)
                    self._live.add(key)
            found[id(part)] = entry[1:]
        return found

    def live(self, key: int) -> bool:
        """Whether ``key`` is still kept here (a worker may drop it if not)."""
        return key in self._live


class _SharedAsKeys(pickle.Pickler):
    """A pickler writing a shared part as its key (its persistent id)."""

    def __init__(self, file: io.BytesIO, shared: SharedKeys) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._shared = shared

    def persistent_id(self, obj: object) -> int | None:
        entry = self._shared.get(id(obj))
        return None if entry is None else entry[0]


class _Pickler(_SharedAsKeys, cloudpickle.Pickler):  # type: ignore[misc]
    """cloudpickle, writing a shared part as its key."""


class _PlainPickler(_SharedAsKeys):
    """Stdlib pickle, writing a shared part as its key: for a unit whose every other value
    is plain (``plain_mapping``), where cloudpickle's own cost would be most of the work."""


class UnitUnpickler(pickle.Unpickler):
    """Reads a unit whose shared parts were written as keys of parts the reader keeps."""

    def __init__(self, file: io.BytesIO, kept: dict[int, object]) -> None:
        super().__init__(file)
        self._kept = kept

    def persistent_load(self, pid: Any) -> object:
        return self._kept[pid]


def dumps_unit(unit: Shipped, shared: SharedKeys | None = None, *, plain: bool = False) -> bytes:
    """Serialize ``unit`` (its ``shared`` parts as keys), or say what cannot be serialized.

    ``plain``: the caller knows that, apart from its shared parts, ``unit`` holds only
    builtin scalars and importable classes, so stdlib pickle writes it as cloudpickle would.

    Raises:
        SerializationError: naming the node, the value, its type and the attribute path.
    """
    buffer = io.BytesIO()
    try:
        (_PlainPickler if plain else _Pickler)(buffer, shared or {}).dump(unit)
    except Exception as exc:
        raise explain_unpicklable(unit.parts(), unit.node, exc) from exc
    return buffer.getvalue()


_PLAIN = frozenset({int, float, str, bytes, bool, type(None)})
_PLAIN_MOST = 64  # a longer list is not looked through: cloudpickle's own cost is then small


def _plain(value: object, depth: int = 0) -> bool:
    """Whether stdlib pickle writes ``value`` exactly as cloudpickle would: builtin scalars
    in a few short lists, tuples and dicts (none of cloudpickle's by-value cases)."""
    kind = type(value)
    if kind in _PLAIN:
        return True
    if depth > 2:
        return False
    if kind is list or kind is tuple:
        items: Any = value
        return len(items) <= _PLAIN_MOST and all(_plain(v, depth + 1) for v in items)
    if kind is dict:
        entries: Any = value
        return not entries  # an empty one only: a dict's keys and values are not looked at
    return False


def plain_mapping(values: object) -> bool:
    """Whether ``values`` is a dict of names to plain values (see ``_plain``)."""
    if type(values) is not dict:
        return False
    entries: dict[Any, Any] = values
    return len(entries) <= _PLAIN_MOST and all(
        type(k) is str and _plain(v, 1) for k, v in entries.items()
    )


def dumps_value(value: object) -> bytes:
    """``value`` pickled: by stdlib pickle when it is plain (no cloudpickle ``Pickler`` to
    build, which costs more than a small value), else by cloudpickle."""
    if _plain(value):
        return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    pickled: bytes = cloudpickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    return pickled


class PickledOnce:
    """The newest ``kept`` objects pickled, by identity: each is pickled once."""

    def __init__(self, kept: int = 8) -> None:
        self.kept = kept
        self._pickled: dict[int, tuple[object, bytes]] = {}
        self._lock = threading.Lock()

    def dumps(self, value: object) -> bytes:
        entry = self._pickled.get(id(value))
        if entry is not None and entry[0] is value:
            return entry[1]
        pickled = dumps_value(value)
        with self._lock:
            while len(self._pickled) >= self.kept:
                del self._pickled[next(iter(self._pickled))]
            self._pickled[id(value)] = (value, pickled)
        return pickled


class _Listed(Shipped, Protocol):
    @property
    def items(self) -> list[Any]: ...


def dumps_items(unit: _Listed, head: tuple[Any, ...]) -> bytes:
    """``(*head, items)``: a chunk's items as one list, with no look at each for shared parts.

    Raises:
        SerializationError: naming the item that cannot be serialized.
    """
    try:
        return dumps_value((*head, unit.items))
    except Exception as exc:
        raise explain_unpicklable(unit.parts(), unit.node, exc) from exc


def loads_unit(payload: bytes, kept: dict[int, object]) -> Any:
    """The unit ``dumps_unit`` wrote, its shared parts taken from ``kept``."""
    return UnitUnpickler(io.BytesIO(payload), kept).load()


# -- exceptions, rebuilt as themselves ------------------------------------------------------


def dumps_error(exc: BaseException, remote_traceback: str) -> bytes:
    """``exc`` for ``loads_error``, with its traceback text.

    Built-in exceptions and those that say how to pickle them (``__reduce__``) travel as
    pickle does it; others as their type, ``args`` and attributes (notes included), which
    rebuild them without calling ``__init__`` (``ApiError(status, body)`` comes back as
    itself). If even those cannot be pickled, their description travels instead.
    """
    described = (type_name(exc), str(exc), remote_traceback)
    cls = type(exc)
    try:
        if cls.__module__ == "builtins" or cls.__reduce__ is not BaseException.__reduce__:
            whole: bytes = cloudpickle.dumps((exc, described))
            return whole
        state = dict(getattr(exc, "__dict__", {}))
        body: bytes = cloudpickle.dumps(((cls, exc.args, state), described))
    except Exception:
        notes = [str(note) for note in getattr(exc, "__notes__", ())]
        body = cloudpickle.dumps(((None, (), {"__notes__": notes}), described))
    return body


def loads_error(body: bytes) -> tuple[BaseException, str]:
    """The exception ``dumps_error`` wrote and the remote traceback text; one that cannot be
    rebuilt here is a ``RemoteError`` (type name, message, traceback)."""
    described: tuple[str, str, str] = ("?", "an exception that could not be unpickled", "")
    state: dict[str, Any] = {}
    try:
        sent, described = pickle.loads(body)
        if isinstance(sent, BaseException):
            return sent, described[2]
        cls, args, state = sent
        if isinstance(cls, type) and issubclass(cls, BaseException):
            error = cls.__new__(cls, *args)
            error.args = args
            error.__dict__.update(state)
            return error, described[2]
    except Exception as exc:
        described = (described[0], f"{described[1]} ({type(exc).__name__}: {exc})", described[2])
    error = RemoteError(*described)
    if state.get("__notes__"):
        error.__notes__ = list(state["__notes__"])
    return error, described[2]


# -- modules a worker cannot import by name ---------------------------------------------------

_checked: set[str] = set()
_checked_lock = threading.Lock()
_CWD = os.getcwd()  # for relative entries of sys.path; getcwd() is a blocking call
_seen: list[object] = [None]  # (len, newest name) of sys.modules at the last look


def ship_modules_by_value() -> None:
    """Have cloudpickle send by value the functions of modules a worker cannot import.

    Those are modules built at run time (no import spec, even with a ``__file__``) and
    modules loaded from a file path that the worker's ``sys.path`` does not lead to
    (``spec_from_file_location``: plugin loaders, notebooks, pytest's importlib mode).
    Each module is judged once; only modules new since the last call are looked at.
    """
    modules = sys.modules
    seen = (len(modules), next(reversed(modules), None))  # O(1): dicts keep insertion order
    if seen == _seen[0]:
        return
    with _checked_lock:
        _seen[0] = seen
        for name in [name for name in list(sys.modules) if name not in _checked]:
            _checked.add(name)
            module = sys.modules.get(name)
            if not isinstance(module, types.ModuleType) or name == "__main__":
                continue
            if not _importable_by_name(name, module):
                cloudpickle.register_pickle_by_value(module)


def _importable_by_name(name: str, module: types.ModuleType) -> bool:
    spec = getattr(module, "__spec__", True)
    if spec is None:
        return False
    if spec is True or not isinstance(spec, importlib.machinery.ModuleSpec):
        return True
    if not isinstance(spec.loader, importlib.machinery.SourceFileLoader) or not spec.origin:
        return True  # built-in, frozen, extension or namespace modules: importable as they are
    top, _, rest = name.partition(".")
    if rest:  # a submodule: importable if its top package is
        parent = sys.modules.get(top)
        return parent is None or _importable_by_name(top, parent)
    # Found on sys.path (which workers share) exactly where the import system would look.
    # Strings only: no file system call, as this runs on the event loop.
    where = os.path.dirname(spec.origin)
    if spec.submodule_search_locations is not None:  # a package: origin is its __init__.py
        where = os.path.dirname(where)
    return any(os.path.join(_CWD, entry) == where for entry in sys.path)


# -- naming what cannot be pickled ------------------------------------------------------------


def explain_unpicklable(
    parts: Iterable[tuple[str, str, Any]], node: str, error: Exception
) -> SerializationError:
    """The ``SerializationError`` for the first part of ``parts`` that cannot be pickled."""
    for part_node, what, value in parts:
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            path, culprit, reason = _dig(value, "", exc, depth=0)
            return SerializationError(part_node, what, type_name(culprit), path, reason)
    return SerializationError(node, "the work unit", "?", "", str(error))


def _dig(value: Any, path: str, error: Exception, depth: int) -> tuple[str, Any, str]:
    """Walk into ``value`` to the innermost piece that still fails to pickle."""
    if depth < 20:
        for child_path, child in _children(value, path):
            try:
                cloudpickle.dumps(child)
            except Exception as exc:
                return _dig(child, child_path, exc, depth + 1)
    return path, value, f"{type(error).__name__}: {error}"


def _children(value: Any, path: str) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        return ((f"{path}[{k!r}]", v) for k, v in list(value.items())[:1000])
    if isinstance(value, list | tuple | set | frozenset):
        return ((f"{path}[{i}]", v) for i, v in enumerate(list(value)[:1000]))
    attrs = getattr(value, "__dict__", None)
    if isinstance(attrs, dict):
        return ((f"{path}.{k}", v) for k, v in list(attrs.items())[:1000])
    return ()


def type_name(value: Any) -> str:
    """``module.Qualname`` of ``value``'s type (just the name for builtins)."""
    cls = type(value)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
