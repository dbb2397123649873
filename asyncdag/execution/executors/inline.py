"""Run sync work directly on the event loop thread (Hamilton's default)."""

from __future__ import annotations

from typing import Any, ClassVar

from .base import Executor, Unit, check_max_tasks


class InlineExecutor(Executor):
    """Call sync nodes in place, on the loop thread.

    This blocks the event loop while a node runs; asyncdag hands control back to the loop
    every few milliseconds between branches. Use ``ThreadExecutor`` or ``ProcessExecutor``
    for slow sync nodes. ``max_tasks`` bounds branches in flight when they hold async nodes.
    """

    runs_inline: ClassVar[bool] = True

    def __init__(self, max_tasks: int | None = None) -> None:
        self.max_tasks = check_max_tasks(max_tasks)

    async def submit(self, unit: Unit) -> Any:
        return unit()


SynchronousLocalTaskExecutor = InlineExecutor
