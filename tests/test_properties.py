"""Random DAGs (sync and async nodes, nested blocks, overrides) equal a sequential reference.

Hypothesis draws a DAG as a list of node specs, writes each node as Python source, and execs
it into a fresh module, so parameter names wire the nodes exactly as a user's module would.
A tiny sequential evaluator below computes what every requested output must be and how often
every node must run; the engine must agree on each executor.

Profiles (registered in ``conftest.py``): "ci", the default, a bounded run; and "long", 1,000
examples, chosen with ``--hypothesis-profile=long`` or ``ASYNCDAG_HYPOTHESIS_PROFILE=long``.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import types
from collections import ChainMap, Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import psutil
import pytest
from conftest import make_module
from hypothesis import assume, event, example, given, settings
from hypothesis import strategies as st

from asyncdag import Builder, Collect, Parallelizable, executors, tag
from asyncdag.errors import GraphError, MissingInputError

pytestmark = pytest.mark.slow  # long property runs: left out of `make test-quick`

# Process runs start two interpreters per example: a quarter of the examples, at least five.
PROCESS_EXAMPLES = max(5, settings.default.max_examples // 4)

MODULUS = 1_000_003
MAX_DEPTH = 3  # blocks nest up to three levels


# -- the DAG spec -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeSpec:
    """One function of a generated DAG.

    ``scope`` is the path of block ids the node's value lives in (an expander lives in its
    parent's scope, where its value is the list of items; its item lives in ``block``).
    """

    name: str
    kind: str  # "plain", "expander" or "collector"
    scope: tuple[int, ...]
    is_async: bool
    params: tuple[str, ...]
    consts: tuple[int, ...]
    collects: tuple[str, ...] = ()  # Collect[int] parameters of a collector
    block: int | None = None  # the block an expander opens or a collector closes
    style: str = ""  # expander: "generator", "async_generator", "list", "async_list"
    lengths: tuple[int, int] = (0, 0)  # expander: fewest and most items
    fails: int = 0  # k > 0: raise LookupError in each call whose value is a multiple of k
    executor: str = ""  # a sync node may be routed to a named executor: @tag(executor=...)

    def source(self) -> str:
        args = [f"{p}: int" for p in self.params] + [f"{c}: Collect[int]" for c in self.collects]
        ret = "Parallelizable[int]" if self.kind == "expander" else "int"
        head = f"{'async ' if self.is_async else ''}def {self.name}({', '.join(args)}) -> {ret}:"
        mix = " + ".join(
            [str(self.consts[0])]
            + [f"{c} * {p}" for c, p in zip(self.consts[1:], self.params, strict=True)]
        )
        body = [f"_trace({self.name!r})", f"s = ({mix}) % {MODULUS}"]
        if self.is_async and self.kind != "expander":
            body.append("for _ in range(s % 3):")  # finish out of order, deterministically
            body.append("    await asyncio.sleep(0)")
        # A failing generator raises after yielding ``s % (len(items) + 1)`` of its items.
        fail = f"if s % {self.fails} == 0: _fail({self.name!r}, {{}})" if self.fails else ""
        generates = self.kind == "expander" and self.style.endswith("generator")
        if fail and not generates:
            body.append(fail.format("None"))
        if self.kind == "plain":
            body.append("return s")
        elif self.kind == "collector":
            columns = ", ".join(self.collects)
            weights = " + ".join(f"{k + 2} * v{k}" for k in range(len(self.collects)))
            names = ", ".join(f"v{k}" for k in range(len(self.collects)))
            body.append(f"for {names}, in zip({columns}, strict=True):")
            body.append(f"    s = (s * 31 + {weights}) % {MODULUS}")
            body.append(f"return (s + 7 * len({self.collects[0]})) % {MODULUS}")
        else:
            low, high = self.lengths
            body.append(
                f"items = [(s + 11 * j) % {MODULUS} for j in range({low} + s % {high - low + 1})]"
            )
            if generates and fail:
                body.append("cut = s % (len(items) + 1)")
                body.append("head, tail = items[:cut], items[cut:]")
            else:
                body.append("head, tail = items, []")
            if self.style == "generator":
                body.append("yield from head")
                body += [fail.format("cut"), "yield from tail"] if fail else []
            elif self.style == "async_generator":
                body += ["for item in head:", "    await asyncio.sleep(0)", "    yield item"]
                body += [fail.format("cut"), "for item in tail:", "    yield item"] if fail else []
            elif self.style == "async_list":
                body += ["await asyncio.sleep(0)", "return items"]
            else:
                body.append("return items")
        routed = [f"@tag(executor={self.executor!r})"] if self.executor else []
        return "\n".join([*routed, head, *(f"    {line}" for line in body)])


# How an overridden expander's items are given: each a fresh iterable of the listed items.
SHAPES: dict[str, Callable[[list[int]], Any]] = {
    "list": list,
    "tuple": tuple,
    "iterator": iter,
    "generator": lambda items: (item for item in items),
}


@dataclass(frozen=True)
class Request:
    outputs: tuple[str, ...]
    overrides: Mapping[str, Any]  # an overridden expander's items as a list
    extra_inputs: bool  # also pass inputs nothing needs
    shape: str = "list"  # of the overridden expanders' items, see SHAPES

    def overrides_given(self) -> dict[str, Any]:
        """The overrides to pass to ``execute``: expanders' items in a fresh iterable."""
        shape = SHAPES[self.shape]
        return {k: shape(v) if isinstance(v, list) else v for k, v in self.overrides.items()}


