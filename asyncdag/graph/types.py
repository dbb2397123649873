"""Whether a producer's return annotation satisfies a consumer's parameter annotation."""

from __future__ import annotations

import types
import typing
from typing import Any, TypeVar

_UNION_TYPES = (typing.Union, types.UnionType)


def _is_anything(tp: Any) -> bool:
    return tp is Any or tp is object or isinstance(tp, TypeVar)


def _strip(tp: Any) -> Any:
    """Drop ``Annotated`` metadata; strings (unresolved forward refs) count as ``Any``."""
    if isinstance(tp, str | typing.ForwardRef):
        return Any
    if typing.get_origin(tp) is typing.Annotated:
        return typing.get_args(tp)[0]
    return tp


def _as_class(tp: Any) -> type | None:
    origin = typing.get_origin(tp) or tp
    return origin if isinstance(origin, type) else None


def compatible(produced: Any, required: Any) -> bool:
    """Hamilton's rule, a little more lenient: ``Any``, equality, unions, subclasses, generics.

    Type arguments are compared when both sides have them; a bare generic matches any
    parameterisation of the same class.
    """
    produced, required = _strip(produced), _strip(required)
    if _is_anything(produced) or _is_anything(required) or produced == required:
        return True
    if typing.get_origin(required) in _UNION_TYPES:
        if typing.get_origin(produced) in _UNION_TYPES:
            return all(compatible(p, required) for p in typing.get_args(produced))
        return any(compatible(produced, r) for r in typing.get_args(required))
    if typing.get_origin(produced) in _UNION_TYPES:
        return all(compatible(p, required) for p in typing.get_args(produced))
    p_cls, r_cls = _as_class(produced), _as_class(required)
    if p_cls is None or r_cls is None:
        return True  # something we cannot reason about (NewType, Literal, ...): trust the user
    try:
        if not issubclass(p_cls, r_cls):
            return False
    except TypeError:
        return True
    p_args, r_args = typing.get_args(produced), typing.get_args(required)
    if not p_args or not r_args or len(p_args) != len(r_args):
        return True
    return all(
        p is Ellipsis or r is Ellipsis or compatible(p, r)
        for p, r in zip(p_args, r_args, strict=True)
    )


def describe(tp: Any) -> str:
    """A short readable name for an annotation."""
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__qualname__
    return repr(tp).replace("typing.", "")
