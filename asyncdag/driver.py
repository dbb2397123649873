"""``Builder`` collects settings; ``Driver`` owns a built graph and runs it."""

from ._builder import Builder as Builder
from ._driver import Driver as Driver
from ._hamilton_driver import InvalidExecutorException as InvalidExecutorException
from ._hamilton_driver import TaskBasedGraphExecutor as TaskBasedGraphExecutor
from ._variables import Variable as Variable

__all__ = ["Builder", "Driver", "InvalidExecutorException", "TaskBasedGraphExecutor", "Variable"]
