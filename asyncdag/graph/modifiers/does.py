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


def _mapped(kwargs: dict[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
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


def _validate(fn: Callable[..., Any], spec: Does) -> None:
    ensure_empty(fn)
    signature = inspect.signature(fn)
    unknown = sorted(set(spec.mapping.values()) - set(signature.parameters))
    dummy = dict.fromkeys(signature.parameters, ...)
    try:
        if unknown:
            raise TypeError(f"no parameter {', '.join(map(repr, unknown))}")
        inspect.signature(spec.replacing).bind(**_mapped(dummy, spec.mapping))
    except TypeError as exc:
        raise GraphError(
            f"@does on {origin_of(fn)}: its signature {signature} does not fit the replacing "
            f"function {spec.replacing.__qualname__}{inspect.signature(spec.replacing)} with "
            f"the mapping {dict(spec.mapping)} ({exc}). Adjust the replacing function's "
            "signature or the mapping."
        ) from None


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
        return _mapped({**defaults, **kwargs}, mapping)

    called = wrap(spec.replacing, name=name, like=fn, doc=fn.__doc__, adapt=adapt)
    return dataclasses.replace(
        node,
        fn=called,
        is_async=inspect.iscoroutinefunction(spec.replacing),
    )
