"""Hamilton's ``function_modifiers.configuration``: ``@config`` and its ``.when*`` forms."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from ..graph.modifiers.meta import (
    Condition,
    ConfigResolver,
    record,
)
from .base import _F

__all__ = ["config", "hamilton_exclude"]


class config:
    """Include a function only for some configurations: ``@config.when(mode="fast")``.

    Alternative implementations of one node are named ``name__suffix``: the node is the part
    before the last ``__``, or ``name`` when given (``@config.when(name="x", mode="fast")``).
    """

    def __init__(
        self,
        resolves: Callable[[dict[str, Any]], bool],
        target_name: str | None = None,
        config_used: list[str] | None = None,
    ) -> None:
        """``@config(resolves)``: include the function when ``resolves(config)`` is true.

        As in Hamilton, ``resolves`` sees the whole config, or only ``config_used`` keys;
        ``target_name`` names the node (else the name before the last ``__``).
        """
        if not callable(resolves):
            raise TypeError(f"@config(resolves) needs a callable of the config, not {resolves!r}")
        self._resolver = ConfigResolver(
            resolves, None if config_used is None else tuple(config_used)
        )
        self._target_name = target_name

    def __call__(self, fn: _F) -> _F:
        modifiers = record(fn)
        modifiers.conditions.append(self._resolver)
        if self._target_name is not None:
            modifiers.name = self._target_name
        return fn

    @staticmethod
    def _condition(
        kind: str, expected: Mapping[str, Any], name: str | None = None
    ) -> Callable[[_F], _F]:
        if not expected:
            raise TypeError(f"@config.{kind}() needs at least one key=value")

        def decorate(fn: _F) -> _F:
            modifiers = record(fn)
            modifiers.conditions.append(Condition(kind, dict(expected)))
            if name is not None:
                modifiers.name = name
            return fn

        return decorate

    @staticmethod
    def when(name: str | None = None, **key_value_pairs: Any) -> Callable[[_F], _F]:
        """Include the function when every ``key`` in the config equals its value."""
        return config._condition("when", key_value_pairs, name)

    @staticmethod
    def when_not(name: str | None = None, **key_value_pairs: Any) -> Callable[[_F], _F]:
        """Include the function when every ``key`` in the config differs from its value."""
        return config._condition("when_not", key_value_pairs, name)

    @staticmethod
    def when_in(name: str | None = None, **key_value_lists: Collection[Any]) -> Callable[[_F], _F]:
        """Include the function when every ``key`` in the config is one of its values."""
        return config._condition("when_in", key_value_lists, name)

    @staticmethod
    def when_not_in(**key_value_lists: Collection[Any]) -> Callable[[_F], _F]:
        """Include the function when no ``key`` in the config is one of its values."""
        return config._condition("when_not_in", key_value_lists)


class _Exclude:
    """``@hamilton_exclude``: the function is not a node (a helper, or a ``step``'s function)."""

    def __call__(self, fn: _F) -> _F:
        record(fn).excluded = True
        return fn

    def __repr__(self) -> str:
        return "hamilton_exclude"


hamilton_exclude = _Exclude()
"""Hamilton's ``@hamilton_exclude`` (an instance, as there): leave the function out of the DAG,
as a name starting with ``_`` does."""
