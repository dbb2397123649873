"""``@does``: a node whose signature comes from an empty function and whose work from another.

As in Hamilton, the decorated function must be empty (only ``pass``, perhaps a docstring);
``argument_mapping`` renames its parameters for the replacing function (``replacing_param=
"decorated_param"``), its defaults are passed too, and the two signatures must bind.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import GraphError
from ..node import Node, origin_of
from .meta import Does
from .wrap import wrap


def _empty() -> None:
    pass


def _empty_with_docstring() -> None:
    """Docstring."""
    pass


_EMPTY = {_empty.__code__.co_code, _empty_with_docstring.__code__.co_code}


def mapped(kwargs: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Hamilton's ``does.map_kwargs``: rename mapped arguments, keep the others."""
    out = dict(kwargs)
    for mapped_to, original in mapping.items():
        if original in kwargs and mapped_to not in mapping.values():
            del out[original]
        out[mapped_to] = kwargs[original]
    return out


def ensure_empty(fn: Callable[..., Any]) -> None:
    """Raise ``GraphError`` unless ``fn``'s body is only ``pass`` (and a docstring)."""
    code = getattr(fn, "__code__", None)
    if code is None or code.co_code not in _EMPTY:
        raise GraphError(
            f"@does on {origin_of(fn)}: the function is not empty. Its body must be only `pass` "
            "(and a docstring): @does replaces it with the function it names.",
            function=origin_of(fn),
        )


def bind_error(
    signature: inspect.Signature, replacing: inspect.Signature, mapping: Mapping[str, str]
) -> TypeError | None:
    """Why ``replacing`` cannot be called with ``signature``'s parameters renamed by ``mapping``
    (Hamilton's ``does`` rule: bind dummy arguments), or None when it can."""
    unknown = sorted(set(mapping.values()) - set(signature.parameters))
    if unknown:
        return TypeError(f"no parameter {', '.join(map(repr, unknown))}")
    try:
        replacing.bind(**mapped(dict.fromkeys(signature.parameters, ...), mapping))
    except TypeError as exc:
        return exc
    return None


def _validate(fn: Callable[..., Any], spec: Does) -> None:
    ensure_empty(fn)
    signature = inspect.signature(fn)
    error = bind_error(signature, inspect.signature(spec.replacing), spec.mapping)
    if error is not None:
        raise GraphError(
            f"@does on {origin_of(fn)}: its signature {signature} does not fit the replacing "
            f"function {spec.replacing.__qualname__}{inspect.signature(spec.replacing)} with "
            f"the mapping {dict(spec.mapping)} ({error}). Adjust the replacing function's "
            "signature or the mapping."
        )


def create(name: str, fn: Callable[..., Any], spec: Does) -> Node:
    """The node of ``fn``'s signature that calls ``spec.replacing``.

    Raises:
        GraphError: ``fn`` is not empty, or the signatures do not fit with the mapping.
    """
    node = Node.from_fn(name, fn, {})
    _validate(fn, spec)
    defaults = {
        key: p.default
        for key, p in inspect.signature(fn).parameters.items()
        if p.default is not p.empty
    }
    mapping = dict(spec.mapping)

    def adapt(kwargs: dict[str, Any]) -> dict[str, Any]:
        return mapped({**defaults, **kwargs}, mapping)

    called = wrap(spec.replacing, name=name, like=fn, doc=fn.__doc__, adapt=adapt)
    return dataclasses.replace(
        node,
        fn=called,
        is_async=inspect.iscoroutinefunction(spec.replacing),
    )
