"""Hamilton's grouping strategies, accepted by ``Builder.with_grouping_strategy``.

Hamilton groups nodes into tasks and lets the strategy choose how. asyncdag's unit of work is
fixed: a node call outside parallel blocks, and one whole branch per item inside a block
(every node between the ``Parallelizable`` and its ``Collect``, shipped as one unit to the
remote executor). So every strategy is accepted and changes nothing.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "GroupByRepeatableBlocks",
    "GroupNodesAllAsOne",
    "GroupNodesByLevel",
    "GroupNodesIndividually",
    "NodeGroupPurpose",
    "TaskImplementation",
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


class NodeGroupPurpose(enum.Enum):
    """What a unit of work does (Hamilton's names); only ``EXECUTE_BLOCK`` runs remotely.

    In asyncdag an ``EXECUTE_BLOCK`` unit is one branch of a parallel block; a node outside
    blocks (``EXECUTE_SINGLE``), a ``Parallelizable`` (``EXPAND_UNORDERED``) and a
    ``Collect`` (``GATHER``) run on the local executor.
    """

    EXPAND_UNORDERED = "expand_unordered"
    GATHER = "gather"
    EXECUTE_BLOCK = "execute_block"
    EXECUTE_SINGLE = "execute_single"

    def is_expander(self) -> bool:
        return self is NodeGroupPurpose.EXPAND_UNORDERED

    def is_gatherer(self) -> bool:
        return self is NodeGroupPurpose.GATHER


@dataclass(eq=False)
class TaskImplementation:
    """Hamilton's description of one task, as ``DefaultExecutionManager`` reads it.

    asyncdag's scheduler does not make these: build one to ask an execution manager which
    executor a kind of task runs on. ``task_id`` joins the spawning task, group and base ids.
    """

    base_id: str
    spawning_task_base_id: str | None
    nodes: Sequence[Any]
    purpose: NodeGroupPurpose
    outputs_to_compute: Collection[str]
    overrides: Mapping[str, Any]
    adapter: Any
    base_dependencies: Sequence[str]
    group_id: str | None
    realized_dependencies: Mapping[str, Sequence[str]]
    spawning_task_id: str | None
    dynamic_inputs: Mapping[str, Any] = field(default_factory=dict)
    run_id: str = ""
    task_id: str = field(init=False)

    def __post_init__(self) -> None:
        parts = (self.spawning_task_id, self.group_id, self.base_id)
        self.task_id = ".".join(p for p in parts if p is not None)

    def __hash__(self) -> int:
        return hash(self.task_id)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TaskImplementation) and other.task_id == self.task_id
