"""What ``Driver.stream`` yields: one ``Event`` per finished node, branch and block."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Event", "EventKind"]

EventKind = Literal["node", "branch", "block", "error", "done"]


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened in a run, in the order it happened.

    ``kind`` is ``"node"`` (a node finished; ``value`` is its result), ``"branch"`` (a branch
    of a block finished), ``"block"`` (a block closed; ``value`` is its number of branches),
    ``"error"`` (a skipped branch's exception) or ``"done"`` (last; ``value`` is the result).
    ``node`` names the node (the expander, for branches and blocks; ``None`` for ``"done"``)
    and ``index`` is the branch index path, outermost first, ``()`` outside blocks.
    """

    kind: EventKind
    node: str | None
    index: tuple[int, ...]
    value: Any
