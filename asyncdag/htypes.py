"""Type markers for dynamic fan-out (``Parallelizable``) and fan-in (``Collect``)."""

from __future__ import annotations

import typing
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

__all__ = ["Collect", "Parallelizable"]

_T_co = TypeVar("_T_co", covariant=True)


class Parallelizable(Iterable[_T_co], Protocol[_T_co]):
    """Return annotation of a node whose items each start a branch of the block below it.

    The node may be a sync generator, an async generator, or return any iterable.
    """


class Collect(Iterable[_T_co], Protocol[_T_co]):
    """Parameter annotation that gathers a block's branch values as a list, in yield order."""


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
