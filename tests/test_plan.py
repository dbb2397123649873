"""The plan's fast paths: which frames run as plain calls, which await their steps in order.

``sync_only`` frames are run as a loop of function calls; ``sequential`` frames await their
awaitable steps one after the other, which is only right when each awaitable depends on the one
before. Both are decided by ``build_plan``; these tests pin that decision on small graphs.
"""

from __future__ import annotations

import itertools
import sys
import tracemalloc
from collections.abc import Callable
from typing import Any

from conftest import build, make_module
from hypothesis import given
from hypothesis import strategies as st

from asyncdag import Collect, Parallelizable, executors, tag, timeout
from asyncdag.graph.graph import FunctionGraph
from asyncdag.graph.plan import (
    ASYNC,
    BLOCK,
    EXECUTOR,
    INLINE,
    JOB,
    Frame,
    Plan,
    _is_chain,
    build_plan,
)

INLINE_EXECUTORS = frozenset({"local", "remote"})  # the defaults: InlineExecutor both


def plan_of(
    *functions: Callable[..., Any], outputs: list[str], inputs: tuple[str, ...] = ("x",)
) -> Plan:
    graph = FunctionGraph.from_modules([make_module(*functions)], {})
    return build_plan(graph, outputs, inputs, (), INLINE_EXECUTORS)


def modes(frame: Frame) -> dict[str, int]:
    return {s.node.name: s.mode for s in frame.steps}


# -- sync_only ------------------------------------------------------------------------------


def test_a_frame_of_def_nodes_on_inline_executors_is_sync_only() -> None:
    def a(x: int) -> int:
        return x

    def b(a: int) -> int:
        return a

    def c(a: int, b: int) -> int:
        return a + b

    root = plan_of(a, b, c, outputs=["c"]).root
    assert set(modes(root).values()) == {INLINE}
    assert root.sync_only


def test_an_async_node_makes_its_frame_not_sync_only() -> None:
    def a(x: int) -> int:
        return x

    async def b(a: int) -> int:
        return a

    root = plan_of(a, b, outputs=["b"]).root
    assert modes(root) == {"a": INLINE, "b": ASYNC}
    assert not root.sync_only


def test_a_def_node_tagged_for_a_thread_executor_makes_its_frame_not_sync_only() -> None:
    def a(x: int) -> int:
        return x

    @tag(executor="threads")
    def b(a: int) -> int:
        return a

    root = plan_of(a, b, outputs=["b"]).root
    assert modes(root) == {"a": INLINE, "b": EXECUTOR}
    assert not root.sync_only


def test_a_def_node_with_a_timeout_makes_its_frame_not_sync_only() -> None:
    @timeout(5)
    def a(x: int) -> int:
        return x

    assert not plan_of(a, outputs=["a"]).root.sync_only


def test_a_branch_of_def_nodes_is_sync_only_while_the_frame_holding_its_block_is_not() -> None:
    def item(x: int) -> Parallelizable[int]:
        yield from range(x)

    def double(item: int) -> int:
        return 2 * item

    def plus_one(double: int) -> int:
        return double + 1

    def total(plus_one: Collect[int]) -> int:
        return sum(plus_one)

    root = plan_of(item, double, plus_one, total, outputs=["total"]).root
    (block_step,) = (s for s in root.steps if s.mode == BLOCK)
    assert block_step.block is not None
    assert block_step.block.frame.sync_only
    assert not root.sync_only
    assert root.sequential  # one awaitable step: nothing to overlap


# -- sequential -----------------------------------------------------------------------------


def test_a_chain_of_async_nodes_is_sequential() -> None:
    async def a(x: int) -> int:
        return x

    async def b(a: int) -> int:
        return a

    async def c(b: int) -> int:
        return b

    assert plan_of(a, b, c, outputs=["c"]).root.sequential


def test_a_diamond_of_async_nodes_is_not_sequential() -> None:
    async def top(x: int) -> int:
        return x

    async def left(top: int) -> int:
        return top

    async def right(top: int) -> int:
        return top

    async def bottom(left: int, right: int) -> int:
        return left + right

    root = plan_of(top, left, right, bottom, outputs=["bottom"]).root
    assert not root.sequential  # left and right must overlap


