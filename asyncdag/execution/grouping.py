"""Hamilton's grouping strategies, accepted by ``Builder.with_grouping_strategy``.

Hamilton groups nodes into tasks and lets the strategy choose how. asyncdag's unit of work is
fixed: a node call outside parallel blocks, and one whole branch per item inside a block
(every node between the ``Parallelizable`` and its ``Collect``, shipped as one unit to the
remote executor). So every strategy is accepted and changes nothing.
"""

from __future__ import annotations

__all__ = [
    "GroupByRepeatableBlocks",
    "GroupNodesAllAsOne",
    "GroupNodesByLevel",
    "GroupNodesIndividually",
]


class _GroupingStrategy:
    """Base of the strategies ``with_grouping_strategy`` accepts."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class GroupByRepeatableBlocks(_GroupingStrategy):
    """Hamilton's default: a parallel block's branch is one task. asyncdag always does this."""


class GroupNodesIndividually(_GroupingStrategy):
    """Hamilton: one task per node. Accepted; asyncdag still runs a branch as one unit."""


class GroupNodesAllAsOne(_GroupingStrategy):
    """Hamilton: the whole graph as one task. Accepted; it changes nothing in asyncdag."""


class GroupNodesByLevel(_GroupingStrategy):
    """Hamilton: one task per topological level. Accepted; it changes nothing in asyncdag."""
