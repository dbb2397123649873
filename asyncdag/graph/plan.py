"""Plan one request (outputs, given names) into a tree of frames and parallel blocks.

A *frame* is the work of one scope: the whole run outside blocks, or one branch of a block.
Its steps are in dependency order; a step is a node call or a nested block. Values live in
one dict per frame, keyed by node name; a block adds ``"<node>[]"`` keys holding the lists its
branches produced, in yield order. Everything here is data: the scheduler walks it.
"""

from __future__ import annotations

import graphlib
import itertools
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass

from ..errors import GraphError, MissingInputError
from .analysis import Scope, analyse
from .graph import FunctionGraph
from .modifiers.streams import OnBranchError, Window, skipping, window_of
from .node import Node

# Step modes.
INLINE = 0  # a sync call on the loop thread
ASYNC = 1  # a coroutine awaited on the loop
EXECUTOR = 2  # a sync call submitted to an executor
BLOCK = 3  # a parallel block
GUARDED = 4  # a node with a @timeout or @retry policy (``executor`` None: on the loop thread)
JOB = 5  # consecutive sync calls bound for one thread executor, run there as one job
SHIP = 6  # (a block's source) the expander runs in another process, which lists its items
WINDOW = 7  # a @window function: its block runs it, window by window; the step itself is a marker

LOCAL, REMOTE = "local", "remote"


def collected_key(name: str) -> str:
    """The frame key of the list of ``name``'s branch values."""
    return name + "[]"


@dataclass(frozen=True, slots=True)
class Step:
    """One unit of a frame: a node call, or a block when ``block`` is set."""

    key: str
    node: Node
    args: tuple[tuple[str, str], ...]  # (parameter, frame key)
    mode: int
    executor: str | None
    block: Block | None = None
    calls: tuple[Step, ...] = ()  # a JOB's calls, in order; ``args`` are what they read outside


@dataclass(frozen=True, slots=True)
class Frame:
    """The steps of one scope, in dependency order, with their in-frame dependencies."""

    scope: Scope
    steps: tuple[Step, ...]
    waits_on: tuple[tuple[int, ...], ...]  # per step: indexes of steps it needs
    dependents: tuple[tuple[int, ...], ...]  # per step: indexes of steps that need it
    sync_only: bool  # only INLINE steps: plain function calls, no await
    sequential: bool  # the awaitable steps form a chain: awaiting them in order loses nothing

    def reads(self) -> frozenset[str]:
        """Keys this frame reads that no step of it produces (copied in from outside)."""
        produced = {s.key for s in self.steps} | {
            collected_key(k) for s in self.steps if s.block for k in s.block.produces
        }
        needed: set[str] = set()
        for s in self.steps:
            needed.update(k for _, k in s.args)
            if s.block is not None:
                needed.update(s.block.outer)
                needed.update(_window_reads(s.block))
        produced.update(self.scope[-1:])  # a branch's item, under its expander's name
        return frozenset(needed - produced)


@dataclass(frozen=True, slots=True)
class Block:
    """A fan-out: the expander's items each run ``frame``; ``produces`` are gathered."""

    expander: Node
    given: bool  # the expander's value is an override: fan out over it, do not call
    frame: Frame
    outer: tuple[str, ...]  # keys copied from the enclosing frame into every branch
    produces: tuple[str, ...]  # names whose per-branch values are gathered into "<name>[]"
    source: int = INLINE  # how the expander is called: INLINE, EXECUTOR (items stepped there), SHIP
    shipped: bool = False  # branches go whole, in batches, to the remote executor's processes
    threaded: bool = False  # each branch is one job for a thread executor: batches of them
    windows: tuple[tuple[Step, Window], ...] = ()  # @window functions of this block, run by it
    kept: tuple[str, ...] | None = None  # of ``produces``, those gathered whole (None: all)
    skip: OnBranchError | None = None  # @on_branch_error("skip"): failed branches left out
    streamed: tuple[str, ...] = ()  # requested branch nodes (stream()): reported, not kept

    @property
    def gathered(self) -> tuple[str, ...]:
        """The names whose whole lists the block writes as ``"<name>[]"``."""
        return self.produces if self.kept is None else self.kept


@dataclass(frozen=True)
class Plan:
    """Everything ``execute`` needs for one (outputs, inputs, overrides) shape."""

    root: Frame
    outputs: tuple[tuple[str, str], ...]  # (output name, root frame key)
    absent: tuple[str, ...] = ()  # requested inputs that are optional everywhere and not given