def test_sync_steps_between_async_nodes_keep_a_chain_sequential() -> None:
    async def a(x: int) -> int:
        return x

    def between(a: int) -> int:
        return a

    def and_again(between: int) -> int:
        return between

    async def c(and_again: int) -> int:
        return and_again

    root = plan_of(a, between, and_again, c, outputs=["c"]).root
    assert modes(root) == {"a": ASYNC, "between": INLINE, "and_again": INLINE, "c": ASYNC}
    assert root.sequential


def test_async_nodes_joined_only_by_a_sync_node_are_not_sequential() -> None:
    async def a(x: int) -> int:
        return x

    async def b(x: int) -> int:
        return x

    def both(a: int, b: int) -> int:
        return a + b

    root = plan_of(a, b, both, outputs=["both"]).root
    assert not root.sequential  # a and b are independent: awaiting one then the other loses time


def test_an_async_node_reading_an_earlier_one_through_a_sync_node_is_sequential() -> None:
    async def a(x: int) -> int:
        return x

    def side(x: int) -> int:
        return x

    def via(a: int) -> int:
        return a

    async def b(via: int, side: int) -> int:
        return via + side

    assert plan_of(a, side, via, b, outputs=["b"]).root.sequential


def test_thread_routed_def_nodes_in_a_chain_are_one_thread_job_in_a_sequential_frame() -> None:
    @tag(executor="threads")
    def a(x: int) -> int:
        return x

    @tag(executor="threads")
    def b(a: int) -> int:
        return a

    root = plan_of(a, b, outputs=["b"]).root
    assert [(s.mode, s.key) for s in root.steps] == [(JOB, "b")]
    assert root.sequential


def test_a_block_and_an_async_node_independent_of_it_are_not_sequential() -> None:
    def item(x: int) -> Parallelizable[int]:
        yield from range(x)

    def double(item: int) -> int:
        return 2 * item

    def total(double: Collect[int]) -> int:
        return sum(double)

    async def aside(x: int) -> int:
        return x

    def both(total: int, aside: int) -> int:
        return total + aside

    root = plan_of(item, double, total, aside, both, outputs=["both"]).root
    assert {s.mode for s in root.steps} >= {BLOCK, ASYNC}
    assert not root.sequential  # the block's branches and `aside` must overlap


# -- the chain test is linear ---------------------------------------------------------------


def _is_chain_by_ancestor_sets(awaitable: list[int], waits_on: tuple[tuple[int, ...], ...]) -> bool:
    """The definition: each awaitable step has the previous one among its ancestors."""
    ancestors: list[set[int]] = []
    for deps in waits_on:
        acc = set(deps)
        for d in deps:
            acc |= ancestors[d]
        ancestors.append(acc)
    return all(a in ancestors[b] for a, b in itertools.pairwise(awaitable))


@st.composite
def dags(draw: st.DrawFn) -> tuple[list[int], tuple[tuple[int, ...], ...]]:
    """A DAG of steps in topological order (each waits on earlier ones), some awaitable."""
    n = draw(st.integers(0, 12))
    waits_on = tuple(
        tuple(sorted(draw(st.sets(st.integers(0, i - 1), max_size=3)))) if i else ()
        for i in range(n)
    )
    awaitable = sorted(draw(st.sets(st.integers(0, n - 1), max_size=n))) if n else []
    return awaitable, waits_on


@given(dags())
def test_the_chain_test_agrees_with_its_definition_on_any_dag(
    dag: tuple[list[int], tuple[tuple[int, ...], ...]],
) -> None:
    awaitable, waits_on = dag
    assert _is_chain(awaitable, waits_on) == _is_chain_by_ancestor_sets(awaitable, waits_on)


def _chain(length: int, kind: str = "async def", decorator: str = "") -> list[Any]:
    """Functions ``s_0(x) -> s_1(s_0) -> ...``, each adding one."""
    source = f"{decorator}{kind} s_0(x: int) -> int:\n    return x + 1\n" + "".join(
        f"{decorator}{kind} s_{i}(s_{i - 1}: int) -> int:\n    return s_{i - 1} + 1\n"
        for i in range(1, length)
    )
    namespace: dict[str, Any] = {"tag": tag}
    exec(source, namespace)
    return [namespace[f"s_{i}"] for i in range(length)]


def _async_chain(length: int) -> Any:
    return make_module(*_chain(length))


