"""The planner decides once where each step runs; frames shipped to workers are planned for them."""

from __future__ import annotations

from typing import Any

from conftest import build

from asyncdag import Collect, Parallelizable, executors, tag
from asyncdag.graph.plan import EXECUTOR, INLINE, JOB, SHIP, Plan


def plan_of(dr: Any, outputs: list[str], inputs: dict[str, Any] | None = None) -> Plan:
    plan: Plan = dr._plan(tuple(outputs), inputs or {}, {})
    return plan


def three_node_branch(tagged: bool = True) -> tuple[Any, ...]:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def first(item: int) -> int:
        return item + 1

    if tagged:
        first = tag(executor="io")(first)

    def second(first: int) -> int:
        return first * 2

    def third(second: int) -> int:
        return second - 1

    def total(third: Collect[int]) -> int:
        return sum(third)

    return item, first, second, third, total


def test_a_branch_shipped_to_processes_is_planned_as_plain_calls_in_the_worker() -> None:
    dr = build(
        *three_node_branch(),
        remote=executors.ProcessExecutor(max_tasks=1),
        io=executors.ThreadExecutor(max_tasks=1),
    )
    (block_step,) = [s for s in plan_of(dr, ["total"], {"n": 3}).root.steps if s.block]
    assert block_step.block is not None
    assert block_step.block.shipped
    inner = block_step.block.frame
    assert inner.sync_only, "a shipped branch runs as plain calls in the worker"
    assert [s.mode for s in inner.steps] == [INLINE, INLINE, INLINE]


def test_a_branch_of_sync_nodes_on_one_thread_executor_is_one_job_step() -> None:
    dr = build(*three_node_branch(tagged=False), remote=executors.ThreadExecutor(max_tasks=1))
    dr_io = build(*three_node_branch(), io=executors.ThreadExecutor(max_tasks=1))
    (block_step,) = [s for s in plan_of(dr, ["total"], {"n": 3}).root.steps if s.block]
    assert block_step.block is not None and block_step.block.threaded
    (job,) = block_step.block.frame.steps
    assert job.mode == JOB and [c.node.name for c in job.calls] == ["first", "second", "third"]
    # "first" is tagged for another executor than the rest: only the run of two is one job.
    (block_io,) = [s for s in plan_of(dr_io, ["total"], {"n": 3}).root.steps if s.block]
    assert block_io.block is not None
    modes = [s.mode for s in block_io.block.frame.steps]
    assert modes == [EXECUTOR, INLINE, INLINE]


def test_an_expander_on_a_process_executor_is_listed_there() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def total(item: Collect[int]) -> int:
        return sum(item)

    dr = build(item, total, local=executors.ProcessExecutor(max_tasks=1))
    (block_step,) = [s for s in plan_of(dr, ["total"], {"n": 3}).root.steps if s.block]
    assert block_step.block is not None and block_step.block.source == SHIP
