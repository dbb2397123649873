"""Watch a run: Hamilton's lifecycle hooks and a progress bar, passed to ``with_adapters``."""

from .api import GraphExecutionHook as GraphExecutionHook
from .api import NodeExecutionHook as NodeExecutionHook
from .progress import ProgressBar as ProgressBar

__all__ = ["GraphExecutionHook", "NodeExecutionHook", "ProgressBar"]
