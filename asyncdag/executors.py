"""Alias of :mod:`asyncdag.execution.executors`: ``from asyncdag import executors``."""

from .execution.executors import Executor as Executor
from .execution.executors import InlineExecutor as InlineExecutor
from .execution.executors import MultiThreadingExecutor as MultiThreadingExecutor
from .execution.executors import SynchronousLocalTaskExecutor as SynchronousLocalTaskExecutor
from .execution.executors import ThreadExecutor as ThreadExecutor

__all__ = [
    "Executor",
    "InlineExecutor",
    "MultiThreadingExecutor",
    "SynchronousLocalTaskExecutor",
    "ThreadExecutor",
]