def build_plan(
    graph: FunctionGraph,
    outputs: Iterable[str],
    inputs: Collection[str],
    overrides: Collection[str],
    inline: Collection[str],
    ships: Collection[str] = (),
    streaming: bool = False,
) -> Plan:
    """Plan the run of ``outputs`` given the names of ``inputs`` and ``overrides``.

    Config keys count as inputs. An input named like a node overrides it, and an input may be
    requested as an output, as in Hamilton.

    ``inline`` names the executors that run sync calls directly on the loop thread, ``ships``
    those that run a block's branches whole in other processes. This is the one place that
    decides where each step runs: a frame shipped to a worker is planned as it runs there,
    every sync call a plain call.

    Raises:
        UnknownNodeError: an output is not a node or an input.
        MissingInputError: needed inputs are absent (all of them, with who needs each).
        GraphError: an output is a node inside a block; ask for its Collect instead
            (``streaming``: allowed, its values are reported per branch and not returned).
    """
    outputs = tuple(dict.fromkeys(outputs))
    nodes = graph.nodes
    constants = {n for n in (*overrides, *inputs) if n in nodes}
    given = {*graph.config, *inputs}
    # A given name may be requested even when no node reads it: it is returned, as in Hamilton.
    graph.check_known(n for n in outputs if n not in given and n not in overrides)

    needed: dict[str, Node] = {}
    missing: dict[str, list[str]] = {}
    stack = [n for n in outputs if n in nodes]
    absent = []
    for name in outputs:
        if name in nodes or name in given or name in overrides:
            continue
        if _optional_everywhere(graph, name):
            absent.append(name)  # Hamilton returns None for it
        else:
            missing.setdefault(name, []).append("(requested output)")
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        node = needed[name] = nodes[name]
        if name in constants:
            continue
        for p in node.params:
            if p.name in nodes:
                stack.append(p.name)
            elif p.name not in given and p.name not in overrides and not p.optional:
                missing.setdefault(p.name, []).append(name)
    if missing:
        raise MissingInputError(missing)

    analysis = analyse(needed, constants)
    scopes = analysis.scopes
    inside = [n for n in outputs if n in needed and scopes[n] and n not in constants]
    if inside and not streaming:
        _raise_inside_block(graph, inside[0], scopes[inside[0]])

    available = set(given) | set(overrides) | set(needed)
    requested = set(outputs)
    builder = _FrameBuilder(
        needed, scopes, constants, available, requested, frozenset(inline), frozenset(ships)
    )
    root = builder.frame((), analysis.order)
    # A requested Parallelizable node gives the list of its items, overridden or not.
    keys = tuple(
        (n, collected_key(n) if n in needed and needed[n].expands else n)
        for n in outputs
        if n not in inside
    )
    return Plan(root, keys, tuple(absent))


def _optional_everywhere(graph: FunctionGraph, name: str) -> bool:
    """Whether every node reading input ``name`` has a default for it."""
    return all(
        p.optional for c in graph.inputs[name] for p in graph.nodes[c].params if p.name == name
    )


def _raise_inside_block(graph: FunctionGraph, name: str, scope: Scope) -> None:
    collectors = sorted(c for c, blocks in graph.analysis.closes.items() if scope[0] in blocks)
    ask = " or ".join(repr(c) for c in collectors) or "a function with a Collect[...] parameter"
    raise GraphError(
        f"{name!r} runs once per item of {scope[0]!r} (inside its parallel block), so it has no "
        f"single value to return. Request {ask}, which collects the block, instead.",
        function=graph.nodes[name].origin if name in graph.nodes else None,
        node=name,
    )