@dataclass(frozen=True)
class Case:
    nodes: tuple[NodeSpec, ...]  # in a topological order
    inputs: Mapping[str, int]
    requests: tuple[Request, ...]
    batch_size: int | None = None  # for ProcessExecutor

    def source(self) -> str:
        return "\n\n".join(node.source() for node in self.nodes)

    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        lines = [
            self.source(),
            f"# inputs: {dict(self.inputs)}",
            f"# batch_size: {self.batch_size}",
        ]
        lines += [f"# {r}" for r in self.requests]
        return "\n".join(lines)

    def module(self) -> types.ModuleType:
        module = types.ModuleType(f"random_dag_{next(_module_ids)}")
        module.__dict__.update(
            asyncio=asyncio,
            Collect=Collect,
            Parallelizable=Parallelizable,
            tag=tag,
            _calls=[],  # node names, one per call
            _inject=False,  # False: ``_fail`` records the failure instead of raising it
            _would_fail=[],
        )
        source = HELPERS + self.source()
        # dont_inherit: real annotation objects, not this file's postponed (string) ones
        exec(compile(source, module.__name__, "exec", dont_inherit=True), module.__dict__)
        return module


_module_ids = itertools.count()

HELPERS = """
def _trace(name):
    _calls.append(name)

def _fail(name, cut):
    if _inject:
        raise LookupError(f"injected failure in {name}")
    _would_fail.append(cut)

"""


# -- the strategy -------------------------------------------------------------------------------


