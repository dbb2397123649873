"""Whole-block hits: an unchanged block's Collect lists read back in one lookup.

A block's key is the code of every node its branches run and the data versions of the outer
values they read. Stored under it: the last run's item versions and Collect lists. One
lookup then serves a rerun: when the items are the same (one data version for the whole
list), the lists come back whole, no branch runs and none is looked up; when some changed,
each item found in the stored ones gets its branch's values from there, and only the others
run (each of their nodes keyed on its item as without this, so one new item computes one
branch). The block's lists are then stored under its key for the next run.

The whole list needs all items first: a sync expander's are taken for up to 25 ms
(``items.TAKE_MOST``) before the lookup (a range of 10,000 takes a millisecond). A slower
one, and an async one, stream into branches as without a cache once the lookup is done, each
item read back from the stored run when its quick version is found there (small plain
items), the others run. A block is read back only when that is sound and changes nothing
else a user sees: every node of its branches has the ``default`` behavior, no outer value it
reads is ``disable``d, it gathers lists (a ``Collect``), has no ``@window``,
``@on_branch_error("skip")`` or inner block, and the cache is the only listener of the run
(hooks, bars and streams see every branch node). Otherwise, and when anything cannot be
fingerprinted, the block runs unchanged.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from ..execution.fanout import Fan
from ..execution.observe import Observer, Observers, RunInfo
from ..execution.paths import Path, format_path
from ..graph.node import Node
from ..graph.plan import Block, Frame, collected_key
from .adapter import CachingBehavior, CachingEvent, CachingEventType, Where, cache_key
from .adapter import version_seen as _version_seen
from .fingerprint import UNHASHABLE, data_version, quick_version
from .items import fed, replayed, taken

if TYPE_CHECKING:
    from .adapter import CacheAdapter

log = logging.getLogger("asyncdag")

_T = TypeVar("_T")


Rows = dict[int, tuple[Any, ...]]  # branch index -> its values of the gathered names


@dataclasses.dataclass(frozen=True, slots=True)
class _Stored:
    """What a block keeps: its items' versions, its lists and the lists' versions."""

    items: str
    item_versions: tuple[str, ...]
    lists: tuple[list[Any], ...]
    versions: tuple[str, ...]


@dataclasses.dataclass(slots=True)
class _Found:
    """A lookup's answer: the key, and what can be reused from the stored run."""

    key: str | None  # None: something cannot be fingerprinted; the block just runs
    seen: dict[str, str]  # the data versions of the outer values it fingerprinted
    items: str | None = None  # the data version of all items, when all were taken
    item_versions: tuple[str, ...] | None = None  # of the items taken, when compared
    whole: _Stored | None = None  # the same items: everything
    stored: _Stored | None = None  # other items: the stored run, for these
    rows: Rows = dataclasses.field(default_factory=dict)  # rows of the items taken
    at: dict[str, int] = dataclasses.field(default_factory=dict)  # version -> stored index


async def fan_out(
    cache: CacheAdapter,
    run: RunInfo,
    fan: Fan,
    source: Iterator[Any] | AsyncIterator[Any],
    observer: Observer | None,
) -> int:
    """The number of branches of ``fan``'s block, its lists filled: read back or run."""
    block = fan.step.block
    assert block is not None
    nodes = _readable(cache, run, fan, block, observer)
    where: Where = tuple((n, i) for n, i, _ in fan.path)
    known, unknown = _outer(cache, run, fan, where)
    if nodes is None:
        if unknown and _keyed(cache, run, block.frame):  # versioned once, not per branch
            seen = await _asked(cache, fan, _fingerprinted, unknown)
            _record(cache, run, where, seen)
        return await fan.pump(source)
    items, error, rest = await taken(source)
    if error is not None:  # the expander failed: the block runs and reports it, as uncached
        return await fan.pump(replayed(items, error))
    look = _Look(fan.name, nodes, block.gathered, known, unknown, items, rest is None)
    found = await _asked(cache, fan, _looked_up, cache, look)
    _record(cache, run, where, found.seen)
    names = tuple(n.name for n in nodes)
    if found.whole is not None:
        for target, values in zip(fan.lists, found.whole.lists, strict=True):
            target[:] = values
        _versions(cache, run, block, where, found.whole.versions)
        cache.defer(run.run_id, _Hits(run.run_id, names, fan.path, fan.name, range(len(items))))
        return len(items)
    reuse = None
    if found.stored is not None and not block.shipped:  # shipped: looked up in the parent
        reuse = _Reuse(found.rows, found.at, found.stored.lists, len(items))
        fan.known = reuse.row
    try:
        branches = await fan.pump(fed(items, rest))
    finally:
        if reuse is not None and reuse.hits:
            cache.defer(run.run_id, _Hits(run.run_id, names, fan.path, fan.name, reuse.hits))
    if found.key is not None:
        keep = _Keep(fan.name, found, tuple(fan.lists), items)
        made = await _asked(cache, fan, _kept, cache, keep)
        if made is not None:
            _versions(cache, run, block, where, made)
    return branches