class _FrameBuilder:
    """Groups needed nodes by scope into frames, recursively through blocks."""

    def __init__(
        self,
        needed: Mapping[str, Node],
        scopes: Mapping[str, Scope],
        constants: Collection[str],
        available: Collection[str],
        requested: Collection[str],
        inline: frozenset[str],
        ships: frozenset[str],
    ) -> None:
        self.needed, self.scopes, self.constants = needed, scopes, constants
        self.available, self.requested = available, requested
        self.inline, self.ships = inline, ships
        # Computed once, so that planning stays linear in the graph however many blocks it has.
        self.in_scope: dict[Scope, list[str]] = {}  # filled on the first frame, in graph order
        # (collector's scope, block scope) -> collector -> names it collects out of that block
        self.gathered: dict[tuple[Scope, Scope], dict[str, set[str]]] = {}
        for name, node in needed.items():
            if name not in constants:
                for p in node.params:
                    if p.collect and p.name in needed:
                        key = (scopes[name], self._branch_of(p.name))
                        self.gathered.setdefault(key, {}).setdefault(name, set()).add(p.name)

    def _names(self, scope: Scope, order: tuple[str, ...]) -> list[str]:
        """The needed nodes of ``scope``, in ``order``."""
        if not self.in_scope:
            for name in order:
                if name in self.needed:
                    self.in_scope.setdefault(self.scopes[name], []).append(name)
        return self.in_scope.get(scope, [])

    def frame(self, scope: Scope, order: tuple[str, ...], in_worker: bool = False) -> Frame:
        """The frame of ``scope``; ``in_worker``: it runs in a worker process, all in place."""
        steps: list[Step] = []
        for name in self._names(scope, order):
            node = self.needed[name]
            if node.expands:
                steps.append(self._block_step(node, scope, order, in_worker))
            elif name not in self.constants:
                step = self._call_step(node, scope, in_worker)
                if window_of(node) is not None:  # its block runs it; this marks its value
                    _check_collects(node)
                    step = Step(step.key, node, step.args, WINDOW, None)
                steps.append(step)
        steps = _in_dependency_order(steps)
        produced_by = _producers(steps)
        waits_on = tuple(
            tuple(sorted({produced_by[k] for k in _step_reads(s) if k in produced_by}))
            for s in steps
        )
        steps, waits_on = _in_jobs(steps, waits_on, bool(scope), self.ships)
        dependents: list[list[int]] = [[] for _ in steps]
        for i, deps in enumerate(waits_on):
            for d in deps:
                dependents[d].append(i)
        awaitable = [i for i, s in enumerate(steps) if s.mode != INLINE]
        return Frame(
            scope=scope,
            steps=tuple(steps),
            waits_on=waits_on,
            dependents=tuple(map(tuple, dependents)),
            sync_only=not awaitable,
            sequential=_is_chain(awaitable, waits_on),
        )

    def _call_step(self, node: Node, scope: Scope, in_worker: bool) -> Step:
        args = tuple(
            (p.name, collected_key(p.name) if p.collect else p.name)
            for p in node.params
            if p.name in self.available
        )
        executor = str(node.tags.get("executor") or (REMOTE if scope else LOCAL))
        here = in_worker or executor in self.inline
        if node.policy is not None:
            return Step(node.name, node, args, GUARDED, None if here else executor)
        if node.is_async:
            return Step(node.name, node, args, ASYNC, None)
        return Step(node.name, node, args, INLINE if here else EXECUTOR, executor)

    def _block_step(
        self, expander: Node, scope: Scope, order: tuple[str, ...], in_worker: bool
    ) -> Step:
        inner_scope = (*scope, expander.name)
        produces = {expander.name} if expander.name in self.requested else set()
        kept = set(produces)
        windows: list[tuple[Step, Window]] = []
        for collector, mine in self.gathered.get((scope, inner_scope), {}).items():
            n = self.needed[collector]
            produces.update(mine)
            spec = window_of(n)
            if spec is None:
                kept.update(mine)
            elif mine:
                _check_window(n, mine, self._branch_of)
                windows.append((self._call_step(n, scope, in_worker), spec))
        shipped = not in_worker and REMOTE in self.ships
        # stream() of a node inside a shipped block: its values come back with the rows.
        streamed = sorted(
            n
            for n in self.requested
            if shipped and n in self.needed and self.scopes[n] == inner_scope and n not in kept
        )
        produces.update(streamed)
        inner = self.frame(inner_scope, order, in_worker or shipped)
        given = expander.name in self.constants
        outer = inner.reads() - {expander.name}
        executor = str(expander.tags.get("executor") or (REMOTE if scope else LOCAL))
        if in_worker or executor in self.inline or expander.is_async:
            source = INLINE
        else:
            source = SHIP if executor in self.ships else EXECUTOR
        only = inner.steps[0] if len(inner.steps) == 1 else None
        threaded = (
            only is not None and only.mode in (EXECUTOR, JOB) and only.executor not in self.ships
        )
        block = Block(
            expander,
            given,
            inner,
            tuple(sorted(outer)),
            tuple(sorted(produces)),
            source,
            shipped,
            threaded,
            tuple(windows),
            tuple(sorted(kept)) if windows or streamed else None,
            skipping(expander),
            tuple(streamed),
        )
        if given:
            args: tuple[tuple[str, str], ...] = ()
        else:
            args = tuple((p.name, p.name) for p in expander.params if p.name in self.available)
        return Step(collected_key(expander.name), expander, args, BLOCK, executor, block)

    def _branch_of(self, name: str) -> Scope:
        """The scope of the branch values of ``name`` (an expander's items are inside its block)."""
        node = self.needed[name]
        scope = self.scopes[name]
        return (*scope, name) if node.expands and name not in self.constants else scope


