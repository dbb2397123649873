"""Whole-block hits: an unchanged block's Collect lists read back in one lookup.

A block's key is the code of every node its branches run, the data versions of the outer
values they read and the data version of the expander's whole item list. When it is found,
the block's lists (and their data versions, for the nodes reading them) come back at once:
no branch runs and no branch is looked up. When it is not, the block runs as it would
without this (each branch node keyed on its item, so one new item computes one branch) and
its lists are stored under the block's key afterwards.

So the expander's items are all taken before any branch starts. A block is read whole
only when that is sound and changes nothing else a user sees: every node of its branches
has the ``default`` behavior, no outer value it reads is ``disable``d, it gathers lists
(a ``Collect``), has no ``@window``, ``@on_branch_error("skip")`` or inner block, and the
cache is the only listener of the run (hooks, bars and streams see every branch node).
Otherwise, and when anything cannot be fingerprinted, the block runs unchanged.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..execution.fanout import YIELD_INTERVAL, Fan, let_others_run
from ..execution.observe import Observer, Observers, RunInfo
from ..execution.paths import Path, format_path
from ..graph.node import Node
from ..graph.plan import Block, Frame, collected_key
from .adapter import CachingBehavior, CachingEvent, CachingEventType, Where, cache_key
from .adapter import version_seen as _version_seen
from .batches import on_thread
from .fingerprint import UNHASHABLE, data_version

if TYPE_CHECKING:
    from .adapter import CacheAdapter

log = logging.getLogger("asyncdag")

_Stored = tuple[tuple[list[Any], ...], tuple[str, ...]]  # (lists, their data versions)


async def fan_out(
    cache: CacheAdapter,
    run: RunInfo,
    fan: Fan,
    source: Iterator[Any] | AsyncIterator[Any],
    observer: Observer | None,
) -> int:
    """The number of branches of ``fan``'s block, its lists filled: read whole or run."""
    block = fan.step.block
    assert block is not None
    nodes = _readable(cache, run, fan, block, observer)
    if nodes is None:
        return await fan.pump(source)
    items, error = await _taken(source)
    if error is not None:  # the expander failed: the block runs and reports it, as uncached
        return await fan.pump(_replayed(items, error))
    versions, behaviors = cache.run_state(run.run_id)
    where: Where = tuple((n, i) for n, i, _ in fan.path)
    known: dict[str, str] = {}
    unknown: dict[str, Any] = {}
    for name, value in fan.outer.items():
        if behaviors.get(name.removesuffix("[]")) is CachingBehavior.IGNORE:
            known[name] = "<ignore>"  # as in its readers' own keys
        elif (version := _version_seen(versions, name, where)) is not None:
            known[name] = version
        else:
            unknown[name] = value
    look = _Look(fan.name, nodes, block.gathered, known, unknown, items)
    try:
        key, stored = await on_thread(_looked_up, cache, look)
    except Exception as exc:
        exc.add_note(f"asyncdag: the cache at {cache.path!r} failed for block {fan.name!r}")
        raise
    if stored is not None and _fits(stored, block, len(items)):
        lists, made = stored
        for target, values in zip(fan.lists, lists, strict=True):
            target[:] = values
        _versions(cache, run, block, where, made)
        names = tuple(n.name for n in nodes)
        cache.defer(run.run_id, _Hits(run.run_id, names, fan.path, fan.name, len(items)))
        return len(items)
    branches = await fan.pump(iter(items))
    if key is not None:
        kept = await on_thread(_kept, cache, fan.name, key, tuple(fan.lists))
        if kept is not None:
            _versions(cache, run, block, where, kept)
    return branches


def _readable(
    cache: CacheAdapter, run: RunInfo, fan: Fan, block: Block, observer: Observer | None
) -> tuple[Node, ...] | None:
    """The nodes of ``block``'s branches when it may be read whole, else None."""
    if not isinstance(observer, Observers) or not observer.only(cache):
        return None
    if not block.gathered or block.windows or block.skip is not None or block.streamed:
        return None
    if any(step.block is not None for step in block.frame.steps):
        return None
    readable = (CachingBehavior.DEFAULT, CachingBehavior.RECOMPUTE)
    if cache.chosen_behavior(block.expander) not in readable:
        return None
    _, behaviors = cache.run_state(run.run_id)
    nodes = tuple(_nodes(block.frame))
    default = CachingBehavior.DEFAULT
    if any(behaviors.get(n.name, cache.default_behavior) is not default for n in nodes):
        return None
    disable = CachingBehavior.DISABLE
    if any(behaviors.get(name.removesuffix("[]")) is disable for name in fan.outer):
        return None
    return nodes


