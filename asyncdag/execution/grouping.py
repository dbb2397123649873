"""Hamilton's grouping strategies, accepted by ``Builder.with_grouping_strategy``.

Hamilton groups nodes into tasks and lets the strategy choose how. asyncdag's unit of work is
fixed: a node call outside parallel blocks, and one whole branch per item inside a block
(every node between the ``Parallelizable`` and its ``Collect``, shipped as one unit to the
remote executor). So a strategy is accepted and changes nothing; both below describe what
asyncdag does anyway for the blocks Hamilton ports use.
"""

from __future__ import annotations

__all__ = ["GroupByRepeatableBlocks", "GroupNodesIndividually"]


class _GroupingStrategy:
    """Base of the strategies ``with_grouping_strategy`` accepts."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class GroupByRepeatableBlocks(_GroupingStrategy):
    """Hamilton's default: a parallel block's branch is one task. asyncdag always does this."""


class GroupNodesIndividually(_GroupingStrategy):
    """Hamilton: one task per node. Accepted; asyncdag still runs a branch as one unit."""
