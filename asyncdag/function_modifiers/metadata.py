"""Hamilton's ``function_modifiers.metadata``: ``@tag``, ``@tag_outputs`` and ``@cache``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..graph.modifiers.meta import (
    SchemaOutput,
    Tagging,
    TagOutputs,
    record,
)
from .base import _F, _target, _TargetArg

__all__ = ["cache", "schema", "tag", "tag_outputs"]


def tag(
    *, target_: _TargetArg = None, bypass_reserved_namespaces_: bool = False, **tags: Any
) -> Callable[[_F], _F]:
    """Attach metadata to a node: ``@tag(owner="data-team", executor="cpu")``.

    The ``executor`` tag routes a sync node to an executor named with ``Builder.with_executor``.
    When the function makes several nodes (``@extract_fields``...), the tags go to the final
    ones, as in Hamilton; ``target_=...`` tags them all, ``target_="name"`` one of them.
    """
    target = _target(target_)

    def decorate(fn: _F) -> _F:
        record(fn).decorations.append(Tagging(dict(tags), target))
        return fn

    return decorate


def tag_outputs(**tags_by_node: Mapping[str, Any]) -> Callable[[_F], _F]:
    """Tag each named node the function makes: ``@tag_outputs(a={"k": "v"}, b={...})``."""

    def decorate(fn: _F) -> _F:
        record(fn).decorations.append(TagOutputs({k: dict(v) for k, v in tags_by_node.items()}))
        return fn

    return decorate


def cache(
    *, behavior: str | None = None, format: str | None = None, target_: _TargetArg = ...
) -> Callable[[_F], _F]:
    """Hamilton's ``@cache``: a node's caching ``behavior`` and the ``format`` of its stored result.

    ``behavior`` is ``"default"``, ``"recompute"`` (always run; downstream still hits while
    the value is unchanged), ``"disable"`` (as without a cache) or ``"ignore"`` (as disable,
    and left out of downstream keys); ``Builder.with_cache(...)``'s lists take precedence.
    ``format`` is ``"pickle"`` (the default), ``"json"``, ``"parquet"`` or ``"csv"``
    (pandas). Only ``Builder.with_cache()`` turns caching on.

    Raises:
        ValueError: an unknown behavior or format.
    """
    from ..caching.adapter import BEHAVIOR_KEY, FORMAT_KEY, CachingBehavior
    from ..caching.store import FORMATS

    tags: dict[str, str] = {}
    if behavior:
        CachingBehavior.from_string(behavior)
        tags[BEHAVIOR_KEY] = behavior
    if format:
        if format not in FORMATS:
            raise ValueError(f"@cache format must be one of {list(FORMATS)}, not {format!r}")
        tags[FORMAT_KEY] = format
    target = _target(target_)

    def decorate(fn: _F) -> _F:
        record(fn).decorations.append(Tagging(tags, target))
        return fn

    return decorate


class schema:
    """Hamilton's ``@schema.output(("a", "int"), ("b", "float"))``: the columns a data frame
    node returns, as its tag ``hamilton.internal.schema_output`` (``"a=int,b=float"``)."""

    INTERNAL_SCHEMA_OUTPUT_KEY = "hamilton.internal.schema_output"

    @staticmethod
    def output(*fields: tuple[str, str], target_: str | None = None) -> Callable[[_F], _F]:
        """Tag the function's final node (or ``target_``), which must return a data frame.

        Raises:
            TypeError: a field is not a ``(name, type name)`` pair of strings.
        """
        bad = [f for f in fields if not (isinstance(f, tuple) and len(f) == 2)]
        if not fields or bad or not all(isinstance(x, str) for f in fields for x in f):
            raise TypeError(
                f"@schema.output takes (name, type) pairs of strings, such as ('a', 'int'); "
                f"got {fields!r}"
            )
        value = ",".join(f"{key}={kind}" for key, kind in fields)
        spec = SchemaOutput({schema.INTERNAL_SCHEMA_OUTPUT_KEY: value}, target_)

        def decorate(fn: _F) -> _F:
            record(fn).decorations.append(spec)
            return fn

        return decorate