async def _taken(
    source: Iterator[Any] | AsyncIterator[Any],
) -> tuple[list[Any], BaseException | None]:
    """All of ``source``'s items, and the error that stopped it (None: it ended)."""
    items: list[Any] = []
    try:
        if isinstance(source, Iterator):
            clock = time.perf_counter
            deadline = clock() + YIELD_INTERVAL
            for item in source:  # on the loop, as the block would step it: hand it over often
                items.append(item)
                if clock() > deadline:
                    await let_others_run()
                    deadline = clock() + YIELD_INTERVAL
        else:
            async for item in source:
                items.append(item)
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        return items, exc
    return items, None


def _replayed(items: list[Any], error: BaseException) -> Iterator[Any]:
    yield from items
    raise error


@dataclasses.dataclass(frozen=True, slots=True)
class _Look:
    expander: str
    nodes: tuple[Node, ...]
    gathered: tuple[str, ...]
    known: dict[str, str]
    unknown: dict[str, Any]
    items: list[Any]


def _looked_up(cache: CacheAdapter, look: _Look) -> tuple[str | None, _Stored | None]:
    """On a thread: the block's key (None: something cannot be fingerprinted), and what
    is stored under it."""
    versions = {**look.known}
    for name, value in look.unknown.items():
        versions[name] = data_version(value)
    versions[look.expander] = data_version(look.items)
    versions["[]"] = ",".join(look.gathered)  # what the block gives is part of its key
    if UNHASHABLE in versions.values():
        return None, None
    code = ",".join(cache.code_version(n) for n in look.nodes)
    key = cache_key(f"{look.expander}.block", code, versions)
    found = cache.store.get_many([key]).get(key)
    return key, None if found is None else found[1]


def _kept(
    cache: CacheAdapter, expander: str, key: str, lists: tuple[list[Any], ...]
) -> tuple[str, ...] | None:
    """On a thread: store a block's lists under its key; their data versions (None: some
    cannot be fingerprinted, and nothing is stored)."""
    made = tuple(data_version(values) for values in lists)
    if UNHASHABLE in made:
        return None
    try:
        version = data_version(made)
        stored = cache.store.put(version, (lists, made), "pickle")
        cache.store.link([(key, f"{expander}.block", version, *stored)])
    except Exception as exc:  # the run goes on; the next one runs the block again
        log.warning("asyncdag: could not cache block %r: %r", expander, exc)
    return made


def _fits(stored: Any, block: Block, count: int) -> bool:
    """Whether ``stored`` has the shape of ``block``'s lists for ``count`` items."""
    try:
        lists, made = stored
        return len(lists) == len(made) == len(block.gathered) and all(
            type(v) is list and len(v) == count for v in lists
        )
    except (TypeError, ValueError):
        return False


def _versions(
    cache: CacheAdapter, run: RunInfo, block: Block, where: Where, made: tuple[str, ...]
) -> None:
    """The lists' data versions, for the nodes reading them (no fingerprinting again)."""
    versions, _ = cache.run_state(run.run_id)
    for name, version in zip(block.gathered, made, strict=True):
        versions[(collected_key(name), where)] = version


@dataclasses.dataclass(frozen=True, slots=True)
class _Hits:
    """A block hit in the logs: every node of every branch, a hit."""

    run_id: str
    nodes: tuple[str, ...]
    path: Path
    expander: str
    count: int
    timestamp: float = dataclasses.field(default_factory=lambda: datetime.now(UTC).timestamp())

    def events(self) -> list[CachingEvent]:
        events = []
        for index in range(self.count):
            task = format_path((*self.path, (self.expander, index, None)))
            for node in self.nodes:
                events.append(
                    CachingEvent(
                        self.run_id,
                        "result_store",
                        CachingEventType.GET_RESULT,
                        node,
                        task,
                        "hit",
                        timestamp=self.timestamp,
                    )
                )
        return events


def _nodes(frame: Frame) -> Iterator[Node]:
    for step in frame.steps:
        for call in step.calls or (step,):
            yield call.node
