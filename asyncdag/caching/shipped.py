"""Caching for branches shipped whole to worker processes: looked up in the parent.

A shipped branch runs all its nodes in a worker, where no cache is asked. So the parent
keys the whole branch (the code of every node in it, the data versions of the outer values
it reads, its item) before shipping: hits are filled in at once, and only the misses go to
the workers, in the batch they came in. Their rows are stored when they come back. A branch
is the unit here: a change to any node of the branch recomputes the branch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from ..execution.executors.base import Executor, Unit
from ..execution.observe import RunInfo
from ..execution.paths import format_path
from ..execution.remote import BranchBatch
from ..graph.node import Node
from ..graph.plan import Frame
from .adapter import (
    CacheAdapter,
    CachingBehavior,
    CachingEventType,
    Where,
    cache_key,
    version_seen,
)
from .batches import on_thread as _on_thread
from .fingerprint import UNHASHABLE, data_version
from .store import Link


class CachedBranches(Executor):
    """The remote executor of one run, with shipped branches read from the cache."""

    runs_branches = True

    def __init__(self, inner: Executor, cache: CacheAdapter, run: RunInfo) -> None:
        self.inner, self.cache, self.run = inner, cache, run
        self.max_tasks, self.batch_size = inner.max_tasks, inner.batch_size

    async def submit(self, unit: Unit) -> Any:
        """Rows for a batch of branches: the cached ones read, the others shipped."""
        if not isinstance(unit, BranchBatch):
            return await self.inner.submit(unit)
        nodes = tuple(_nodes(unit.frame))
        default = CachingBehavior.DEFAULT
        if any(not n.expands and self.cache.behavior_of(n) is not default for n in nodes):
            return await self.inner.submit(unit)
        looked = await _on_thread(self._look_up, unit, nodes)
        rows: dict[int, tuple[Any, ...]] = {}
        missing: list[tuple[int, Any]] = []
        for (index, item), (_, found) in zip(unit.items, looked, strict=True):
            self._log(unit, nodes, index, item, found is not None)
            if found is None:
                missing.append((index, item))
            else:
                rows[index] = found
        if missing:
            shipped = dataclasses.replace(unit, items=tuple(missing))
            computed = await self.inner.submit(shipped)
            keys = {index: key for (index, _), (key, _) in zip(unit.items, looked, strict=True)}
            kept = [(keys[index], row) for (index, _), row in zip(missing, computed, strict=True)]
            await _on_thread(self._keep, unit.node, kept)
            for (index, _), row in zip(missing, computed, strict=True):
                rows[index] = row
        return [rows[index] for index, _ in unit.items]

    def _look_up(
        self, unit: BranchBatch, nodes: tuple[Node, ...]
    ) -> list[tuple[str, tuple[Any, ...] | None]]:
        """On a thread: each branch's key, and its stored row when there is one."""
        seen, behaviors = self.cache.run_state(self.run.run_id)
        where: Where = tuple((n, i) for n, i, _ in unit.path)
        outer = {}
        for name, value in unit.outer.items():
            behavior = behaviors.get(name.removesuffix("[]"))
            if behavior is CachingBehavior.IGNORE:
                outer[name] = "<ignore>"
            elif behavior is CachingBehavior.DISABLE:
                outer[name] = UNHASHABLE  # its readers always recompute
            else:
                outer[name] = version_seen(seen, name, where) or data_version(value)
        code = ",".join(self.cache.code_version(n) for n in nodes)
        keys: list[str] = []
        for _, item in unit.items:
            versions = {**outer, unit.node: data_version(item)}
            if UNHASHABLE in versions.values():
                keys.append("")  # something cannot be fingerprinted: always ship
            else:
                keys.append(cache_key(f"{unit.node}.branch", code, versions))
        found = self.cache.store.get_many([key for key in keys if key])
        return [(key, tuple(found[key][1]) if key in found else None) for key in keys]

    def _keep(self, expander: str, kept: list[tuple[str, tuple[Any, ...]]]) -> None:
        links: list[Link] = []
        for key, row in kept:
            version = data_version(row)
            if key and version != UNHASHABLE:
                try:
                    stored = self.cache.store.put(version, row, "pickle")
                except Exception:  # an unpicklable row: the run goes on uncached
                    continue
                links.append((key, f"{expander}.branch", version, *stored))
        if links:
            self.cache.store.link(links)

    def _log(
        self, unit: BranchBatch, nodes: tuple[Node, ...], index: int, item: Any, hit: bool
    ) -> None:
        task = format_path((*unit.path, (unit.node, index, item)))
        kind = CachingEventType.GET_RESULT if hit else CachingEventType.EXECUTE_NODE
        for node in nodes:
            self.cache.log(self.run.run_id, kind, node.name, task, msg="hit" if hit else None)


def _nodes(frame: Frame) -> Iterator[Node]:
    """Every node a branch frame runs, nested blocks' included."""
    for step in frame.steps:
        for call in step.calls or (step,):
            yield call.node
        if step.block is not None:
            yield from _nodes(step.block.frame)
