"""Type rules (Hamilton's) and the build-time type checks: each edge, and each input's readers."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from types import GenericAlias
from typing import Any, TypeVar

from ..errors import GraphError
from ..htypes import Collect, Parallelizable
from .modifiers.streams import window_of
from .node import Node, element_type

_UNION_TYPES = (typing.Union, types.UnionType)

# Hamilton's check_input_type lets any sequence stand for a generic list, tuple or Sequence,
# and any iterable for a generic set or Iterable (it then tests the first item; we do not).
_SEQUENCES: tuple[type, ...] = (list, tuple, Sequence)
_WIDENED: dict[Any, tuple[type, ...]] = {
    list: _SEQUENCES,
    tuple: _SEQUENCES,
    Sequence: _SEQUENCES,
    set: (Iterable,),
    Iterable: (Iterable,),
}


def _is_anything(tp: Any) -> bool:
    return tp is Any or isinstance(tp, TypeVar)


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
    """Whether a node returning ``produced`` may feed a parameter annotated ``required``.

    Hamilton's ``htypes.types_match``: ``Any``, equality, subclasses, a member of a
    ``Union``/``Optional``, and generics whose origins are subclasses (``list[int]`` feeds
    ``Sequence[int]``) and whose type arguments are equal when both sides give them
    (``list[bool]`` does not feed ``list[int]``). A little more lenient where Hamilton rejects
    code that is correct: a union feeds a wider union, ``Any`` and bare generics match inside
    type arguments, ``TypeVar``s match anything, and annotations it cannot reason about
    (``NewType``, ``Literal``, protocols) are trusted.
    """
    produced, required = _strip(produced), _strip(required)
    if _is_anything(produced) or _is_anything(required) or required is object:
        return True
    if produced == required:
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
    return all(_same_argument(p, r) for p, r in zip(p_args, r_args, strict=True))


def _same_argument(produced: Any, required: Any) -> bool:
    """Type arguments must agree exactly (generics are invariant, as in Hamilton)."""
    produced, required = _strip(produced), _strip(required)
    if _is_anything(produced) or _is_anything(required) or produced == required:
        return True
    if Ellipsis in (produced, required) or isinstance(produced, list | tuple):
        return True  # tuple[int, ...] and Callable[[int], int] argument lists: trusted
    if typing.get_origin(produced) in _UNION_TYPES or typing.get_origin(required) in _UNION_TYPES:
        return set(typing.get_args(produced)) == set(typing.get_args(required))
    p_cls, r_cls = _as_class(produced), _as_class(required)
    if p_cls is None or r_cls is None:
        return True
    if p_cls is not r_cls:
        return False
    p_args, r_args = typing.get_args(produced), typing.get_args(required)
    if not p_args or not r_args or len(p_args) != len(r_args):
        return True
    return all(_same_argument(p, r) for p, r in zip(p_args, r_args, strict=True))


ValueCheck = Callable[[Any], bool]


def value_check(annotation: Any) -> ValueCheck | None:
    """How an input value is tested against a parameter's annotation; ``None``: all values pass.

    Hamilton's ``htypes.check_input_type``: ``Any`` and ``TypeVar``s accept anything, a class is
    an ``isinstance`` test, a generic tests its container only (``list[int]`` accepts any list,
    and, as in Hamilton, any tuple; ``set[int]`` any iterable), a ``Union``/``Optional`` accepts
    any member, a ``Literal`` its values. (``None`` is accepted everywhere by the caller, as in
    Hamilton.) Every value Hamilton accepts passes; more lenient where Hamilton rejects correct
    values or has side effects: ``Annotated`` is unwrapped, a ``NewType`` tests its supertype,
    other generics test ``isinstance`` of their origin (Hamilton rejects a dict for
    ``Mapping[str, int]``), items are never read (Hamilton reads the first item of an iterable,
    advancing a generator), and what ``isinstance`` cannot test (protocols that are not
    runtime-checkable) is trusted.
    """
    classes = _classes(annotation)
    if classes is not None:
        return None if object in classes else lambda value: isinstance(value, classes)
    tp = _strip(annotation)
    origin = typing.get_origin(tp)
    if origin in _UNION_TYPES:
        members = [value_check(a) for a in typing.get_args(tp)]
        if any(m is None for m in members):
            return None
        checks = tuple(m for m in members if m is not None)
        return lambda value: any(check(value) for check in checks)
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        return lambda value: value in allowed
    return None


def _classes(annotation: Any) -> tuple[type, ...] | None:
    """The classes an ``isinstance`` test needs, when that is all the annotation asks for."""
    tp = _strip(annotation)
    if _is_anything(tp) or tp in (Parallelizable, Collect):
        return (object,)
    supertype = getattr(tp, "__supertype__", None)
    if supertype is not None:  # NewType
        return _classes(supertype)
    origin = typing.get_origin(tp)
    if origin in _UNION_TYPES:
        members = [_classes(a) for a in typing.get_args(tp)]
        if any(m is None for m in members):
            return None
        return tuple(c for m in members if m is not None for c in m)
    cls = tp if origin is None else origin
    if cls in (Parallelizable, Collect):
        return (object,)
    if origin is not None and origin in _WIDENED:
        return _WIDENED[origin]
    if not isinstance(cls, type):
        return None if origin is typing.Literal else (object,)
    try:
        isinstance(None, cls)
    except TypeError:  # e.g. a Protocol that is not runtime-checkable
        return (object,)
    return (cls,)


def describe(tp: Any) -> str:
    """A short readable name for an annotation."""
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__qualname__
    return repr(tp).replace("typing.", "")


def check_input_types(nodes: Mapping[str, Node]) -> None:
    """Every function reading one input must annotate it with related types, as in Hamilton.

    Two annotations are related when one satisfies the other (``int`` and ``int | None``);
    the value given must then satisfy both, so ``int`` and ``str`` can never both hold.

    Raises:
        GraphError: names the input, both functions and both types.
    """
    first: dict[str, tuple[Node, Any]] = {}
    for node in nodes.values():
        for p in node.params:
            if p.name in nodes or p.collect:  # Collect of an input is analysis' error
                continue
            seen = first.get(p.name)
            if seen is None:
                first[p.name] = (node, p.annotation)
                continue
            other, annotation = seen
            if not (compatible(annotation, p.annotation) or compatible(p.annotation, annotation)):
                raise GraphError(
                    f"input {p.name!r} is read as {describe(annotation)} by {other.origin} and "
                    f"as {describe(p.annotation)} by {node.origin}; no value can be both. "
                    "Change one of the annotations so they agree.",
                    function=node.origin,
                    node=node.name,
                )


def check_edge_types(nodes: Mapping[str, Node]) -> None:
    """Every edge's producer annotation must satisfy the consumer's parameter annotation.

    Raises:
        GraphError: names the producer, the consumer, the parameter and both types.
    """
    for node in nodes.values():
        for p in node.params:
            dep = nodes.get(p.name)
            if dep is None:
                continue
            required = element_type(p.annotation) if p.collect else p.annotation
            # A @window function's readers get the list of its per-window results.
            produced = GenericAlias(list, (dep.item_type,)) if window_of(dep) else dep.item_type
            if not compatible(produced, required):
                raise GraphError(
                    f"type mismatch: {dep.origin} produces {p.name!r} as "
                    f"{describe(produced)}, but {node.origin} expects "
                    f"{p.name}: {describe(required)}. Change one of the annotations so they agree.",
                    function=node.origin,
                    node=node.name,
                )