@st.composite
def cases(draw: st.DrawFn) -> Case:
    nodes: list[NodeSpec] = []
    names = itertools.count()
    block_ids = itertools.count()
    inputs = {f"x{i}": draw(st.integers(0, 99)) for i in range(draw(st.integers(0, 2)))}
    budget = [draw(st.integers(8, 20))]  # optional nodes left; forced ones may exceed it

    def params(visible: list[str], local: list[str], most: int = 3) -> list[str]:
        """Some visible names, one at least from ``local``: inside a block, a node must be
        downstream of the block's expander."""
        chosen = (
            draw(st.lists(st.sampled_from(visible), max_size=most, unique=True)) if visible else []
        )
        if local and not set(chosen) & set(local):
            chosen.insert(draw(st.integers(0, len(chosen))), draw(st.sampled_from(local)))
        return chosen

    def consts(n: int) -> tuple[int, ...]:
        return tuple(draw(st.lists(st.integers(0, 20), min_size=n + 1, max_size=n + 1)))

    def plain(scope: tuple[int, ...], visible: list[str], local: list[str]) -> None:
        budget[0] -= 1
        chosen = params(visible, local)
        name = f"n{next(names)}"
        nodes.append(
            NodeSpec(name, "plain", scope, draw(st.booleans()), tuple(chosen), consts(len(chosen)))
        )
        visible.append(name)
        local.append(name)

    def block(scope: tuple[int, ...], visible: list[str], local: list[str]) -> None:
        budget[0] -= 3
        depth = len(scope)
        bid = next(block_ids)
        chosen = params(visible, local)
        low = draw(st.integers(0, 1))
        high = draw(st.integers(max(low, 1), 3 if depth == 0 else 2))
        style = draw(st.sampled_from(["generator", "async_generator", "list", "async_list"]))
        expander = f"p{next(names)}"
        nodes.append(
            NodeSpec(
                expander,
                "expander",
                scope,
                style.startswith("async"),
                tuple(chosen),
                consts(len(chosen)),
                block=bid,
                style=style,
                lengths=(low, high),
            )
        )
        inner = (*scope, bid)
        inner_visible, inner_local = [*visible, expander], [expander]
        plain(inner, inner_visible, inner_local)  # every block has a branch node
        body(inner, inner_visible, inner_local, most=2)
        branch_values = [n for n in inner_local if n != expander]
        for _ in range(draw(st.integers(1, 2))):
            collects = draw(
                st.lists(st.sampled_from(branch_values), min_size=1, max_size=3, unique=True)
            )
            extra = (
                draw(st.lists(st.sampled_from(visible), max_size=2, unique=True)) if visible else []
            )
            name = f"c{next(names)}"
            nodes.append(
                NodeSpec(
                    name,
                    "collector",
                    scope,
                    draw(st.booleans()),
                    tuple(extra),
                    consts(len(extra)),
                    collects=tuple(collects),
                    block=bid,
                )
            )
            visible.append(name)
            local.append(name)

    def body(scope: tuple[int, ...], visible: list[str], local: list[str], most: int) -> None:
        for _ in range(draw(st.integers(0 if scope else 1, most))):
            if budget[0] <= 0 and scope:
                return
            if (
                len(scope) < MAX_DEPTH
                and budget[0] >= 3
                and draw(st.sampled_from((True, True, False)))
            ):
                block(scope, visible, local)
            else:
                plain(scope, visible, local)

    body((), list(inputs), [], most=4)

    top = [n for n in nodes if n.scope == ()]
    requests = []
    for _ in range(draw(st.integers(1, 3))):
        outputs = draw(
            st.lists(st.sampled_from([n.name for n in top]), min_size=1, max_size=4, unique=True)
        )
        overridden = draw(st.lists(st.sampled_from(top), max_size=2, unique_by=lambda n: n.name))
        overrides = {
            n.name: (
                draw(st.lists(st.integers(0, 99), max_size=3))
                if n.kind == "expander"
                else draw(st.integers(0, 99))
            )
            for n in overridden
        }
        shape = draw(st.sampled_from(list(SHAPES)))
        requests.append(Request(tuple(outputs), overrides, draw(st.booleans()), shape))
    batch_size = draw(st.sampled_from([None, 1, 3]))
    return Case(tuple(nodes), inputs, tuple(requests), batch_size)


# -- the reference ------------------------------------------------------------------------------


def needed_names(case: Case, request: Request) -> set[str]:
    """Every node and input the requested outputs read, stopping at overridden nodes."""
    specs = {n.name: n for n in case.nodes}
    needed: set[str] = set()
    stack = list(request.outputs)
    while stack:
        name = stack.pop()
        if name in needed:
            continue
        needed.add(name)
        if name in specs and name not in request.overrides:
            stack += [*specs[name].params, *specs[name].collects]
    return needed


def inputs_for(case: Case, request: Request) -> dict[str, int]:
    if request.extra_inputs:
        return dict(case.inputs)
    needed = needed_names(case, request)
    return {k: v for k, v in case.inputs.items() if k in needed}


# A branch path, outermost first: ((expander, index, item), ...).
Path = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Expected:
    outputs: dict[str, Any]
    calls: Counter[str]
    failures: list[str]  # the "raised by node" note of each call that would fail


def failure_note(node: str, path: Path, cut: int | None) -> str:
    where = ".".join(f"{name}[{index}]" for name, index, _ in path)
    note = f"asyncdag: raised by node {node!r}"
    note += f" in branch {where} (item {path[-1][2]})" if path else ""
    return note + (f" while producing item {cut}" if cut is not None else "")


