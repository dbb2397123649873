"""How the planner lays out @window functions, skip policies and streamed branch nodes."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import make_module

from asyncdag import Collect, Parallelizable, on_branch_error, window
from asyncdag.errors import GraphError
from asyncdag.graph.graph import FunctionGraph
from asyncdag.graph.plan import BLOCK, WINDOW, Plan, build_plan

INLINE = frozenset({"local", "remote"})


def plan_of(*functions: Any, outputs: list[str], streaming: bool = False) -> Plan:
    graph = FunctionGraph.from_modules([make_module(*functions)], {})
    return build_plan(graph, outputs, ("n",), (), INLINE, (), streaming)


def item(n: int) -> Parallelizable[int]:
    yield from range(n)


def value(item: int) -> int:
    return item


@window(size=2)
def windowed(value: Collect[int]) -> int:
    return sum(value)


def whole(value: Collect[int]) -> int:
    return sum(value)


def test_a_window_function_is_run_by_its_block_and_marked_in_its_frame() -> None:
    plan = plan_of(item, value, windowed, outputs=["windowed"])
    block_step, marker = plan.root.steps
    assert block_step.mode == BLOCK and marker.mode == WINDOW
    block = block_step.block
    assert block is not None
    assert [step.node.name for step, _ in block.windows] == ["windowed"]
    assert block.kept == ()  # nothing is gathered whole: windows drop their rows


def test_a_plain_collect_beside_a_window_keeps_its_whole_list() -> None:
    plan = plan_of(item, value, windowed, whole, outputs=["windowed", "whole"])
    block = plan.root.steps[0].block
    assert block is not None and block.produces == ("value",) and block.kept == ("value",)


def test_a_block_without_windows_gathers_everything_it_produces() -> None:
    block = plan_of(item, value, whole, outputs=["whole"]).root.steps[0].block
    assert block is not None and block.kept is None and block.gathered == ("value",)


def test_the_skip_policy_is_on_the_block_of_its_expander() -> None:
    skipping = on_branch_error("skip", max_failures=3)(item)
    block = plan_of(skipping, value, whole, outputs=["whole"]).root.steps[0].block
    assert block is not None and block.skip is not None and block.skip.max_failures == 3


def test_a_streamed_branch_node_is_planned_but_not_an_output() -> None:
    plan = plan_of(item, value, outputs=["value"], streaming=True)
    assert plan.outputs == ()
    block = plan.root.steps[0].block
    assert block is not None and block.frame.steps[0].node.name == "value"


def test_a_branch_node_output_outside_a_stream_names_the_collect() -> None:
    with pytest.raises(GraphError, match="'whole'"):
        plan_of(item, value, whole, outputs=["value"])
