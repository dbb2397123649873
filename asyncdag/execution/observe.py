"""The one interface through which the scheduler reports a run to hooks, bars and streams.

The scheduler holds ``None`` when nothing listens, and then pays nothing: every report is
behind one ``is not None`` test. With listeners it awaits each report in turn, so a slow
listener (a stream's consumer) slows the run down instead of piling reports up.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..graph.graph import FunctionGraph
from ..graph.node import Node
from .paths import Path, format_path

log = logging.getLogger("asyncdag")


@dataclass(frozen=True, slots=True)
class RunInfo:
    """What a run was asked to do."""

    run_id: str
    graph: FunctionGraph
    final_vars: tuple[str, ...]
    inputs: Mapping[str, Any]
    overrides: Mapping[str, Any]
    execution_path: tuple[str, ...]  # the nodes that will run (once, or once per branch)


class Observer:
    """Base of everything that watches a run; each method is awaited on the loop.

    The defaults do nothing, so a listener overrides only what it needs.
    """

    def describe(self, method: str) -> str:
        """How an error raised in ``method`` names this listener."""
        return f"{type(self).__qualname__}.{method}"

    async def run_started(self, run: RunInfo) -> None:
        """Before any node runs."""

    async def node_started(self, run: RunInfo, node: Node, path: Path, kwargs: Any) -> None:
        """Before ``node`` is called with ``kwargs`` (in branch ``path``, () outside blocks)."""

    async def node_finished(
        self,
        run: RunInfo,
        node: Node,
        path: Path,
        kwargs: Any,
        result: Any,
        error: BaseException | None,
    ) -> None:
        """After ``node`` returned ``result`` or raised ``error``."""

    async def item_yielded(self, run: RunInfo, expander: Node, path: Path) -> None:
        """``expander`` yielded the item of the branch at ``path`` (its last step is the item)."""

    async def branch_finished(
        self, run: RunInfo, expander: Node, path: Path, error: BaseException | None
    ) -> None:
        """Every node of the branch at ``path`` is done (or one failed)."""

    async def block_finished(self, run: RunInfo, expander: Node, path: Path, branches: int) -> None:
        """The block of ``expander`` (in the branch at ``path``) closed after ``branches``."""

    async def branch_skipped(
        self, run: RunInfo, expander: Node, node: str, path: Path, error: BaseException
    ) -> None:
        """The branch at ``path`` failed in ``node``; ``@on_branch_error("skip")`` left it out."""

    async def run_finished(
        self, run: RunInfo, results: Mapping[str, Any] | None, error: BaseException | None
    ) -> None:
        """After the run, with its outputs or the error it raises."""


class Observers(Observer):
    """Several observers, told in order. A listener that raises fails the run, named.

    While a failure is being reported (``error`` set), a listener's own exception is logged
    instead, so the run's real error is the one that propagates.
    """

    def __init__(self, observers: Sequence[Observer]) -> None:
        self._all = tuple(observers)

    def only(self, observer: Observer) -> bool:
        """Whether ``observer`` is the one listener (the cache then may skip reports)."""
        return self._all == (observer,)

    async def run_started(self, run: RunInfo) -> None:
        for o in self._all:
            try:
                await o.run_started(run)
            except Exception as exc:
                _name(exc, o, "run_started", None, ())
                raise

    async def node_started(self, run: RunInfo, node: Node, path: Path, kwargs: Any) -> None:
        for o in self._all:
            try:
                await o.node_started(run, node, path, kwargs)
            except Exception as exc:
                _name(exc, o, "node_started", node.name, path)
                raise

    async def node_finished(
        self,
        run: RunInfo,
        node: Node,
        path: Path,
        kwargs: Any,
        result: Any,
        error: BaseException | None,
    ) -> None:
        for o in self._all:
            try:
                await o.node_finished(run, node, path, kwargs, result, error)
            except Exception as exc:
                _name(exc, o, "node_finished", node.name, path)
                if error is None:
                    raise
                log.exception("asyncdag: a hook failed while a node's error was reported")

    async def item_yielded(self, run: RunInfo, expander: Node, path: Path) -> None:
        for o in self._all:
            try:
                await o.item_yielded(run, expander, path)
            except Exception as exc:
                _name(exc, o, "item_yielded", expander.name, path)
                raise

    async def branch_finished(
        self, run: RunInfo, expander: Node, path: Path, error: BaseException | None
    ) -> None:
        for o in self._all:
            try:
                await o.branch_finished(run, expander, path, error)
            except Exception as exc:
                _name(exc, o, "branch_finished", expander.name, path)
                if error is None:
                    raise
                log.exception("asyncdag: a hook failed while a branch's error was reported")

    async def block_finished(self, run: RunInfo, expander: Node, path: Path, branches: int) -> None:
        for o in self._all:
            try:
                await o.block_finished(run, expander, path, branches)
            except Exception as exc:
                _name(exc, o, "block_finished", expander.name, path)
                raise

    async def branch_skipped(
        self, run: RunInfo, expander: Node, node: str, path: Path, error: BaseException
    ) -> None:
        for o in self._all:
            try:
                await o.branch_skipped(run, expander, node, path, error)
            except Exception as exc:
                _name(exc, o, "branch_skipped", node, path)
                raise

    async def run_finished(
        self, run: RunInfo, results: Mapping[str, Any] | None, error: BaseException | None
    ) -> None:
        for o in self._all:
            try:
                await o.run_finished(run, results, error)
            except Exception as exc:
                _name(exc, o, "run_finished", None, ())
                if error is None:
                    raise
                log.exception("asyncdag: a hook failed while the run's error was reported")


def _name(
    exc: BaseException, observer: Observer, method: str, node: str | None, path: Path
) -> None:
    where = f" for node {node!r}" if node else ""
    if path:
        where += f" in branch {format_path(path)}"
    exc.add_note(f"asyncdag: raised by hook {observer.describe(method)}{where}")
