"""Decorators that shape how functions become nodes (Hamilton's function modifiers).

They only record metadata on the function; ``asyncdag.graph`` resolves it at build time.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from .graph.meta import Condition, record

__all__ = ["config", "tag"]

_F = TypeVar("_F", bound=Callable[..., Any])


class config:
    """Include a function only for some configurations: ``@config.when(mode="fast")``.

    Alternative implementations of one node are named ``name__suffix``; the node is ``name``.
    """

    @staticmethod
    def _condition(kind: str, expected: Mapping[str, Any]) -> Callable[[_F], _F]:
        if not expected:
            raise TypeError(f"@config.{kind}() needs at least one key=value")

        def decorate(fn: _F) -> _F:
            record(fn).conditions.append(Condition(kind, dict(expected)))
            return fn

        return decorate

    @staticmethod
    def when(**key_value_pairs: Any) -> Callable[[_F], _F]:
        """Include the function when every ``key`` in the config equals its value."""
        return config._condition("when", key_value_pairs)

    @staticmethod
    def when_not(**key_value_pairs: Any) -> Callable[[_F], _F]:
        """Include the function when every ``key`` in the config differs from its value."""
        return config._condition("when_not", key_value_pairs)

    @staticmethod
    def when_in(**key_value_lists: Collection[Any]) -> Callable[[_F], _F]:
        """Include the function when every ``key`` in the config is one of its values."""
        return config._condition("when_in", key_value_lists)

    @staticmethod
    def when_not_in(**key_value_lists: Collection[Any]) -> Callable[[_F], _F]:
        """Include the function when no ``key`` in the config is one of its values."""
        return config._condition("when_not_in", key_value_lists)


def tag(**tags: Any) -> Callable[[_F], _F]:
    """Attach metadata to a node: ``@tag(owner="data-team", executor="cpu")``.

    The ``executor`` tag routes a sync node to an executor named with ``Builder.with_executor``.
    """

    def decorate(fn: _F) -> _F:
        record(fn).tags.update(tags)
        return fn

    return decorate
