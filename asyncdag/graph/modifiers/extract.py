"""``@extract_fields`` and ``@extract_columns``: one node per field or column of a node's value.

As in Hamilton, the function's own node stays (under its name) and each field becomes a node
reading it, named after the field, with the field's type and the function's tags.
"""

from __future__ import annotations

import dataclasses
import importlib
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import GraphError
from ..node import Node, Param, origin_of
from ..types import compatible, describe
from .meta import ExtractColumns, ExtractFields, UnpackFields
from .wrap import wrap

_DICT_HELP = (
    "@extract_fields needs a function annotated to return a dict: `dict` with "
    "`extract_fields({'name': type, ...})`, `dict[str, V]` with a list of names, or a TypedDict."
)


def _field_types(fn: Callable[..., Any], returns: Any, spec: ExtractFields) -> dict[str, Any]:
    """Field name -> type, from the decorator and the return annotation (Hamilton's rules)."""
    where = origin_of(fn)
    fields = spec.fields
    origin = typing.get_origin(returns)
    if returns is dict or returns is typing.Dict:  # noqa: UP006 (the typing alias is a user's choice)
        if not isinstance(fields, Mapping):
            raise GraphError(
                f"{where} returns a bare `dict`, so @extract_fields needs the field types: "
                "pass {'name': type, ...}, or annotate the return as dict[str, V]."
            )
        resolved = dict(fields)
    elif origin is dict:
        args = typing.get_args(returns)
        if fields is None:
            raise GraphError(f"{where}: @extract_fields() needs the field names to extract.")
        resolved = dict(fields) if isinstance(fields, Mapping) else dict.fromkeys(fields, args[1])
    elif typing.is_typeddict(returns):
        declared = typing.get_type_hints(returns)
        chosen = list(declared) if fields is None else list(fields)
        unknown = [f for f in chosen if f not in declared]
        if unknown:
            raise GraphError(
                f"{where}: @extract_fields names {', '.join(map(repr, unknown))}, which the "
                f"TypedDict {returns.__qualname__} does not declare (it has {list(declared)})."
            )
        resolved = {f: declared[f] for f in chosen}
        if isinstance(fields, Mapping):
            for name, tp in fields.items():
                if not compatible(tp, declared[name]):
                    raise GraphError(
                        f"{where}: @extract_fields says field {name!r} is {describe(tp)}, but "
                        f"the TypedDict declares {describe(declared[name])}. Make them agree."
                    )
            resolved = dict(fields)
    else:
        raise GraphError(f"{where} returns {describe(returns)}. {_DICT_HELP}")
    if not resolved:
        raise GraphError(f"{where}: @extract_fields got no fields to extract.")
    bad = [f for f in resolved if not isinstance(f, str)]
    if bad:
        raise GraphError(f"{where}: @extract_fields field names must be strings, got {bad}.")
    return resolved


def _filler(fill_with: Any, keys: tuple[str, ...]) -> Callable[[Any], Any]:
    def fill(produced: Any) -> Any:
        for key in keys:
            if key not in produced:
                produced[key] = fill_with
        return produced

    return fill


def _getter(owner: str, key: str, what: str) -> Callable[..., Any]:
    def get(**kwargs: Any) -> Any:
        produced = kwargs[owner]
        if key not in produced:
            have = list(produced.keys()) if what == "field" else list(produced.columns)
            raise KeyError(
                f"node {owner!r} produced no {what} {key!r} (it has {have}); return it, or pass "
                f"fill_with=... to @extract_{what}s to fill missing {what}s."
            )
        return produced[key]

    return get