def _in_jobs(
    steps: list[Step], waits_on: tuple[tuple[int, ...], ...], whole: bool, ships: frozenset[str]
) -> tuple[list[Step], tuple[tuple[int, ...], ...]]:
    """Merge runs of sync calls bound for one thread executor into JOB steps.

    (Not for executors in ``ships``: a process job is one node call, so that a crash or an
    error names its node.)

    A run is a whole branch (``whole``) whose steps all go to one such executor, or a stretch
    of a chain: each call reads the one before, which nothing else reads. Steps are in
    dependency order, so a run of consecutive steps can never wait on itself.
    """
    if len(steps) < 2:
        return steps, waits_on
    readers = [0] * len(steps)
    for deps in waits_on:
        for d in deps:
            readers[d] += 1
    first = steps[0]
    everything = whole and all(s.mode == EXECUTOR and s.executor == first.executor for s in steps)
    runs: list[list[int]] = []
    for i, step in enumerate(steps):
        run = runs[-1] if runs else None
        if run is not None and step.executor not in ships and _joins(steps[run[-1]], step):
            chained = run[-1] in waits_on[i] and readers[run[-1]] == 1
            if everything or chained:
                run.append(i)
                continue
        runs.append([i])
    if len(runs) == len(steps):
        return steps, waits_on
    run_of = [0] * len(steps)
    for r, run in enumerate(runs):
        for i in run:
            run_of[i] = r
    merged = [steps[run[0]] if len(run) == 1 else _job([steps[i] for i in run]) for run in runs]
    merged_waits = tuple(
        tuple(sorted({run_of[d] for i in run for d in waits_on[i]} - {r}))
        for r, run in enumerate(runs)
    )
    return merged, merged_waits


def _joins(last: Step, step: Step) -> bool:
    return last.mode == EXECUTOR == step.mode and last.executor == step.executor


def _job(calls: list[Step]) -> Step:
    """One JOB step running ``calls`` in order; its args are what they read from outside."""
    inside = {c.key for c in calls}
    reads = dict.fromkeys(k for c in calls for _, k in c.args if k not in inside)
    args = tuple((k, k) for k in reads)
    last = calls[-1]
    return Step(last.key, calls[0].node, args, JOB, last.executor, calls=tuple(calls))


def _producers(steps: list[Step]) -> dict[str, int]:
    """Frame key -> index of the step that writes it."""
    produced_by: dict[str, int] = {}
    for i, s in enumerate(steps):
        produced_by[s.key] = i
        if s.block is not None:
            for k in s.block.produces:
                produced_by[collected_key(k)] = i
    return produced_by


def _in_dependency_order(steps: list[Step]) -> list[Step]:
    """Reorder so each step follows the steps it reads from.

    Node order alone is not enough: a block step also reads the outer values its branches
    use, which may come later in the graph's order than its expander.
    """
    produced_by = _producers(steps)
    deps = [[produced_by[k] for k in _step_reads(s) if k in produced_by] for s in steps]
    if all(d < i for i, ds in enumerate(deps) for d in ds):
        return steps  # already in order: the usual case
    sorter: graphlib.TopologicalSorter[int] = graphlib.TopologicalSorter()
    for i, ds in enumerate(deps):
        sorter.add(i, *ds)
    return [steps[i] for i in sorter.static_order()]


def _step_reads(step: Step) -> Iterable[str]:
    yield from (k for _, k in step.args)
    if step.block is not None:
        yield from step.block.outer
        yield from _window_reads(step.block)
        if step.block.given:
            yield step.node.name


def _window_reads(block: Block) -> Iterable[str]:
    """What the block's @window functions read besides its own lists."""
    own = {collected_key(k) for k in block.produces}
    for w, _ in block.windows:
        yield from (k for _, k in w.args if k not in own)


def _check_collects(node: Node) -> None:
    if not any(p.collect for p in node.params):
        raise GraphError(
            f"@window function {node.name!r} has no Collect[...] parameter, so it has no "
            "branches to window. Give it a Collect parameter, or remove @window.",
            function=node.origin,
            node=node.name,
        )


def _check_window(node: Node, mine: set[str], branch_of: Callable[[str], Scope]) -> None:
    """A @window function's Collects must all close the one block it windows."""
    for p in node.params:
        if p.collect and p.name not in mine:
            raise GraphError(
                f"@window function {node.name!r} collects {p.name!r} from another parallel block "
                f"than its other Collect parameters; a window runs over one block's branches. "
                "Split it into one @window function per block.",
                function=node.origin,
                node=node.name,
            )


def _is_chain(awaitable: list[int], waits_on: tuple[tuple[int, ...], ...]) -> bool:
    """Whether each awaitable step depends, directly or not, on the previous one.

    Linear: steps are in dependency order, so one pass finds each step's latest awaitable
    ancestor; awaitables form a chain iff each one's latest is the awaitable just before it
    (an ancestor comes earlier, so none lies between the two).
    """
    if len(awaitable) < 2:
        return True
    is_awaitable = [False] * len(waits_on)
    for i in awaitable:
        is_awaitable[i] = True
    latest = [-1] * len(waits_on)  # per step: its highest-indexed awaitable strict ancestor
    for i, deps in enumerate(waits_on):
        best = -1
        for d in deps:
            best = max(best, d if is_awaitable[d] else latest[d])
        latest[i] = best
    return all(latest[b] == a for a, b in itertools.pairwise(awaitable))
