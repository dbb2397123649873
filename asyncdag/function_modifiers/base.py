"""Hamilton's ``function_modifiers.base``: ``InvalidDecoratorException``, and what the
decorators of this package share.

asyncdag's decorators record metadata on the function (``asyncdag.graph.modifiers``), so
Hamilton's decorator base classes exist here only to say so.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from types import EllipsisType
from typing import Any, NoReturn, TypeVar

from ..errors import GraphError
from ..graph.modifiers.meta import Target
from ..graph.modifiers.subdag import NON_FINAL_TAG

__all__ = ["InvalidDecoratorException", "NodeTransformer"]

_F = TypeVar("_F", bound=Callable[..., Any])
_TargetArg = str | Collection[str] | EllipsisType | None

InvalidDecoratorException = GraphError
"""Hamilton's name for a decorator that does not fit its function: the same class."""


def _no_subclassing(name: str) -> NoReturn:
    raise TypeError(
        f"asyncdag has no {name} to build decorators on: its function modifiers record "
        "metadata that the graph builder reads. Compose the existing modifiers (@pipe_output, "
        "@does, @subdag, @resolve...) instead."
    )


class NodeTransformer:
    """Hamilton's base of node-transforming decorators; only its tag names are used here.

    ``NON_FINAL_TAG`` marks the nodes of a ``@subdag`` (``True``), as in Hamilton.
    """

    NON_FINAL_TAG = NON_FINAL_TAG

    def __init_subclass__(cls, **kwargs: Any) -> None:
        _no_subclassing("NodeTransformer")

    def __init__(self) -> None:
        _no_subclassing("NodeTransformer")


def _target(target: _TargetArg) -> Target:
    if target is None or target is Ellipsis or isinstance(target, str):
        return target
    if isinstance(target, Collection) and all(isinstance(t, str) for t in target):
        return tuple(target)
    raise TypeError(f"target_ must be None, ..., a node name or a list of names, not {target!r}")
