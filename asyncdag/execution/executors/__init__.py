"""Where sync nodes run: inline on the loop, on threads, or processes and clusters."""

from .base import Executor as Executor
from .dask import DaskExecutor as DaskExecutor
from .inline import InlineExecutor as InlineExecutor
from .inline import SynchronousLocalTaskExecutor as SynchronousLocalTaskExecutor
from .manager import DefaultExecutionManager as DefaultExecutionManager
from .process import MultiProcessingExecutor as MultiProcessingExecutor
from .process import ProcessExecutor as ProcessExecutor
from .ray import RayExecutor as RayExecutor
from .thread import MultiThreadingExecutor as MultiThreadingExecutor
from .thread import ThreadExecutor as ThreadExecutor

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
    "DefaultExecutionManager",
]