def _planning_peak_bytes(length: int) -> int:
    graph = FunctionGraph.from_modules([_async_chain(length)], {})
    tracemalloc.start()
    try:
        plan = build_plan(graph, [f"s_{length - 1}"], ("x",), (), INLINE_EXECUTORS)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert plan.root.sequential
    return peak


def test_planning_a_chain_of_async_nodes_takes_memory_linear_in_its_length() -> None:
    # Allocation is deterministic, so this is a structural property, not a timing: 4x the
    # nodes may take about 4x the memory, not the 16x of a set of ancestors per step.
    small, large = _planning_peak_bytes(500), _planning_peak_bytes(2000)
    assert large < 6 * small, (small, large)


# -- long graphs: nothing on the path recurses per node --------------------------------------

LONG = 2 * sys.getrecursionlimit()  # a recursion per node would fail here


async def test_a_chain_of_async_nodes_longer_than_the_recursion_limit_runs() -> None:
    dr = build(*_chain(LONG))
    assert await dr.execute([f"s_{LONG - 1}"], inputs={"x": 0}) == {f"s_{LONG - 1}": LONG}


async def test_a_chain_of_def_nodes_longer_than_the_recursion_limit_runs() -> None:
    dr = build(*_chain(LONG, "def"))
    assert await dr.execute([f"s_{LONG - 1}"], inputs={"x": 0}) == {f"s_{LONG - 1}": LONG}


async def test_a_chain_of_thread_routed_nodes_longer_than_the_recursion_limit_runs() -> None:
    dr = build(*_chain(LONG, "def", '@tag(executor="t")\n'), t=executors.ThreadExecutor())
    async with dr:
        out = await dr.execute([f"s_{LONG - 1}"], inputs={"x": 0})
    assert out == {f"s_{LONG - 1}": LONG}
    assert plan_of(*_chain(3, "def", '@tag(executor="t")\n'), outputs=["s_2"]).root.sequential


# -- step order -----------------------------------------------------------------------------


def _block_reading_a_late_outer_value() -> list[Callable[..., Any]]:
    def item(x: int) -> Parallelizable[int]:
        yield from range(x)

    def early(x: int) -> int:
        return x

    def late(early: int) -> int:  # after item in node order: one level further down
        return early * 10

    def shifted(item: int, late: int) -> int:
        return item + late

    def total(shifted: Collect[int]) -> int:
        return sum(shifted)

    return [item, early, late, shifted, total]


def test_a_block_step_comes_after_the_outer_values_its_branches_read() -> None:
    root = plan_of(*_block_reading_a_late_outer_value(), outputs=["total"]).root
    keys = [s.key for s in root.steps]
    assert keys.index("late") < keys.index("item[]") < keys.index("total")
    for i, deps in enumerate(root.waits_on):
        assert all(d < i for d in deps)


async def test_a_branch_reading_an_outer_value_planned_after_its_expander_gets_it() -> None:
    dr = build(*_block_reading_a_late_outer_value())
    assert await dr.execute(["total"], inputs={"x": 3}) == {"total": 0 + 1 + 2 + 3 * 30}


def test_planning_blocks_in_a_row_looks_at_each_collect_parameter_a_bounded_number_of_times(
    monkeypatch: Any,
) -> None:
    from asyncdag.graph import plan as plan_module

    def blocks(count: int) -> list[Callable[..., Any]]:
        functions: list[Callable[..., Any]] = []
        previous = "x"
        for i in range(count):
            namespace: dict[str, Any] = {"Parallelizable": Parallelizable, "Collect": Collect}
            exec(
                f"def e{i}({previous}: int) -> Parallelizable[int]:\n    yield {previous}\n"
                f"def b{i}(e{i}: int) -> int:\n    return e{i}\n"
                f"def c{i}(b{i}: Collect[int]) -> int:\n    return sum(b{i})\n",
                namespace,
            )
            functions += [namespace[f"e{i}"], namespace[f"b{i}"], namespace[f"c{i}"]]
            previous = f"c{i}"
        return functions

    looked: list[str] = []
    original = plan_module._FrameBuilder._branch_of

    def counting(self: Any, name: str) -> Any:
        looked.append(name)
        return original(self, name)

    monkeypatch.setattr(plan_module._FrameBuilder, "_branch_of", counting)
    for count in (20, 80):
        looked.clear()
        plan_of(*blocks(count), outputs=[f"c{count - 1}"])
        assert len(looked) <= 2 * count, f"{len(looked)} look-ups for {count} blocks"
