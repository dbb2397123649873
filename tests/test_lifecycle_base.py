"""Adapters written against Hamilton's ``lifecycle.base`` classes run on asyncdag."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Collect, Parallelizable
from asyncdag.execution.executors import ProcessExecutor, ThreadExecutor
from asyncdag.lifecycle import base
from asyncdag.node import Node


def _module() -> Any:
    def a(x: int) -> int:
        return x + 1

    def b(a: int, broken: bool = False) -> int:
        if broken:
            raise KeyError("broken")
        return a * 2

    return make_module(a, b)


def _fan_out() -> Any:
    def items(n: int) -> Parallelizable[int]:
        yield from range(n)

    def tenfold(items: int) -> int:
        return items * 10

    def total(tenfold: Collect[int]) -> int:
        return sum(tenfold)

    return make_module(items, tenfold, total)


class Recorder(
    base.BasePreDoAnythingHook,
    base.BasePostGraphConstruct,
    base.BasePreGraphExecute,
    base.BasePreNodeExecute,
    base.BasePostNodeExecute,
    base.BasePostGraphExecute,
):
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def pre_do_anything(self) -> None:
        self.calls.append(("pre_do_anything", {}))

    def post_graph_construct(self, **kwargs: Any) -> None:
        self.calls.append(("post_graph_construct", kwargs))

    def pre_graph_execute(self, **kwargs: Any) -> None:
        self.calls.append(("pre_graph_execute", kwargs))

    def pre_node_execute(self, **kwargs: Any) -> None:
        self.calls.append(("pre_node_execute", kwargs))

    def post_node_execute(self, **kwargs: Any) -> None:
        self.calls.append(("post_node_execute", kwargs))

    def post_graph_execute(self, **kwargs: Any) -> None:
        self.calls.append(("post_graph_execute", kwargs))

    def named(self, step: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.calls if name == step]


def test_hooks_are_called_in_hamiltons_order_with_its_arguments() -> None:
    hooks = Recorder()
    module = _module()
    dr = Builder().with_modules(module).with_adapters(hooks).build()
    assert [name for name, _ in hooks.calls] == ["pre_do_anything", "post_graph_construct"]
    assert hooks.named("post_graph_construct")[0]["modules"] == [module]
    dr.execute_sync(["b"], inputs={"x": 1})
    steps = [name for name, _ in hooks.calls[2:]]
    node_steps = ["pre_node_execute", "post_node_execute"] * 2
    assert steps == ["pre_graph_execute", *node_steps, "post_graph_execute"]
    ran = hooks.named("post_node_execute")
    assert [(c["node_"].name, c["result"], c["task_id"]) for c in ran] == [
        ("a", 2, None),
        ("b", 4, None),
    ]
    assert isinstance(ran[0]["node_"], Node)
    (after,) = hooks.named("post_graph_execute")
    assert after["success"] is True and after["results"] == {"b": 4}
    run_ids = {kwargs["run_id"] for _, kwargs in hooks.calls[2:]}
    assert len(run_ids) == 1 and len(run_ids.pop()) > 10


def test_a_failing_node_reaches_post_node_and_post_graph_with_its_error() -> None:
    hooks = Recorder()
    dr = Builder().with_modules(_module()).with_adapters(hooks).build()
    with pytest.raises(KeyError):
        dr.execute_sync(["b"], inputs={"x": 1, "broken": True})
    failed = hooks.named("post_node_execute")[-1]
    assert (failed["node_"].name, failed["success"], failed["result"]) == ("b", False, None)
    assert isinstance(failed["error"], KeyError)
    (after,) = hooks.named("post_graph_execute")
    assert after["success"] is False and after["results"] is None
    assert isinstance(after["error"], KeyError)


def test_node_hooks_inside_a_block_name_the_branch_as_task_id() -> None:
    hooks = Recorder()
    dr = Builder().with_modules(_fan_out()).with_adapters(hooks).build()
    assert dr.execute_sync(["total"], inputs={"n": 2}) == {"total": 10}
    task_ids = {c["node_"].name: c["task_id"] for c in hooks.named("pre_node_execute")}
    assert task_ids["total"] is None
    assert {
        c["task_id"] for c in hooks.named("pre_node_execute") if c["node_"].name == "tenfold"
    } == {
        "items[0]",
        "items[1]",
    }


class _Rejects(base.BaseValidateNode, base.BaseValidateGraph):
    def validate_node(self, *, created_node: Any) -> tuple[bool, Any]:
        return created_node.name != "b", "b is not allowed"

    def validate_graph(self, **kwargs: Any) -> tuple[bool, Any]:
        return True, None


def test_validators_see_every_node_and_input_and_fail_the_build() -> None:
    seen: list[tuple[str, bool]] = []

    class Sees(base.BaseValidateNode):
        def validate_node(self, *, created_node: Any) -> tuple[bool, Any]:
            seen.append((created_node.name, created_node.user_defined))
            return True, None

    Builder().with_modules(_module()).with_adapters(Sees()).build()
    assert sorted(seen) == [("a", False), ("b", False), ("broken", True), ("x", True)]
    with pytest.raises(base.ValidationException, match="b is not allowed"):
        Builder().with_modules(_module()).with_adapters(_Rejects()).build()


def test_do_build_result_shapes_what_execute_returns() -> None:
    class Total(base.BaseDoBuildResult):
        def do_build_result(self, *, outputs: Any) -> Any:
            return sum(outputs.values())

    dr = Builder().with_modules(_module()).with_adapters(Total()).build()
    assert dr.execute_sync(["a", "b"], inputs={"x": 1}) == 6


class _PlusOne(base.BaseDoNodeExecute):
    def do_node_execute(
        self, *, run_id: str, node_: Any, kwargs: dict[str, Any], task_id: str | None = None
    ) -> Any:
        out = node_(**kwargs)
        return out + 1 if node_.type is int else out


@pytest.mark.parametrize(
    "remote", [ThreadExecutor(2), ProcessExecutor(2)], ids=["threads", "processes"]
)
def test_do_node_execute_makes_every_call_wherever_the_branch_runs(remote: Any) -> None:
    dr = (
        Builder()
        .with_modules(_fan_out())
        .with_remote_executor(remote)
        .with_adapters(_PlusOne())
        .build()
    )
    # tenfold gives 1 and 11 (each plus one), total adds one more
    assert dr.execute_sync(["total"], inputs={"n": 2}) == {"total": 13}


def test_do_remote_execute_wraps_the_call_with_the_node() -> None:
    class Doubles(base.BaseDoRemoteExecute):
        def do_remote_execute(
            self, *, node: Any, execute_lifecycle_for_node: Any, **kwargs: Any
        ) -> Any:
            return execute_lifecycle_for_node(**kwargs) * 2

    dr = Builder().with_modules(_module()).with_adapters(Doubles()).build()
    assert dr.execute_sync(["b"], inputs={"x": 1}) == {"b": 16}  # a = 4, b = 16


def test_steps_asyncdag_does_not_run_are_refused_with_what_to_use() -> None:
    class Tasks(base.BasePreTaskExecute):
        def pre_task_execute(self, **kwargs: Any) -> None:
            pass

    with pytest.raises(TypeError, match="no task objects; use pre_node_execute"):
        Builder().with_adapters(Tasks())


async def test_async_hooks_are_awaited_on_the_loop() -> None:
    seen: list[str] = []

    class Async(base.BasePreNodeExecuteAsync, base.BasePostGraphExecuteAsync):
        async def pre_node_execute(self, **kwargs: Any) -> None:
            seen.append(kwargs["node_"].name)

        async def post_graph_execute(self, **kwargs: Any) -> None:
            seen.append("done")

    dr = Builder().with_modules(_module()).with_adapters(Async()).build()
    assert await dr.execute(["b"], inputs={"x": 1}) == {"b": 4}
    assert seen == ["a", "b", "done"]


def test_lifecycle_adapter_set_groups_adapters_by_step() -> None:
    hooks = Recorder()
    adapters = base.LifecycleAdapterSet(hooks, _PlusOne())
    assert adapters.does_hook("pre_node_execute", is_async=False)
    assert adapters.does_method("do_node_execute")
    assert not adapters.does_validation("validate_node")
    assert adapters.adapters == [hooks, adapters.adapters[1]]


def test_hooks_watch_a_materialize_as_a_run(tmp_path: Any) -> None:
    from asyncdag.io.materialization import to

    hooks = Recorder()
    builder = Builder().with_modules(_module()).with_adapters(hooks)
    dr = builder.with_local_executor(ThreadExecutor(1)).build()  # file I/O off the loop
    saver = to.pickle(id="saved", dependencies=["b"], path=str(tmp_path / "b.pkl"))
    dr.materialize_sync(saver, inputs={"x": 1})
    assert len(hooks.named("post_graph_construct")) == 2  # built, then with the saver
    assert "saved" in hooks.named("post_graph_construct")[1]["graph"].nodes
    assert {c["node_"].name for c in hooks.named("post_node_execute")} >= {"a", "b", "saved"}
    (after,) = hooks.named("post_graph_execute")
    assert after["success"] is True


def test_do_validate_input_decides_which_input_values_fit() -> None:
    from asyncdag.errors import InputTypeError

    seen: list[tuple[Any, Any]] = []

    class Strings(base.BaseDoValidateInput):
        def do_validate_input(self, *, node_type: type, input_value: Any) -> bool:
            seen.append((node_type, input_value))
            return isinstance(input_value, str | int)

    dr = Builder().with_modules(_module()).with_adapters(Strings()).build()
    assert dr.execute_sync(["a"], inputs={"x": 1}) == {"a": 2}
    with pytest.raises(InputTypeError, match="'x'"):
        dr.execute_sync(["a"], inputs={"x": 1.5})
    assert seen == [(int, 1), (int, 1.5)]


class _ConstructsAsync(base.BasePostGraphConstructAsync):
    def __init__(self) -> None:
        self.graphs: list[Any] = []

    async def post_graph_construct(self, **kwargs: Any) -> None:
        self.graphs.append(kwargs["graph"])


async def test_an_async_post_graph_construct_is_awaited_by_ainit_once() -> None:
    from asyncdag import async_driver

    hook = _ConstructsAsync()
    builder = async_driver.Builder().with_modules(_module()).with_adapters(hook)
    dr = builder.build_without_init()
    assert hook.graphs == []
    await dr.ainit()
    await dr.ainit()
    assert hook.graphs == [dr.graph]
    await builder.build()
    assert len(hook.graphs) == 2


def test_a_plain_driver_refuses_an_async_post_graph_construct() -> None:
    with pytest.raises(TypeError, match="post_graph_construct is async"):
        Builder().with_modules(_module()).with_adapters(_ConstructsAsync()).build()
