"""Versions: of a node's code (its source) and of values (fingerprints), as Hamilton's.

A data version is a short digest of a value's content, so equal values get equal versions in
any process. Values that cannot be fingerprinted get ``UNHASHABLE``: whoever reads them is
recomputed (a random version, as in Hamilton), never served a stale result.
"""

from __future__ import annotations

import ast
import datetime
import functools
import hashlib
import inspect
import sys
import types
from collections.abc import Callable, Mapping, Sequence, Set
from typing import Any

UNHASHABLE = "<unhashable>"
NONE_VERSION = "<none>"
MAX_DEPTH = 6  # how deep objects' __dict__ are followed (Hamilton's default)

_PRIMITIVES = (str, int, float, bool, complex)
# Exact types whose repr is their content: a list or tuple of them (nested tuples too) is
# versioned by one hash of its repr, not one hash per element.
_PLAIN = frozenset({str, int, float, bool, complex, bytes, type(None)})


def digest(*parts: bytes) -> str:
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        h.update(len(part).to_bytes(8, "little"))
        h.update(part)
    return h.hexdigest()


def _hashed(tag: bytes, text: bytes) -> str:
    """``digest(tag, text)`` in one call (the tag never holds ``:``)."""
    return hashlib.blake2b(tag + b":" + text, digest_size=16).hexdigest()


def data_version(value: Any, depth: int = 0) -> str:
    """The fingerprint of ``value``: equal content, equal version; ``UNHASHABLE`` when any
    part of it cannot be fingerprinted."""
    kind = type(value)
    if kind is int:  # hex: repr refuses ints of more than 4,300 digits
        return _hashed(b"int", hex(value).encode())
    if kind in _PLAIN:
        if value is None:
            return NONE_VERSION
        # the type is part of the version: 1, 1.0, True and "1" are different inputs
        return _hashed(kind.__name__.encode(), value if kind is bytes else repr(value).encode())
    if (kind is list or kind is tuple) and _all_plain(value):
        try:
            return _hashed(b"plain-" + kind.__name__.encode(), repr(value).encode())
        except ValueError:  # a huge int inside: element by element below
            pass
    if value is None:
        return NONE_VERSION
    if depth > MAX_DEPTH:
        return UNHASHABLE
    if isinstance(value, _PRIMITIVES):
        return _hashed(type(value).__name__.encode(), repr(value).encode())
    if isinstance(value, bytes | bytearray):
        return _hashed(b"bytes", bytes(value))
    frames = _pandas_version(value)
    if frames is not None:
        return frames
    array = _numpy_version(value)
    if array is not None:
        return array
    if isinstance(value, Mapping):  # key order does not matter, as in Hamilton
        pairs = sorted(
            (data_version(k, depth + 1), data_version(v, depth + 1)) for k, v in value.items()
        )
        if any(UNHASHABLE in pair for pair in pairs):
            return UNHASHABLE
        return digest(b"mapping", *(f"{k}:{v}".encode() for k, v in pairs))
    if isinstance(value, Set):
        parts = sorted(data_version(e, depth + 1) for e in value)
        return _combined(b"set", parts)
    if isinstance(value, Sequence):  # order matters
        parts = [data_version(e, depth + 1) for e in value]
        return _combined(type(value).__name__.encode(), parts)
    return _object_version(value, depth)


QUICK_MOST = 1024  # the longest str or bytes ``quick_version`` fingerprints


def quick_version(value: Any) -> str | None:
    """``data_version(value)`` when that is cheap enough for the event loop (a small plain
    value: a number, a short str or bytes, a short tuple of them), else None."""
    kind = type(value)
    if kind is str or kind is bytes:
        return data_version(value) if len(value) <= QUICK_MOST else None
    if kind in _PLAIN:
        return data_version(value) if kind is not int or value.bit_length() < 4096 else None
    if kind is tuple and len(value) <= 16 and all(quick_version(v) is not None for v in value):
        return data_version(value)
    return None


def _combined(kind: bytes, parts: list[str]) -> str:
    """The version of a container from its elements' (none of which may be unhashable)."""
    if UNHASHABLE in parts:
        return UNHASHABLE
    return digest(kind, *(part.encode() for part in parts))


def _all_plain(values: list[Any] | tuple[Any, ...]) -> bool:
    plain = _PLAIN
    for value in values:
        kind = type(value)
        if kind not in plain and not (kind is tuple and _all_plain(value)):
            return False
    return True


def _object_version(value: Any, depth: int) -> str:
    attributes = getattr(value, "__dict__", None)
    if attributes:
        kind = f"{type(value).__module__}.{type(value).__qualname__}".encode()
        inner = data_version(dict(attributes), depth + 1)
        return UNHASHABLE if inner == UNHASHABLE else digest(kind, inner.encode())
    module = getattr(type(value), "__module__", "").partition(".")[0]
    standard = module in sys.stdlib_module_names or module in sys.builtin_module_names
    if standard or type(value) in vars(datetime).values():
        return digest(b"repr", repr(value).encode())  # pathlib.Path, Enum, date, Decimal...
    return UNHASHABLE


