"""A batch of branches shipped whole to another process, and how it runs there."""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..graph.plan import Frame
from .paths import Path, format_path

Rows = list[tuple[Any, ...]]
BranchRunner = Callable[
    [Frame, str, Mapping[str, Any], tuple[tuple[int, Any], ...], tuple[str, ...], Path, bool],
    Coroutine[Any, Any, Rows],
]


@dataclass(frozen=True, slots=True)
class BranchBatch:
    """Branches of one block for a few items: the branch frame, the outer values, the items.

    Outer values are carried once per batch, not once per node. Calling it returns a
    coroutine that runs the branches on the worker's loop, every node in place there (the
    planner planned the frame for the worker), and
    returns one row of produced values per item.
    """

    node: str  # the expander
    frame: Frame
    outer: Mapping[str, Any]
    items: tuple[tuple[int, Any], ...]  # (index, item)
    produces: tuple[str, ...]
    path: Path  # the enclosing branch path
    runner: BranchRunner  # ``scheduler.run_branches``, given, so this module needs no scheduler
    skip: bool = False  # @on_branch_error("skip"): a failed branch's row is a BranchFailed
    abandon_on_cancel: bool = False  # the block has a @timeout node: its worker is replaced

    @property
    def branch(self) -> str:
        indexes = [index for index, _ in self.items]
        here = f"{self.node}[{indexes[0]}]" if len(indexes) == 1 else f"{self.node}{indexes}"
        return ".".join(filter(None, [format_path(self.path), here]))

    def __call__(self) -> Coroutine[Any, Any, Rows]:
        return self.runner(
            self.frame, self.node, self.outer, self.items, self.produces, self.path, self.skip
        )

    def shared(self) -> tuple[object, ...]:
        # The same for every batch of the block: each travels once per worker, which keeps
        # it. The outer values' dict is made afresh for each block run: never stale.
        return (self.frame, self.outer) if self.outer else (self.frame,)

    def parts(self) -> Iterable[tuple[str, str, Any]]:
        yield from frame_parts(self.frame, self.outer, self.node)
        for index, item in self.items:
            yield self.node, f"item {index}", item

    def result_parts(self, result: Any) -> Iterable[tuple[str, str, Any]]:
        for (index, _), row in zip(self.items, result, strict=True):
            for name, value in zip(self.produces, row, strict=True):
                yield name, f"the return value in branch {self.node}[{index}]", value


def frame_parts(
    frame: Frame, outer: Mapping[str, Any], expander: str
) -> Iterable[tuple[str, str, Any]]:
    """A shipped block's functions and outer values, named for pickling errors."""
    for step in frame.steps:
        yield step.node.name, "the function", step.node.fn
    for name, value in outer.items():
        yield name, f"its value, read by branches of {expander!r}", value
