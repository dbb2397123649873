"""What ``@window`` and ``@on_branch_error`` record on a function, read by the planner.

They live on the function itself (an attribute ``functools.wraps`` carries along), so the
graph builder needs no new stage: the planner asks each node's function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..node import Node

_WINDOW = "__asyncdag_window__"
_ON_ERROR = "__asyncdag_on_branch_error__"


@dataclass(frozen=True, slots=True)
class Window:
    """``@window(size, seconds)``: close a window at ``size`` branches or ``seconds`` after its
    first item, whichever comes first."""

    size: int | None
    seconds: float | None


@dataclass(frozen=True, slots=True)
class OnBranchError:
    """``@on_branch_error(policy, max_failures)`` on a Parallelizable: ``"skip"`` or ``"raise"``."""

    policy: str
    max_failures: int | None


def set_window(fn: Callable[..., Any], spec: Window) -> None:
    setattr(fn, _WINDOW, spec)


def set_on_error(fn: Callable[..., Any], spec: OnBranchError) -> None:
    setattr(fn, _ON_ERROR, spec)


def window_of(node: Node) -> Window | None:
    """The ``@window`` of ``node``'s function, if any."""
    found = getattr(node.fn, _WINDOW, None)
    return found if isinstance(found, Window) else None


def skipping(node: Node) -> OnBranchError | None:
    """The ``@on_branch_error("skip")`` policy of expander ``node``; None: fail fast."""
    found = getattr(node.fn, _ON_ERROR, None)
    return found if isinstance(found, OnBranchError) and found.policy == "skip" else None