async def reference(case: Case, module: types.ModuleType, request: Request) -> Expected:
    """Evaluate ``request`` one node at a time: the outputs, the calls of each node, and the
    calls that would fail (the module records them instead of raising while ``_inject`` is off).

    Each needed node runs once in its frame (the top, or one branch); an expander's block runs
    its branches in order, one frame per item, and a collector reads its lists from them.
    """
    needed = needed_names(case, request)
    calls: Counter[str] = Counter()
    failures: list[str] = []

    async def run_frame(scope: tuple[int, ...], frame: ChainMap[Any, Any], path: Path) -> None:
        for spec in case.nodes:
            if spec.scope != scope or spec.name not in needed:
                continue
            if spec.name in request.overrides:
                if spec.kind == "expander":
                    await run_block(spec, list(frame[spec.name]), frame, path)
                continue
            kwargs = {p: frame[p] for p in spec.params}
            for name in spec.collects:
                kwargs[name] = [branch[name] for branch in frame[("branches", spec.block)]]
            result = getattr(module, spec.name)(**kwargs)
            calls[spec.name] += 1
            if inspect.isasyncgen(result):
                result = [item async for item in result]
            elif inspect.iscoroutine(result):
                result = await result
            if spec.kind == "expander":
                result = list(result)
            failures.extend(failure_note(spec.name, path, cut) for cut in module._would_fail)
            module._would_fail.clear()
            frame.maps[0][spec.name] = result
            if spec.kind == "expander":
                await run_block(spec, result, frame, path)

    async def run_block(
        spec: NodeSpec, items: list[int], frame: ChainMap[Any, Any], path: Path
    ) -> None:
        assert spec.block is not None
        branches = []
        for index, item in enumerate(items):
            branch = frame.new_child({spec.name: item})
            await run_frame((*spec.scope, spec.block), branch, (*path, (spec.name, index, item)))
            branches.append(branch)
        frame.maps[0][("branches", spec.block)] = branches

    top: ChainMap[Any, Any] = ChainMap({**inputs_for(case, request), **request.overrides})
    await run_frame((), top, ())
    module._calls.clear()
    return Expected({name: top[name] for name in request.outputs}, calls, failures)


# -- the property -------------------------------------------------------------------------------


async def check_against_reference(
    case: Case, executor: executors.Executor, counted: Callable[[NodeSpec], bool]
) -> None:
    """Run every request of ``case`` at once on one driver; compare outputs and node calls."""
    module = case.module()
    expected, expected_calls = [], Counter[str]()
    for request in case.requests:
        answer = await reference(case, module, request)
        expected.append(answer.outputs)
        expected_calls += answer.calls

    async with Builder().with_modules(module).with_remote_executor(executor).build() as dr:
        got = await asyncio.gather(
            *(
                dr.execute(
                    list(r.outputs), inputs=inputs_for(case, r), overrides=r.overrides_given()
                )
                for r in case.requests
            )
        )

    assert got == expected
    counted_names = {n.name for n in case.nodes if counted(n)}
    got_calls = Counter(name for name in module._calls if name in counted_names)
    assert got_calls == Counter({k: v for k, v in expected_calls.items() if k in counted_names})


def everywhere(spec: NodeSpec) -> bool:
    return True


def outside_blocks(spec: NodeSpec) -> bool:
    """Nodes that run in this process under ProcessExecutor (branches run in workers)."""
    return spec.scope == ()


