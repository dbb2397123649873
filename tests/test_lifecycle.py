"""Hamilton-style lifecycle hooks: called around every node and run, sync or async."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Collect, Parallelizable
from asyncdag.lifecycle import GraphExecutionHook, NodeExecutionHook


class Recorder(NodeExecutionHook, GraphExecutionHook):
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def run_before_graph_execution(self, **kwargs: Any) -> None:
        self.calls.append(("before_graph", kwargs))

    def run_after_graph_execution(self, **kwargs: Any) -> None:
        self.calls.append(("after_graph", kwargs))

    def run_before_node_execution(self, **kwargs: Any) -> None:
        self.calls.append(("before_node", kwargs))

    def run_after_node_execution(self, **kwargs: Any) -> None:
        self.calls.append(("after_node", kwargs))

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [kwargs for k, kwargs in self.calls if k == kind]


def chain() -> Any:
    def doubled(x: int) -> int:
        return x * 2

    async def shifted(doubled: int) -> int:
        return doubled + 1

    return make_module(doubled, shifted)


def fan_out() -> Any:
    def url(n: int) -> Parallelizable[int]:
        yield from range(n)

    def page(url: int) -> int:
        return url * 10

    def total(page: Collect[int]) -> int:
        return sum(page)

    return make_module(url, page, total)


async def test_node_hooks_run_before_and_after_every_node_with_hamiltons_arguments() -> None:
    hook = Recorder()
    dr = Builder().with_modules(chain()).with_adapters(hook).build()
    assert await dr.execute(["shifted"], inputs={"x": 3}) == {"shifted": 7}
    before = hook.of("before_node")
    assert [b["node_name"] for b in before] == ["doubled", "shifted"]
    assert before[0]["node_kwargs"] == {"x": 3}
    assert before[0]["node_return_type"] is int
    assert before[0]["node_input_types"] == {"x": int}
    assert before[0]["task_id"] is None and before[0]["branch_index"] == ()
    after = hook.of("after_node")
    assert [(a["node_name"], a["result"], a["success"], a["error"]) for a in after] == [
        ("doubled", 6, True, None),
        ("shifted", 7, True, None),
    ]
    assert len({c["run_id"] for _, c in hook.calls}) == 1


async def test_graph_hooks_see_the_request_the_nodes_to_run_and_the_results() -> None:
    hook = Recorder()
    dr = Builder().with_modules(chain()).with_adapters(hook).build()
    await dr.execute(["shifted"], inputs={"x": 3})
    (before,) = hook.of("before_graph")
    assert before["final_vars"] == ["shifted"]
    assert before["inputs"] == {"x": 3} and before["overrides"] == {}
    assert sorted(before["execution_path"]) == ["doubled", "shifted"]
    (after,) = hook.of("after_graph")
    assert after["success"] is True and after["results"] == {"shifted": 7}
    assert hook.calls[0][0] == "before_graph" and hook.calls[-1][0] == "after_graph"


async def test_branch_nodes_reach_hooks_with_their_branch_index() -> None:
    hook = Recorder()
    dr = Builder().with_modules(fan_out()).with_adapters(hook).build()
    await dr.execute(["total"], inputs={"n": 3})
    pages = [a for a in hook.of("after_node") if a["node_name"] == "page"]
    assert sorted((a["branch_index"], a["task_id"], a["result"]) for a in pages) == [
        ((0,), "url[0]", 0),
        ((1,), "url[1]", 10),
        ((2,), "url[2]", 20),
    ]


async def test_async_hook_methods_are_awaited_on_the_loop() -> None:
    seen: list[str] = []

    class AsyncHook(NodeExecutionHook):
        async def run_before_node_execution(self, *, node_name: str, **kwargs: Any) -> None:
            await asyncio.sleep(0)
            seen.append(f"before {node_name}")

        async def run_after_node_execution(self, *, node_name: str, **kwargs: Any) -> None:
            await asyncio.sleep(0)
            seen.append(f"after {node_name}")

    dr = Builder().with_modules(chain()).with_adapters(AsyncHook()).build()
    await dr.execute(["shifted"], inputs={"x": 1})
    assert seen == ["before doubled", "after doubled", "before shifted", "after shifted"]


async def test_a_failing_node_reaches_the_hooks_with_success_false_and_its_error() -> None:
    def boom(x: int) -> int:
        raise ValueError("no")

    hook = Recorder()
    dr = Builder().with_modules(make_module(boom)).with_adapters(hook).build()
    with pytest.raises(ValueError, match="no"):
        await dr.execute(["boom"], inputs={"x": 1})
    (after,) = hook.of("after_node")
    assert after["success"] is False and isinstance(after["error"], ValueError)
    assert after["result"] is None
    (graph,) = hook.of("after_graph")
    assert graph["success"] is False and isinstance(graph["error"], ValueError)


async def test_a_hook_that_raises_fails_the_run_with_a_note_naming_the_hook() -> None:
    class Broken(NodeExecutionHook):
        def run_before_node_execution(self, **kwargs: Any) -> None:
            pass

        def run_after_node_execution(self, *, node_name: str, **kwargs: Any) -> None:
            if node_name == "doubled":
                raise RuntimeError("hook bug")

    dr = Builder().with_modules(chain()).with_adapters(Broken()).build()
    with pytest.raises(RuntimeError, match="hook bug") as caught:
        await dr.execute(["shifted"], inputs={"x": 1})
    notes = "\n".join(caught.value.__notes__)
    assert "Broken.run_after_node_execution" in notes and "'doubled'" in notes


async def test_a_hook_failing_while_a_node_error_is_reported_leaves_the_node_error() -> None:
    def boom(x: int) -> int:
        raise ValueError("the real error")

    class Broken(NodeExecutionHook):
        def run_before_node_execution(self, **kwargs: Any) -> None:
            pass

        def run_after_node_execution(self, **kwargs: Any) -> None:
            raise RuntimeError("hook bug")

    dr = Builder().with_modules(make_module(boom)).with_adapters(Broken()).build()
    with pytest.raises(ValueError, match="the real error"):
        await dr.execute(["boom"], inputs={"x": 1})


def test_with_adapters_refuses_an_object_it_does_not_know_and_says_what_it_takes() -> None:
    with pytest.raises(TypeError, match="lifecycle hook"):
        Builder().with_adapters(object())


async def test_one_hook_object_watches_concurrent_runs_each_with_its_own_run_id() -> None:
    hook = Recorder()
    dr = Builder().with_modules(chain()).with_adapters(hook).build()
    results = await asyncio.gather(*(dr.execute(["shifted"], inputs={"x": i}) for i in range(5)))
    assert [r["shifted"] for r in results] == [2 * i + 1 for i in range(5)]
    assert len({kwargs["run_id"] for kwargs in hook.of("after_graph")}) == 5


async def test_each_node_of_a_thread_job_reaches_the_hooks_with_its_result() -> None:
    from asyncdag import executors, tag

    @tag(executor="threads")
    def doubled(x: int) -> int:
        return x * 2

    @tag(executor="threads")
    def shifted(doubled: int) -> int:
        return doubled + 1

    hook = Recorder()
    dr = (
        Builder()
        .with_modules(make_module(doubled, shifted))
        .with_executor("threads", executors.ThreadExecutor(2))
        .with_adapters(hook)
        .build()
    )
    async with dr:
        assert await dr.execute(["shifted"], inputs={"x": 3}) == {"shifted": 7}
    assert [(a["node_name"], a["result"]) for a in hook.of("after_node")] == [
        ("doubled", 6),
        ("shifted", 7),
    ]


async def test_branches_on_a_thread_executor_reach_the_hooks_one_node_at_a_time() -> None:
    from asyncdag import executors

    hook = Recorder()
    dr = (
        Builder()
        .with_modules(fan_out())
        .with_remote_executor(executors.ThreadExecutor(2))
        .with_adapters(hook)
        .build()
    )
    async with dr:
        assert await dr.execute(["total"], inputs={"n": 4}) == {"total": 60}
    pages = sorted(a["branch_index"] for a in hook.of("after_node") if a["node_name"] == "page")
    assert pages == [(0,), (1,), (2,), (3,)]
