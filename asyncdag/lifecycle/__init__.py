"""Watch a run (Hamilton's lifecycle hooks, a progress bar) or run past errors (graceful),
passed to ``with_adapters``."""

from .api import GraphExecutionHook as GraphExecutionHook
from .api import NodeExecutionHook as NodeExecutionHook
from .graceful import GracefulErrorAdapter as GracefulErrorAdapter
from .graceful import accept_error_sentinels as accept_error_sentinels
from .progress import ProgressBar as ProgressBar

__all__ = [
    "GracefulErrorAdapter",
    "GraphExecutionHook",
    "NodeExecutionHook",
    "ProgressBar",
    "accept_error_sentinels",
]