def _outer(
    cache: CacheAdapter, run: RunInfo, fan: Fan, where: Where
) -> tuple[dict[str, str], dict[str, Any]]:
    """The data versions known of the outer values the branches read, and the values still
    to fingerprint (a ``disable``d one is neither: its readers recompute)."""
    versions, behaviors = cache.run_state(run.run_id)
    known: dict[str, str] = {}
    unknown: dict[str, Any] = {}
    for name, value in fan.outer.items():
        behavior = behaviors.get(name.removesuffix("[]"))
        if behavior is CachingBehavior.IGNORE:
            known[name] = "<ignore>"  # as in its readers' own keys
        elif behavior is CachingBehavior.DISABLE:
            continue
        elif (version := _version_seen(versions, name, where)) is not None:
            known[name] = version
        else:
            unknown[name] = value
    return known, unknown


def _record(cache: CacheAdapter, run: RunInfo, where: Where, seen: dict[str, str]) -> None:
    """Data versions of outer values, where their branches' lookups find them."""
    versions, _ = cache.run_state(run.run_id)
    for name, version in seen.items():
        versions[(name, where)] = version


async def _asked(cache: CacheAdapter, fan: Fan, fn: Callable[..., _T], *args: Any) -> _T:
    """``fn(*args)`` with the store work of the moment (inner blocks' lookups batch up)."""
    try:
        result: _T = await cache.batched(fn, *args)
    except Exception as exc:
        exc.add_note(f"asyncdag: the cache at {cache.path!r} failed for block {fan.name!r}")
        raise
    return result


def _fingerprinted(values: dict[str, Any]) -> dict[str, str]:
    return {name: data_version(value) for name, value in values.items()}


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


class _Reuse:
    """Rows of the stored run for the items it had: by index for the items taken before the
    lookup, by a quick data version for those that come after it (the others run)."""

    def __init__(
        self, rows: Rows, at: dict[str, int], lists: tuple[list[Any], ...], taken: int
    ) -> None:
        self.rows, self.at, self.lists, self.taken = rows, at, lists, taken
        self.hits: list[int] = []  # indexes of the branches read back

    def row(self, index: int, item: Any) -> tuple[Any, ...] | None:
        if index < self.taken:
            row = self.rows.pop(index, None)
        else:
            version = quick_version(item) if self.at else None
            i = None if version is None else self.at.pop(version, None)
            row = None if i is None else tuple(values[i] for values in self.lists)
        if row is not None:
            self.hits.append(index)
        return row


@dataclasses.dataclass(frozen=True, slots=True)
class _Look:
    expander: str
    nodes: tuple[Node, ...]
    gathered: tuple[str, ...]
    known: dict[str, str]
    unknown: dict[str, Any]
    items: list[Any]  # all of them (``done``), or the first ones
    done: bool