# A three-level nest read from every level, two aligned Collects, an overridden expander.
THREE_LEVELS = Case(
    nodes=(
        NodeSpec("n0", "plain", (), False, ("x0",), (1, 2)),
        NodeSpec(
            "p1",
            "expander",
            (),
            True,
            ("n0",),
            (0, 1),
            block=0,
            style="async_generator",
            lengths=(1, 3),
        ),
        NodeSpec(
            "p2",
            "expander",
            (0,),
            False,
            ("p1",),
            (1, 1),
            block=1,
            style="generator",
            lengths=(1, 2),
        ),
        NodeSpec(
            "p3",
            "expander",
            (0, 1),
            True,
            ("p2", "n0"),
            (2, 1, 1),
            block=2,
            style="async_list",
            lengths=(1, 2),
        ),
        NodeSpec("n4", "plain", (0, 1, 2), True, ("p3", "p1", "x0"), (3, 1, 2, 5)),
        NodeSpec("n5", "plain", (0, 1, 2), False, ("n4", "p2"), (1, 1, 3)),
        NodeSpec("c6", "collector", (0, 1), False, ("p2",), (0, 1), collects=("n5", "n4"), block=2),
        NodeSpec("c7", "collector", (0,), True, (), (4,), collects=("c6",), block=1),
        NodeSpec("c8", "collector", (), False, ("n0",), (0, 1), collects=("c7",), block=0),
        NodeSpec("n9", "plain", (), True, ("c8", "n0"), (1, 2, 3)),
    ),
    inputs={"x0": 5},
    requests=(
        Request(("n9", "p1"), {}, False),
        Request(("c8", "p1"), {"p1": [4, 0, 7]}, False, "generator"),
        Request(("n9",), {"n0": 3}, True),
    ),
    batch_size=3,
)


@given(case=cases())
@example(case=THREE_LEVELS)
async def test_random_dags_equal_the_reference_on_the_inline_executor(case: Case) -> None:
    await check_against_reference(case, executors.InlineExecutor(), everywhere)


@given(case=cases())
@example(case=THREE_LEVELS)
async def test_random_dags_equal_the_reference_on_a_thread_executor(case: Case) -> None:
    await check_against_reference(case, executors.ThreadExecutor(max_tasks=3), everywhere)


@pytest.mark.timeout(120)
@settings(max_examples=PROCESS_EXAMPLES)
@given(case=cases())
@example(case=THREE_LEVELS)
async def test_random_dags_equal_the_reference_on_a_process_executor(case: Case) -> None:
    executor = executors.ProcessExecutor(max_tasks=2, batch_size=case.batch_size)
    await check_against_reference(case, executor, outside_blocks)


@st.composite
def failing_cases(draw: st.DrawFn, base: st.SearchStrategy[Case] | None = None) -> Case:
    """A case in which one node raises on every call whose value is a multiple of k."""
    case = draw(cases() if base is None else base)
    victim = draw(st.sampled_from([n.name for n in case.nodes]))
    every = draw(st.integers(1, 3))
    nodes = tuple(replace(n, fails=every) if n.name == victim else n for n in case.nodes)
    return replace(case, nodes=nodes)


def children() -> list[psutil.Process]:
    """Live child processes (psutil reads /proc: call it off the loop)."""
    return [c for c in psutil.Process().children(recursive=True) if c.status() != "zombie"]


async def children_gone() -> list[psutil.Process]:
    """The live child processes left right after an execute ended: there must be none."""
    return await asyncio.to_thread(children)


async def check_failures_against_reference(
    case: Case, executor: executors.Executor, builder: Builder | None = None
) -> None:
    """Each request either equals the reference or raises the injected error, noted with the
    node and branch of one failing call; nothing is left running."""
    module = case.module()
    expected = [await reference(case, module, request) for request in case.requests]
    module._inject = True
    before = asyncio.all_tasks()
    builder = (builder or Builder()).with_modules(module).with_remote_executor(executor)

    async with builder.build() as dr:
        got = await asyncio.gather(
            *(
                dr.execute(
                    list(r.outputs), inputs=inputs_for(case, r), overrides=r.overrides_given()
                )
                for r in case.requests
            ),
            return_exceptions=True,
        )

    for want, result in zip(expected, got, strict=True):
        event("raises" if want.failures else "returns")
        if not want.failures:
            assert result == want.outputs
            continue
        assert type(result) is LookupError, result
        assert str(result).startswith("injected failure in ")
        noted = [n for n in result.__notes__ if "raised by node" in n]
        assert len(noted) == 1, result.__notes__
        assert noted[0] in want.failures, (noted[0], want.failures)
    assert asyncio.all_tasks() - before == set()
    assert await children_gone() == []


@given(case=failing_cases())
async def test_injected_node_failures_raise_as_themselves_noted_on_the_inline_executor(
    case: Case,
) -> None:
    await check_failures_against_reference(case, executors.InlineExecutor())


