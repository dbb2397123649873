"""The cache adapter: ``dr.cache``. It decides per node call whether to read or compute.

A node call's cache key is its name, its code version and the data versions of its inputs
(as Hamilton's). The scheduler hands every node call of a run to ``around``; a hit returns
the stored value without calling the node, a miss calls it and stores the result. Store I/O
and fingerprinting run on a thread, never on the event loop. Inside a block each branch has
its own key (its item is one of its inputs), so a new item computes only its own branch;
the scheduler hands each block to ``fan_out`` first, which may read it back whole
(``blocks``).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Literal

from ..execution.observe import Observer, RunInfo
from ..execution.paths import Path, format_path
from ..graph.node import Node
from .batches import Batches, Outcome
from .events import Actor
from .events import CachingBehavior as CachingBehavior
from .events import CachingEvent as CachingEvent
from .events import CachingEventType as CachingEventType
from .events import Deferred as Deferred
from .fingerprint import UNHASHABLE, code_version, data_version, digest
from .store import Link, Store

if TYPE_CHECKING:
    from ..execution.fanout import Fan

log = logging.getLogger("asyncdag")

BEHAVIOR_KEY = "cache.behavior"
FORMAT_KEY = "cache.format"

Where = tuple[tuple[str, int], ...]  # a branch path without its items


_Names = Collection[str] | Literal[True] | None


@dataclasses.dataclass
class _RunState:
    """What one run knows: behaviors and the data versions of values it has seen."""

    behaviors: dict[str, CachingBehavior]
    versions: dict[tuple[str, Where], str] = dataclasses.field(default_factory=dict)


class CacheAdapter(Observer):
    """``Builder.with_cache(...)``'s adapter, reachable as ``dr.cache`` (Hamilton's API)."""

    def __init__(
        self,
        path: str = ".asyncdag_cache",
        recompute: _Names = None,
        disable: _Names = None,
        ignore: _Names = None,
        default_behavior: str | None = None,
    ) -> None:
        if sum(x is True for x in (recompute, disable, ignore)) > 1:
            raise ValueError("Only one of recompute, disable and ignore can be True.")
        self.path = str(path)
        self.store = Store(path)
        self._chosen = {
            CachingBehavior.RECOMPUTE: recompute,
            CachingBehavior.DISABLE: disable,
            CachingBehavior.IGNORE: ignore,
        }
        self.default_behavior = CachingBehavior.from_string(default_behavior or "default")
        self.run_ids: list[str] = []
        self._logs: dict[str, list[CachingEvent | Deferred]] = {}
        self._runs: dict[str, _RunState] = {}
        self._code: dict[str, str] = {}  # node name -> code version (a built graph's code)
        self._batches: Batches[_Look | _Keep | _Job] = Batches(self._work)

    @property
    def last_run_id(self) -> str:
        """The id of the last run started (not necessarily the last to finish)."""
        if not self.run_ids:
            raise AttributeError("no run yet: dr.cache.last_run_id exists after an execute")
        return self.run_ids[-1]

    def logs(self, run_id: str | None = None, level: Literal["debug", "info"] = "info") -> Any:
        """Hamilton's logs: for one run, events by node (``(node, task_id)`` inside blocks);
        without ``run_id``, event lists by run. ``"info"``: only hits and executions."""
        wanted = None if level == "debug" else _INFO
        if run_id is None:
            return {
                r: [e for e in self._events(r) if wanted is None or e.event_type in wanted]
                for r in list(self._logs)
            }
        by_node: dict[Any, list[CachingEvent]] = defaultdict(list)
        for event in self._events(run_id):
            if wanted is None or event.event_type in wanted:
                key = (event.node_name, event.task_id) if event.task_id else event.node_name
                by_node[key].append(event)
        return dict(by_node)

    def hits(self, run_id: str | None = None) -> list[Any]:
        """Nodes (``(node, task_id)`` inside blocks) read from the cache in a run (the last)."""
        return self._keys(run_id, CachingEventType.GET_RESULT)

    def misses(self, run_id: str | None = None) -> list[Any]:
        """Nodes (``(node, task_id)`` inside blocks) that ran in a run (the last)."""
        return self._keys(run_id, CachingEventType.EXECUTE_NODE)

    def _keys(self, run_id: str | None, kind: CachingEventType) -> list[Any]:
        events = self._events(self.last_run_id if run_id is None else run_id)
        return [
            (e.node_name, e.task_id) if e.task_id else e.node_name
            for e in events
            if e.event_type is kind
        ]

    def _events(self, run_id: str) -> list[CachingEvent]:
        """A run's events, deferred ones made (once, in place)."""
        logged = self._logs[run_id]
        if any(type(e) is not CachingEvent for e in logged):
            made: list[CachingEvent | Deferred] = []
            for e in logged:
                made.extend(e.events() if not isinstance(e, CachingEvent) else (e,))
            logged[:] = made
        return logged  # type: ignore[return-value]  # every entry is an event now

    # -- a run ------------------------------------------------------------------------------

    async def run_started(self, run: RunInfo) -> None:
        nodes = run.graph.nodes.values()
        self._runs[run.run_id] = _RunState({n.name: self.behavior_of(n) for n in nodes})
        self._logs[run.run_id] = []
        self.run_ids.append(run.run_id)

    async def run_finished(
        self, run: RunInfo, results: Mapping[str, Any] | None, error: BaseException | None
    ) -> None:
        self._runs.pop(run.run_id, None)  # the logs stay; the versions seen go

    async def block_finished(self, run: RunInfo, expander: Node, path: Path, branches: int) -> None:
        # a Parallelizable always runs (its items are versioned one by one, in the branches)
        self.log(run.run_id, CachingEventType.EXECUTE_NODE, expander.name, format_path(path))

    def run_state(
        self, run_id: str
    ) -> tuple[dict[tuple[str, Where], str], dict[str, CachingBehavior]]:
        """The data versions seen so far and the behaviors of a running run."""
        state = self._runs.get(run_id)
        return ({}, {}) if state is None else (state.versions, state.behaviors)

    def behavior_of(self, node: Node) -> CachingBehavior:
        """Hamilton's precedence: the Builder's lists, then ``@cache(behavior=)``, then the
        default; a ``Parallelizable`` always runs, so that its items are versioned one by one."""
        return CachingBehavior.RECOMPUTE if node.expands else self.chosen_behavior(node)

    def chosen_behavior(self, node: Node) -> CachingBehavior:
        """The behavior the settings give ``node`` (an expander's included)."""
        for behavior, names in self._chosen.items():
            if names is True or (names is not None and node.name in names):
                return behavior
        tagged = node.tags.get(BEHAVIOR_KEY)
        if tagged is not None:
            return CachingBehavior.from_string(str(tagged))
        return self.default_behavior

    def code_version(self, node: Node) -> str:
        version = self._code.get(node.name)
        if version is None:
            version = self._code[node.name] = code_version(node.fn)
        return version

    def log(
        self, run_id: str, kind: CachingEventType, node: str, task: str | None, **kw: Any
    ) -> None:
        actor: Actor = "result_store" if kind is CachingEventType.GET_RESULT else "adapter"
        self._logs[run_id].append(CachingEvent(run_id, actor, kind, node, task or None, **kw))

    def defer(self, run_id: str, events: Deferred) -> None:
        """Log many events at once; they are made only if the logs are read."""
        self._logs[run_id].append(events)

    async def batched(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` on a thread, in the batch of store work of the moment (one hop)."""
        return await self._batches.ask(_Job(functools.partial(fn, *args)))

    async def fan_out(
        self,
        run: RunInfo,
        fan: Fan,
        source: Iterator[Any] | AsyncIterator[Any],
        observer: Observer | None,
    ) -> int:
        """Run a block (``fan.pump(source)``), or read its lists back whole (``blocks``)."""
        from .blocks import fan_out

        return await fan_out(self, run, fan, source, observer)

    async def around(
        self,
        run: RunInfo,
        node: Node,
        path: Path,
        inputs: Mapping[str, Any],
        compute: Callable[[], Awaitable[Any]],
    ) -> Any:
        """The value of one node call: from the cache when its key is known, else computed.

        ``inputs`` holds the call's values by the node (or input) each comes from; a
        ``Collect`` list comes as ``"name[]"``.
        """
        state = self._runs[run.run_id]
        behavior = state.behaviors.get(node.name, self.default_behavior)
        task = format_path(path)
        if behavior in (CachingBehavior.DISABLE, CachingBehavior.IGNORE):
            value = await compute()
            self.log(run.run_id, CachingEventType.EXECUTE_NODE, node.name, task)
            return value
        where: Where = tuple((n, i) for n, i, _ in path)
        known, unknown = self._dependencies(state, where, inputs)
        read = behavior is CachingBehavior.DEFAULT
        try:
            key, found, seen = await self._batches.ask(_Look(node, known, unknown, read))
        except Exception as exc:
            exc.add_note(f"asyncdag: the cache at {self.path!r} failed for node {node.name!r}")
            raise
        for name, version in seen.items():
            state.versions[(name, where)] = version
        if found is not None:
            state.versions[(node.name, where)] = found[0]
            self.log(run.run_id, CachingEventType.GET_RESULT, node.name, task, msg="hit")
            return found[1]
        value = await compute()
        self.log(run.run_id, CachingEventType.EXECUTE_NODE, node.name, task)
        fmt = str(node.tags.get(FORMAT_KEY, "pickle"))
        version, problem = await self._batches.ask(_Keep(key, node.name, value, fmt))
        state.versions[(node.name, where)] = version
        if problem is not None:
            self.log(run.run_id, problem[0], node.name, task, msg=problem[1])
        return value

    def _dependencies(
        self, state: _RunState, where: Where, inputs: Mapping[str, Any]
    ) -> tuple[dict[str, str], dict[str, Any]]:
        """Data versions known for ``inputs`` (from this run), and the values to fingerprint."""
        known: dict[str, str] = {}
        unknown: dict[str, Any] = {}
        for name, value in inputs.items():
            behavior = state.behaviors.get(name.removesuffix("[]"))
            if behavior is CachingBehavior.IGNORE:
                known[name] = "<ignore>"  # the dependency looks constant to its readers
                continue
            if behavior is CachingBehavior.DISABLE:
                known[name] = f"<disable>_{uuid.uuid4()}"  # its readers always recompute
                continue
            version = version_seen(state.versions, name, where)
            if version is None:
                unknown[name] = value
            else:
                known[name] = version
        return known, unknown

    def _work(self, requests: list[_Look | _Keep | _Job]) -> list[Outcome]:
        """On a thread: a batch of lookups and stores; the lookups read in a few queries, the
        stores' keys linked in one commit."""
        outcomes: list[Outcome] = []
        links: list[Link] = []
        keyed: list[tuple[int, str]] = []  # (outcome index, key) of lookups that read
        for request in requests:
            try:
                if isinstance(request, _Job):
                    outcomes.append((True, request.fn()))
                elif isinstance(request, _Look):
                    key, seen = self._key_of(request)
                    if request.read:
                        keyed.append((len(outcomes), key))
                    outcomes.append((True, (key, None, seen)))
                else:
                    outcomes.append((True, self._keep(request, links)))
            except Exception as exc:
                outcomes.append((False, exc))
        if keyed:
            try:
                found = self.store.get_many([key for _, key in keyed])
            except Exception as exc:
                for i, _ in keyed:
                    outcomes[i] = (False, exc)
            else:
                for i, key in keyed:
                    _, (_, _, seen) = outcomes[i]
                    outcomes[i] = (True, (key, found.get(key), seen))
        if links:
            try:
                self.store.link(links)
            except Exception as exc:  # the run goes on without these results in the cache
                log.warning("asyncdag: could not record results in the cache: %r", exc)
        return outcomes

    def _key_of(self, look: _Look) -> tuple[str, dict[str, str]]:
        """Fingerprint what is new and make the key."""
        seen = {name: data_version(value) for name, value in look.unknown.items()}
        versions = {**look.known, **seen}
        for name, version in versions.items():
            if version == UNHASHABLE:
                versions[name] = f"{UNHASHABLE}_{uuid.uuid4()}"  # never a false hit
        return cache_key(look.node.name, self.code_version(look.node), versions), seen

    def _keep(
        self, keep: _Keep, links: list[Link]
    ) -> tuple[str, tuple[CachingEventType, str] | None]:
        """Version the value and write it; its key is linked with the batch's others."""
        version = data_version(keep.value)
        if version == UNHASHABLE:
            return f"{UNHASHABLE}_{uuid.uuid4()}", (
                CachingEventType.UNHASHABLE_DATA_VERSION,
                f"{type(keep.value).__qualname__} cannot be fingerprinted; its readers recompute",
            )
        try:
            stored = self.store.put(version, keep.value, keep.fmt)
        except Exception as exc:  # the run goes on without this result in the cache
            log.warning("asyncdag: could not cache the result of node %r: %r", keep.name, exc)
            return version, (CachingEventType.FAILED_STORAGE, repr(exc))
        links.append((keep.key, keep.name, version, *stored))
        return version, None


@dataclasses.dataclass(frozen=True, slots=True)
class _Look:
    node: Node
    known: dict[str, str]
    unknown: dict[str, Any]
    read: bool


@dataclasses.dataclass(frozen=True, slots=True)
class _Job:
    fn: Callable[[], Any]


@dataclasses.dataclass(frozen=True, slots=True)
class _Keep:
    key: str
    name: str
    value: Any
    fmt: str


_INFO = (CachingEventType.GET_RESULT, CachingEventType.EXECUTE_NODE)


def version_seen(versions: dict[tuple[str, Where], str], name: str, where: Where) -> str | None:
    """The version of ``name`` in this branch or an enclosing one (an outer value)."""
    for depth in range(len(where), -1, -1):
        version = versions.get((name, where[:depth]))
        if version is not None:
            return version
    return None


def cache_key(node_name: str, code: str, dependencies: Mapping[str, str]) -> str:
    """``name-code-inputs``: the same node, code and input data versions, the same key."""
    inputs = digest(*(f"{k}={v}".encode() for k, v in sorted(dependencies.items())))
    return f"{node_name}-{code}-{inputs}"


HamiltonCacheAdapter = CacheAdapter
"""Hamilton's name for the adapter of ``Builder.with_cache()``; pass either to ``with_adapters``."""