def _split(
    node: Node,
    fn: Callable[..., Any],
    parts: Mapping[str, tuple[Any, str | None]],
    fill_with: Any,
    what: str,
) -> list[Node]:
    """The owner node (filling missing parts if asked) and one node per part."""
    owner = node
    if fill_with is not None:
        filled = wrap(
            node.fn,
            name=node.name,
            like=fn,
            doc=fn.__doc__,
            after=_filler(fill_with, tuple(parts)),
        )
        owner = dataclasses.replace(node, fn=filled)
    out = [owner]
    for key, (tp, doc) in parts.items():
        getter = wrap(_getter(node.name, key, what), name=key, like=fn, doc=doc or fn.__doc__)
        out.append(_reader(node, key, getter, tp))
    return out


def _reader(node: Node, name: str, getter: Callable[..., Any], returns: Any) -> Node:
    """Node ``name``: ``getter`` of ``node``'s value (a field, a column, an item), with its tags."""
    return Node(
        name=name,
        fn=getter,
        params=(Param(node.name, node.returns, False, False),),
        returns=returns,
        is_async=False,
        expands=False,
        tags=dict(node.tags),
    )


def extract_fields(node: Node, fn: Callable[..., Any], spec: ExtractFields) -> list[Node]:
    """The dict node and one node per extracted field."""
    types = _field_types(fn, node.returns, spec)
    return _split(node, fn, {k: (tp, None) for k, tp in types.items()}, spec.fill_with, "field")


def extract_columns(node: Node, fn: Callable[..., Any], spec: ExtractColumns) -> list[Node]:
    """The DataFrame node and one ``pd.Series`` node per extracted column."""
    pandas = importlib.import_module("pandas")  # @extract_columns checked it is installed
    if not (isinstance(node.returns, type) and issubclass(node.returns, pandas.DataFrame)):
        raise GraphError(
            f"{origin_of(fn)} returns {describe(node.returns)}, but "
            "@extract_columns needs a function annotated to return a pandas.DataFrame."
        )
    parts = {name: (pandas.Series, doc) for name, doc in spec.columns}
    return _split(node, fn, parts, spec.fill_with, "column")


def _tuple_types(fn: Callable[..., Any], returns: Any, fields: tuple[str, ...]) -> list[Any]:
    """The type of each unpacked field, from a ``tuple[...]`` return annotation (Hamilton's)."""
    where = origin_of(fn)
    if typing.get_origin(returns) is not tuple:
        raise GraphError(
            f"{where} returns {describe(returns)}, but @unpack_fields needs a function annotated "
            "to return an explicit-length tuple (tuple[int, str]) or an indeterminate-length "
            "one (tuple[int, ...])."
        )
    args = typing.get_args(returns)
    if Ellipsis in args:
        if len(args) != 2 or args[1] is not Ellipsis:
            raise GraphError(
                f"{where} returns {describe(returns)}: an ellipsis ('...') may only be the "
                "second of two tuple arguments, as in tuple[int, ...]."
            )
        args = (args[0],) * len(fields)
    if len(args) < len(fields):
        raise GraphError(
            f"@unpack_fields on {where} unpacks {len(fields)} fields, but its return type "
            f"{describe(returns)} has only {len(args)}."
        )
    return list(args[: len(fields)])


def _item(owner: str, index: int, field: str) -> Callable[..., Any]:
    def get(**kwargs: Any) -> Any:
        produced = kwargs[owner]
        if index >= len(produced):
            raise IndexError(
                f"node {owner!r} returned {len(produced)} items, so it has no field {field!r} "
                f"(item {index}) for @unpack_fields. Return all the fields it unpacks."
            )
        return produced[index]

    return get


def unpack_fields(node: Node, fn: Callable[..., Any], spec: UnpackFields) -> list[Node]:
    """The tuple node and one node per unpacked field (its leading items, in order)."""
    if not spec.fields:
        raise GraphError(f"@unpack_fields on {origin_of(fn)} names no fields to unpack.")
    types = _tuple_types(fn, node.returns, spec.fields)
    out = [node]
    for index, (name, tp) in enumerate(zip(spec.fields, types, strict=True)):
        getter = wrap(_item(node.name, index, name), name=name, like=fn, doc=fn.__doc__)
        out.append(_reader(node, name, getter, tp))
    return out