@given(case=failing_cases())
async def test_injected_node_failures_raise_as_themselves_noted_on_a_thread_executor(
    case: Case,
) -> None:
    await check_failures_against_reference(case, executors.ThreadExecutor(max_tasks=3))


@settings(max_examples=PROCESS_EXAMPLES)
@given(case=failing_cases())
async def test_injected_node_failures_raise_as_themselves_noted_on_a_process_executor(
    case: Case,
) -> None:
    executor = executors.ProcessExecutor(max_tasks=2, batch_size=case.batch_size)
    await check_failures_against_reference(case, executor)


@st.composite
def routed_cases(draw: st.DrawFn) -> Case:
    """A case in which some sync nodes, inside blocks or not, are tagged executor="cpu"."""
    case = draw(cases())
    sync = [n.name for n in case.nodes if not n.is_async]
    routed = set(draw(st.lists(st.sampled_from(sync), unique=True))) if sync else set()
    nodes = tuple(replace(n, executor="cpu") if n.name in routed else n for n in case.nodes)
    return replace(case, nodes=nodes)


@settings(max_examples=PROCESS_EXAMPLES)
@given(case=routed_cases())
async def test_random_dags_with_nodes_routed_to_a_named_process_executor_equal_the_reference(
    case: Case,
) -> None:
    """Local sync nodes on threads, branches inline (two at a time), tagged nodes on processes."""
    module = case.module()
    expected = [(await reference(case, module, r)).outputs for r in case.requests]
    builder = (
        Builder()
        .with_modules(module)
        .with_local_executor(executors.ThreadExecutor(max_tasks=2))
        .with_remote_executor(executors.InlineExecutor(max_tasks=2))
        .with_executor("cpu", executors.ProcessExecutor(max_tasks=2))
    )
    async with builder.build() as dr:
        got = await asyncio.gather(
            *(
                dr.execute(
                    list(r.outputs), inputs=inputs_for(case, r), overrides=r.overrides_given()
                )
                for r in case.requests
            )
        )
    assert got == expected
    assert await children_gone() == []


# THREE_LEVELS with its nested sync generator sent to the "cpu" processes, failing each call
# after some of its items: the note must still say "while producing item k".
ROUTED_GENERATOR_FAILING = replace(
    THREE_LEVELS,
    nodes=tuple(
        replace(n, executor="cpu", fails=1) if n.name == "p2" else n for n in THREE_LEVELS.nodes
    ),
)


@settings(max_examples=PROCESS_EXAMPLES)
@given(case=failing_cases(routed_cases()))
@example(case=ROUTED_GENERATOR_FAILING)
async def test_injected_failures_in_nodes_routed_to_a_named_process_executor_raise_noted(
    case: Case,
) -> None:
    builder = (
        Builder()
        .with_local_executor(executors.ThreadExecutor(max_tasks=2))
        .with_executor("cpu", executors.ProcessExecutor(max_tasks=2))
    )
    await check_failures_against_reference(case, executors.InlineExecutor(max_tasks=2), builder)


async def check_cancellation(case: Case, executor: executors.Executor, ticks: int) -> None:
    """Cancel the first request after ``ticks`` loop turns: it raises CancelledError (unless it
    had already finished, with the right answer), leaves nothing running, and the driver still
    answers the same request afterwards."""
    module = case.module()
    request = case.requests[0]
    want = (await reference(case, module, request)).outputs
    inputs = inputs_for(case, request)
    before = asyncio.all_tasks()

    async with Builder().with_modules(module).with_remote_executor(executor).build() as dr:
        overrides = request.overrides_given()
        task = asyncio.create_task(dr.execute(list(request.outputs), inputs, overrides))
        for _ in range(ticks):
            await asyncio.sleep(0)
        if task.cancel():
            event("cancelled while running")
            with pytest.raises(asyncio.CancelledError):
                await task
        else:
            event("finished before the cancel")
            assert task.result() == want
        assert asyncio.all_tasks() - before == set()
        again = await dr.execute(list(request.outputs), inputs, request.overrides_given())
        assert again == want
    if isinstance(executor, executors.ProcessExecutor):
        assert await children_gone() == []