def _looked_up(cache: CacheAdapter, look: _Look) -> _Found:
    """On a thread: the block's key and what it can reuse from the run stored under it."""
    seen = _fingerprinted(look.unknown)
    versions = {**look.known, **seen}
    versions["[]"] = ",".join(look.gathered)  # what the block gives is part of its key
    if any(v.startswith(UNHASHABLE) for v in versions.values()):
        return _Found(None, seen)
    code = ",".join(cache.code_version(n) for n in look.nodes)
    key = cache_key(f"{look.expander}.block", code, versions)
    items = data_version(look.items) if look.done else None
    if items == UNHASHABLE:
        return _Found(None, seen)
    found = cache.store.get_many([key]).get(key)
    stored = _stored(found[1], len(look.gathered)) if found is not None else None
    if stored is None:
        return _Found(key, seen, items)
    if stored.items == items:
        return _Found(key, seen, items, stored.item_versions, whole=stored)
    item_versions = tuple(data_version(item) for item in look.items)
    at = {version: i for i, version in enumerate(stored.item_versions)}
    rows: Rows = {}
    for index, version in enumerate(item_versions):
        i = at.pop(version, None)  # a repeated item runs: branches never share a value
        if i is not None:
            rows[index] = tuple(values[i] for values in stored.lists)
    return _Found(key, seen, items, item_versions, stored=stored, rows=rows, at=at)


@dataclasses.dataclass(frozen=True, slots=True)
class _Keep:
    expander: str
    found: _Found
    lists: tuple[list[Any], ...]
    items: list[Any]


def _kept(cache: CacheAdapter, keep: _Keep) -> tuple[str, ...] | None:
    """On a thread: store a block's lists under its key; their data versions (None: some
    cannot be fingerprinted, and nothing is stored)."""
    found = keep.found
    assert found.key is not None
    made = tuple(data_version(values) for values in keep.lists)
    if UNHASHABLE in made:
        return None
    items = found.items or data_version(keep.items)  # the items that came after the lookup
    taken = found.item_versions or ()
    item_versions = taken + tuple(data_version(i) for i in keep.items[len(taken) :])
    if UNHASHABLE in (items, *item_versions):
        return made
    try:
        version = data_version((items, *made))
        kept = (items, item_versions, keep.lists, made)  # plain data: any version reads it
        stored = cache.store.put(version, kept, "pickle")
        cache.store.link([(found.key, f"{keep.expander}.block", version, *stored)])
    except Exception as exc:  # the run goes on; the next one runs the block again
        log.warning("asyncdag: could not cache block %r: %r", keep.expander, exc)
    return made


def _stored(value: Any, lists: int) -> _Stored | None:
    """``value`` read as a block's, with ``lists`` lists as long as its items (else None)."""
    try:
        stored = _Stored(*value)
        count = len(stored.item_versions)
        fits = len(stored.lists) == len(stored.versions) == lists
        if fits and all(type(v) is list and len(v) == count for v in stored.lists):
            return stored
    except (TypeError, ValueError):
        pass
    return None


def _versions(
    cache: CacheAdapter, run: RunInfo, block: Block, where: Where, made: tuple[str, ...]
) -> None:
    """The lists' data versions, for the nodes reading them (no fingerprinting again)."""
    versions, _ = cache.run_state(run.run_id)
    for name, version in zip(block.gathered, made, strict=True):
        versions[(collected_key(name), where)] = version


@dataclasses.dataclass(frozen=True, slots=True)
class _Hits:
    """Branches read back with their block, in the logs: each of their nodes, a hit."""

    run_id: str
    nodes: tuple[str, ...]
    path: Path
    expander: str
    indexes: Sequence[int]
    timestamp: float = dataclasses.field(default_factory=lambda: datetime.now(UTC).timestamp())

    def events(self) -> list[CachingEvent]:
        events = []
        for index in self.indexes:
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


def _keyed(cache: CacheAdapter, run: RunInfo, frame: Frame) -> bool:
    """Whether a node of ``frame`` (or of its inner blocks) is looked up or stored."""
    _, behaviors = cache.run_state(run.run_id)
    keyed = (CachingBehavior.DEFAULT, CachingBehavior.RECOMPUTE)
    for node in _nodes(frame):
        if not node.expands and behaviors.get(node.name, cache.default_behavior) in keyed:
            return True
    return any(s.block is not None and _keyed(cache, run, s.block.frame) for s in frame.steps)


def _nodes(frame: Frame) -> Iterator[Node]:
    for step in frame.steps:
        for call in step.calls or (step,):
            yield call.node
