"""Hamilton's lifecycle hook classes: subclass them and pass instances to ``with_adapters``.

Methods may be ``def`` or ``async def``; asyncdag awaits the latter on the loop. Besides
Hamilton's keyword arguments, asyncdag passes ``branch_index``: the branch index path of the
node (a tuple, ``()`` outside blocks); ``task_id`` is its printed form (``"url[3]"``), or
``None`` outside blocks. Accept ``**future_kwargs`` to stay compatible with new arguments.
"""

from __future__ import annotations

import abc
from collections.abc import Collection
from typing import Any

__all__ = ["GraphExecutionHook", "NodeExecutionHook"]


class NodeExecutionHook(abc.ABC):
    """Called before and after every node call (once per branch inside a block)."""

    @abc.abstractmethod
    def run_before_node_execution(
        self,
        *,
        node_name: str,
        node_tags: dict[str, Any],
        node_kwargs: dict[str, Any],
        node_return_type: Any,
        task_id: str | None,
        run_id: str,
        node_input_types: dict[str, Any],
        branch_index: tuple[int, ...],
        **future_kwargs: Any,
    ) -> Any:
        """Before the node runs with ``node_kwargs``."""

    @abc.abstractmethod
    def run_after_node_execution(
        self,
        *,
        node_name: str,
        node_tags: dict[str, Any],
        node_kwargs: dict[str, Any],
        node_return_type: Any,
        result: Any,
        error: BaseException | None,
        success: bool,
        task_id: str | None,
        run_id: str,
        branch_index: tuple[int, ...],
        **future_kwargs: Any,
    ) -> Any:
        """After the node returned ``result`` (``success``) or raised ``error``."""


class GraphExecutionHook(abc.ABC):
    """Called once before and once after each ``execute``."""

    @abc.abstractmethod
    def run_before_graph_execution(
        self,
        *,
        graph: Any,
        final_vars: list[str],
        inputs: dict[str, Any],
        overrides: dict[str, Any],
        execution_path: Collection[str],
        run_id: str,
        **future_kwargs: Any,
    ) -> Any:
        """Before anything runs; ``execution_path`` names the nodes that will run."""

    @abc.abstractmethod
    def run_after_graph_execution(
        self,
        *,
        graph: Any,
        success: bool,
        error: BaseException | None,
        results: dict[str, Any] | None,
        run_id: str,
        **future_kwargs: Any,
    ) -> Any:
        """After the run, with its ``results`` or the ``error`` it raises."""
