"""Hamilton's ``function_modifiers.dependencies``: what a decorator binds a parameter to.

``value(x)`` a fixed value, ``source("name")`` another node or input, ``group(...)`` a list or
dict of those (in ``@parameterize``/``@inject``), ``configuration("key")`` a key of the outer
config (in ``@subdag(config=...)``).
"""

from __future__ import annotations

from typing import Any

from ..errors import GraphError
from ..graph.modifiers.meta import ConfigDependency as ConfigDependency
from ..graph.modifiers.meta import Dependency, GroupedDependency
from ..graph.modifiers.meta import GroupedDictDependency as GroupedDictDependency
from ..graph.modifiers.meta import GroupedListDependency as GroupedListDependency
from ..graph.modifiers.meta import LiteralDependency as LiteralDependency
from ..graph.modifiers.meta import UpstreamDependency as UpstreamDependency

__all__ = [
    "ConfigDependency",
    "GroupedDictDependency",
    "GroupedListDependency",
    "LiteralDependency",
    "UpstreamDependency",
    "configuration",
    "group",
    "source",
    "value",
]


def value(literal_value: Any) -> LiteralDependency:
    """Bind a parameter to this fixed value."""
    if isinstance(literal_value, LiteralDependency):
        return literal_value
    return LiteralDependency(literal_value)


def source(dependency_on: str | UpstreamDependency) -> UpstreamDependency:
    """Read a parameter from the node or input of this name."""
    if isinstance(dependency_on, UpstreamDependency):
        return dependency_on
    return UpstreamDependency(dependency_on)


def configuration(dependency_on: str) -> ConfigDependency:
    """In ``@subdag(config=...)``: the value the outer config has for key ``dependency_on``."""
    return ConfigDependency(dependency_on)


def group(*dependency_args: Dependency, **dependency_kwargs: Dependency) -> GroupedDependency:
    """A ``list`` (positional) or ``dict`` (keyword) parameter of several ``source``/``value``.

    ``@inject(parts=group(source("a"), value(1)))`` on ``def f(parts: list[int])`` passes
    ``[a, 1]``; the parameter must be annotated ``list[T]`` (``dict[str, T]`` for keywords).

    Raises:
        GraphError: (Hamilton's ``InvalidDecoratorException``) both or neither kind of
            argument, or a member that is not ``source(...)``/``value(...)``.
    """
    if dependency_args and dependency_kwargs:
        raise GraphError(
            "group() can either represent a dictionary or a list of dependencies, not both!"
        )
    if not dependency_args and not dependency_kwargs:
        raise GraphError(
            "Either dependency_args or dependency_kwargs must be non-empty for group()!"
        )
    members = [*dependency_args, *dependency_kwargs.values()]
    for member in members:
        if not isinstance(member, LiteralDependency | UpstreamDependency):
            raise GraphError(
                f"Dependency: {member} is not a valid dependency type for group(), must be "
                "a LiteralDependency or UpstreamDependency (value(...) or source(...))."
            )
    if dependency_args:
        return GroupedListDependency(tuple(dependency_args))
    return GroupedDictDependency(dict(dependency_kwargs))
