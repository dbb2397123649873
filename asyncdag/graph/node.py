"""A node: one function, its parameters (dependencies) and what it returns."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import GraphError
from ..htypes import Collect, Parallelizable
from .modifiers.meta import Policy


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a node function; its name is the name of the node it depends on."""

    name: str
    annotation: Any
    optional: bool
    collect: bool


@dataclass(frozen=True, slots=True)
class Node:
    """A function turned into a node of the DAG."""

    name: str
    fn: Callable[..., Any]
    params: tuple[Param, ...]
    returns: Any
    is_async: bool
    expands: bool
    tags: Mapping[str, Any] = field(default_factory=dict)
    policy: Policy | None = None  # @timeout / @retry

    @property
    def origin(self) -> str:
        """``module.function`` where the node was defined, for messages."""
        return origin_of(self.fn)

    @property
    def item_type(self) -> Any:
        """The type a branch sees for this node: ``T`` of ``Parallelizable[T]``, else the return."""
        return element_type(self.returns) if self.expands else self.returns

    @property
    def is_generator(self) -> bool:
        return inspect.isgeneratorfunction(self.fn)

    @property
    def is_async_generator(self) -> bool:
        return inspect.isasyncgenfunction(self.fn)

    @classmethod
    def from_fn(cls, name: str, fn: Callable[..., Any], tags: Mapping[str, Any]) -> Node:
        """Read a node off ``fn``'s signature and annotations."""
        try:
            hints = typing.get_type_hints(fn, include_extras=True)
        except Exception:  # unresolvable forward references: fall back to the raw annotations
            hints = dict(getattr(fn, "__annotations__", {}))
        params = []
        for p in inspect.signature(fn).parameters.values():
            if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                raise GraphError(
                    f"function {origin_of(fn)} has parameter {p.name!r} "
                    f"of kind {p.kind.description}; asyncdag passes dependencies by name, so use "
                    "plain named parameters.",
                    function=origin_of(fn),
                    node=name,
                )
            annotation = hints.get(p.name, Any)
            params.append(
                Param(p.name, annotation, p.default is not p.empty, is_collect(annotation))
            )
        returns = hints.get("return", Any)
        return cls(
            name=name,
            fn=fn,
            params=tuple(params),
            returns=returns,
            is_async=inspect.iscoroutinefunction(fn),
            expands=is_parallelizable(returns),
            tags=dict(tags),
        )


def origin_of(fn: Callable[..., Any]) -> str:
    """``module.qualname`` of the function a user wrote, as messages and errors name it."""
    module = getattr(fn, "__module__", None) or "?"
    return f"{module}.{getattr(fn, '__qualname__', None) or repr(fn)}"


def _origin(annotation: Any) -> Any:
    return typing.get_origin(annotation) or annotation


def is_parallelizable(annotation: Any) -> bool:
    """Whether ``annotation`` is ``Parallelizable`` or ``Parallelizable[T]``."""
    return _origin(annotation) is Parallelizable


def is_collect(annotation: Any) -> bool:
    """Whether ``annotation`` is ``Collect`` or ``Collect[T]``."""
    return _origin(annotation) is Collect


def element_type(annotation: Any) -> Any:
    """The ``T`` of ``Parallelizable[T]`` / ``Collect[T]``, or ``Any`` when not given."""
    args = typing.get_args(annotation)
    return args[0] if args else Any
