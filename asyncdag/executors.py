"""Alias of :mod:`asyncdag.execution.executors`: ``from asyncdag import executors``."""

from .execution.executors import DaskExecutor as DaskExecutor
from .execution.executors import Executor as Executor
from .execution.executors import InlineExecutor as InlineExecutor
from .execution.executors import MultiProcessingExecutor as MultiProcessingExecutor
from .execution.executors import MultiThreadingExecutor as MultiThreadingExecutor
from .execution.executors import ProcessExecutor as ProcessExecutor
from .execution.executors import RayExecutor as RayExecutor
from .execution.executors import SynchronousLocalTaskExecutor as SynchronousLocalTaskExecutor
from .execution.executors import ThreadExecutor as ThreadExecutor

__all__ = [
    "Executor",
    "MultiProcessingExecutor",
    "ProcessExecutor",
    "InlineExecutor",
    "MultiThreadingExecutor",
    "SynchronousLocalTaskExecutor",
    "ThreadExecutor",
    "DaskExecutor",
    "RayExecutor",
]