@given(case=cases(), ticks=st.integers(0, 40))
async def test_cancelled_execute_leaves_nothing_running_on_the_inline_executor(
    case: Case, ticks: int
) -> None:
    await check_cancellation(case, executors.InlineExecutor(), ticks)


@given(case=cases(), ticks=st.integers(0, 40))
async def test_cancelled_execute_leaves_nothing_running_on_a_thread_executor(
    case: Case, ticks: int
) -> None:
    await check_cancellation(case, executors.ThreadExecutor(max_tasks=3), ticks)


@settings(max_examples=PROCESS_EXAMPLES)
@given(case=cases(), ticks=st.integers(0, 40))
async def test_cancelled_execute_leaves_nothing_running_on_a_process_executor(
    case: Case, ticks: int
) -> None:
    executor = executors.ProcessExecutor(max_tasks=2, batch_size=case.batch_size)
    await check_cancellation(case, executor, ticks)


@given(case=cases(), data=st.data())
async def test_missing_inputs_raise_missing_input_error_naming_them_all_before_anything_runs(
    case: Case, data: st.DataObject
) -> None:
    request = case.requests[0]
    given_inputs = inputs_for(case, request)
    needed = sorted(k for k in given_inputs if k in needed_names(case, request))
    assume(needed)
    missing = set(data.draw(st.lists(st.sampled_from(needed), min_size=1, unique=True)))
    module = case.module()
    dr = Builder().with_modules(module).build()

    with pytest.raises(MissingInputError) as info:
        await dr.execute(
            list(request.outputs),
            inputs={k: v for k, v in given_inputs.items() if k not in missing},
            overrides=request.overrides_given(),
        )

    assert set(info.value.missing) == missing
    assert module._calls == [], "nothing ran"


@given(case=cases(), data=st.data())
async def test_requesting_a_node_inside_a_block_raises_graph_error_naming_a_collect(
    case: Case, data: st.DataObject
) -> None:
    inside = [n for n in case.nodes if n.scope]
    assume(inside)
    node = data.draw(st.sampled_from(inside), label="requested")
    # What may be asked instead: a top-level collector of the block the node sits in.
    top_block = node.scope[0]
    collectors = [n.name for n in case.nodes if n.kind == "collector" and n.block == top_block]
    dr = Builder().with_modules(case.module()).build()

    with pytest.raises(GraphError) as info:
        await dr.execute([node.name], inputs=dict(case.inputs))

    message = str(info.value)
    assert repr(node.name) in message
    assert any(repr(name) in message for name in collectors), (message, collectors)


# -- regressions --------------------------------------------------------------------------------


def _one_block() -> types.ModuleType:
    def item() -> Parallelizable[int]:
        yield from (1, 2)

    def tens(item: int) -> int:
        return item * 10

    def total(tens: Collect[int]) -> list[int]:
        return tens

    return make_module(item, tens, total)


def _three_four() -> Any:
    yield from (3, 4)


@pytest.mark.parametrize(
    "make_override",
    [lambda: iter([3, 4]), _three_four, lambda: (3, 4), lambda: range(3, 5)],
    ids=["iterator", "generator", "tuple", "range"],
)
async def test_requested_parallelizable_overridden_with_an_iterable_returns_the_list_of_its_items(
    make_override: Callable[[], Any],
) -> None:
    dr = Builder().with_modules(_one_block()).build()

    out = await dr.execute(["item", "total"], overrides={"item": make_override()})

    assert out == {"item": [3, 4], "total": [30, 40]}


async def test_requested_parallelizable_overridden_with_a_list_returns_that_list() -> None:
    dr = Builder().with_modules(_one_block()).build()

    out = await dr.execute(["item", "total"], overrides={"item": [3, 4]})

    assert out == {"item": [3, 4], "total": [30, 40]}


def test_generated_source_wires_nodes_by_parameter_name() -> None:
    """The generator's own check: the example module has the functions and wiring it claims."""
    module = THREE_LEVELS.module()
    signature = inspect.signature(module.c6)
    assert list(signature.parameters) == ["p2", "n5", "n4"]
    assert signature.parameters["n5"].annotation == Collect[int]
    assert inspect.isasyncgenfunction(module.p1)
    assert module.n0.__module__ == module.__name__
