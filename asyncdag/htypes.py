"""Type markers for dynamic fan-out (``Parallelizable``) and fan-in (``Collect``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, TypeVar

__all__ = ["Collect", "Parallelizable"]

_T_co = TypeVar("_T_co", covariant=True)


class Parallelizable(Iterable[_T_co], Protocol[_T_co]):
    """Return annotation of a node whose items each start a branch of the block below it.

    The node may be a sync generator, an async generator, or return any iterable.
    """


class Collect(Iterable[_T_co], Protocol[_T_co]):
    """Parameter annotation that gathers a block's branch values as a list, in yield order."""