def _pandas_version(value: Any) -> str | None:
    pd = sys.modules.get("pandas")  # a value can be a pandas object only if pandas is loaded
    if pd is None or not isinstance(value, pd.DataFrame | pd.Series | pd.Index):
        return None
    rows = pd.util.hash_pandas_object(value, index=not isinstance(value, pd.Index))
    types = value.dtypes if isinstance(value, pd.DataFrame) else value.dtype
    described = repr((type(value).__name__, types)).encode()
    names = repr(list(value.columns) if isinstance(value, pd.DataFrame) else value.name)
    return digest(b"pandas", described, names.encode(), rows.to_numpy().tobytes())


def _numpy_version(value: Any) -> str | None:
    np = sys.modules.get("numpy")
    if np is None or not isinstance(value, np.ndarray):
        return None
    if value.dtype.hasobject:
        return data_version(value.tolist())
    shape = repr((value.dtype.str, value.shape)).encode()
    return digest(b"ndarray", shape, np.ascontiguousarray(value).tobytes())


def code_version(fn: Callable[..., Any]) -> str:
    """The version of a node's code: a hash of the sources (docstrings and comments left out)
    of every function it runs: the function, what it wraps, the functions decorators hold
    (``@does``'s replacement, ``@pipe_input``'s steps) and the helper functions of the
    user's module that these call. Hamilton hashes the node's function alone, so a changed
    helper went unnoticed there.

    Functions whose source cannot be read (built-ins, generated callables) are versioned by
    their qualified name.
    """
    return digest(*(_source_part(f) for f in _functions_of(fn)))


def _source_part(fn: Callable[..., Any]) -> bytes:
    try:
        return b"source:" + _stripped(inspect.getsource(fn)).encode()
    except (OSError, TypeError):
        name = f"{getattr(fn, '__module__', '')}.{getattr(fn, '__qualname__', repr(fn))}"
        return b"name:" + name.encode()


def _functions_of(fn: Callable[..., Any]) -> list[Callable[..., Any]]:
    """Every function ``fn`` runs that is not a library's, in a fixed order."""
    order: list[Callable[..., Any]] = []
    seen: set[int] = set()
    todo: list[Any] = [fn]
    while todo:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, functools.partial):
            todo += [current.func, *_callables(current.args, current.keywords.values())]
            continue
        wrapped = getattr(current, "__wrapped__", None)
        if callable(wrapped):
            todo.append(wrapped)
        order.append(current)
        if not isinstance(current, types.FunctionType):
            continue
        cells = []
        for cell in current.__closure__ or ():
            try:
                cells.append(cell.cell_contents)
            except ValueError:  # an empty cell
                continue
        todo += _callables(cells)
        if not current.__module__.startswith(_OWN):  # asyncdag's wrappers: their code only
            todo += _helpers(current)
    return order


_OWN = __name__.partition(".")[0] + "."


def _callables(*groups: Any) -> list[Callable[..., Any]]:
    """The functions among values (and one level into their lists, tuples and dicts)."""
    found: list[Callable[..., Any]] = []
    for group in groups:
        for value in group:
            items = value.values() if isinstance(value, dict) else value
            inner = items if isinstance(value, list | tuple | dict) else [value]
            found += [v for v in inner if isinstance(v, types.FunctionType | functools.partial)]
    return found


def _helpers(fn: types.FunctionType) -> list[types.FunctionType]:
    """Functions of ``fn``'s module that ``fn`` reads by name, sorted by name."""
    scope = fn.__globals__
    helpers = (scope.get(name) for name in sorted(_names(fn.__code__)))
    return [
        h for h in helpers if isinstance(h, types.FunctionType) and h.__module__ == fn.__module__
    ]


def _names(code: types.CodeType) -> set[str]:
    names = set(code.co_names)
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):  # nested functions, comprehensions
            names |= _names(constant)
    return names


_AST_ATTEMPTS = 5


def _stripped(source: str) -> str:
    """``source`` without comments and docstrings (they do not change what it computes)."""
    import textwrap

    for attempt in range(_AST_ATTEMPTS):
        try:
            tree = ast.parse(textwrap.dedent(source))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
                    first = node.body[0]
                    constant = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
                    if constant and isinstance(first.value.value, str):  # type: ignore[attr-defined]
                        node.body = node.body[1:] or [ast.Pass()]
            return ast.unparse(tree)
        except SyntaxError:  # a lambda's line, say: keep it as it is
            return source.strip()
        except SystemError:
            # CPython 3.11 (up to 3.11.8) can fail an ast call made on a thread while another
            # thread builds an AST ("AST constructor recursion depth mismatch"); it is a
            # race, so the same call succeeds when made again.
            if attempt == _AST_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
