"""Hamilton's ``DefaultExecutionManager``: which executor a kind of task runs on."""

from __future__ import annotations

from ..grouping import NodeGroupPurpose, TaskImplementation
from .base import Executor
from .inline import InlineExecutor
from .process import ProcessExecutor


class DefaultExecutionManager:
    """Branches of parallel blocks on ``remote_executor``, everything else on ``local_executor``.

    That is asyncdag's rule too; ``Builder.with_execution_manager(manager)`` is the same as
    ``with_local_executor(manager.local_executor)`` plus ``with_remote_executor(...)``. The
    defaults are Hamilton's: inline locally, ``ProcessExecutor(max_tasks=5)`` remotely.
    """

    def __init__(
        self, local_executor: Executor | None = None, remote_executor: Executor | None = None
    ) -> None:
        self.local_executor = local_executor or InlineExecutor()
        self.remote_executor = remote_executor or ProcessExecutor(max_tasks=5)
        self.executors = [self.local_executor, self.remote_executor]

    def get_executor_for_task(self, task: TaskImplementation) -> Executor:
        """The remote executor for an ``EXECUTE_BLOCK`` task (a branch), else the local one."""
        if task.purpose is NodeGroupPurpose.EXECUTE_BLOCK:
            return self.remote_executor
        return self.local_executor
