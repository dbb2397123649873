"""@pipe_output and @mutate: step nodes after a node, named as in Hamilton."""

from typing import Any

import pytest
from conftest import build, make_module

from asyncdag import Builder, Collect, Driver, Parallelizable, executors, tag
from asyncdag.errors import GraphError
from asyncdag.function_modifiers import (
    apply_to,
    extract_fields,
    mutate,
    pipe_output,
    source,
    step,
    value,
)


def with_config(*fns: Any, cfg: dict[str, Any]) -> Driver:
    return Builder().with_modules(make_module(*fns)).with_config(cfg).build()


def _add(x: int, y: int = 1) -> int:
    return x + y


def _double(x: int) -> int:
    return 2 * x


async def _async_double(x: int) -> int:
    return 2 * x


def names(dr: Driver) -> set[str]:
    return {v.name for v in dr.list_available_variables()}


async def test_pipe_output_runs_the_value_through_the_steps_in_order() -> None:
    @pipe_output(step(_add), step(_double))
    def result(raw: int) -> int:
        return raw

    assert await build(result).execute(["result"], inputs={"raw": 3}) == {"result": 8}


def test_pipe_output_names_raw_and_step_nodes_as_hamilton() -> None:
    @pipe_output(step(_add), step(_add, 10), step(_double).named("twice"))
    def result(raw: int) -> int:
        return raw

    assert names(build(result)) == {
        "raw",
        "y",
        "result.raw",
        "result.with_add",
        "result.with_add_1",
        "result.twice",
        "result",
    }


async def test_pipe_output_step_nodes_can_be_requested() -> None:
    @pipe_output(step(_add, y=value(5)), step(_double))
    def result(raw: int) -> int:
        return raw

    out = await build(result).execute(
        ["result.raw", "result.with_add", "result"], inputs={"raw": 1}
    )
    assert out == {"result.raw": 1, "result.with_add": 6, "result": 12}


async def test_pipe_output_binds_other_step_parameters_to_sources_and_values() -> None:
    def offset() -> int:
        return 100

    @pipe_output(step(_add, y=source("offset")), step(_add, 7))
    def result(raw: int) -> int:
        return raw

    assert await build(result, offset).execute(["result"], inputs={"raw": 1}) == {"result": 108}


def test_pipe_output_namespace_none_drops_the_prefix_and_replaces_a_steps_own() -> None:
    @pipe_output(step(_add), namespace=None)
    def plain(raw: int) -> int:
        return raw

    @pipe_output(step(_double).named("twice", namespace="elsewhere"))
    def kept(raw: int) -> int:
        return raw

    assert names(build(plain, kept)) >= {"with_add", "plain.raw", "kept.twice", "kept.raw"}


async def test_pipe_output_skips_steps_whose_when_does_not_hold() -> None:
    @pipe_output(step(_add).when(mode="a"), step(_double).when_not(mode="a"))
    def result(raw: int) -> int:
        return raw

    on = with_config(result, cfg={"mode": "a"})
    assert await on.execute(["result"], inputs={"raw": 3}) == {"result": 4}
    off = with_config(result, cfg={"mode": "b"})
    assert await off.execute(["result"], inputs={"raw": 3}) == {"result": 6}
    assert "result.with_add" not in names(with_config(result, cfg={"mode": "b"}))


def test_pipe_output_with_no_step_left_keeps_the_node_as_it_is() -> None:
    @pipe_output(step(_add).when(mode="a"))
    def result(raw: int) -> int:
        return raw

    assert names(with_config(result, cfg={"mode": "b"})) == {"mode", "raw", "result"}


async def test_pipe_output_on_output_pipes_only_the_named_fields() -> None:
    @pipe_output(step(_double), on_output="a")
    @extract_fields({"a": int, "b": int})
    def pair(x: int) -> dict[str, int]:
        return {"a": x, "b": x}

    dr = build(pair)
    assert await dr.execute(["a", "b"], inputs={"x": 3}) == {"a": 6, "b": 3}
    assert "a.with_double" in names(dr) and "b.with_double" not in names(dr)


async def test_pipe_output_step_on_output_chooses_nodes_per_step() -> None:
    @pipe_output(step(_double), step(_add).on_output("b"))
    @extract_fields({"a": int, "b": int})
    def pair(x: int) -> dict[str, int]:
        return {"a": x, "b": x}

    assert await build(pair).execute(["a", "b"], inputs={"x": 3}) == {"a": 6, "b": 7}


async def test_pipe_output_awaits_async_steps_and_async_functions() -> None:
    @pipe_output(step(_async_double), step(_add))
    async def result(raw: int) -> int:
        return raw

    assert await build(result).execute(["result"], inputs={"raw": 2}) == {"result": 5}


async def test_pipe_output_tags_go_to_the_final_node() -> None:
    @tag(owner="me")
    @pipe_output(step(_add))
    def result(raw: int) -> int:
        return raw

    found = build(result).list_available_variables(tag_filter={"owner": "me"})
    assert [v.name for v in found] == ["result"]


async def test_pipe_output_inside_a_parallel_block_pipes_every_branch() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @pipe_output(step(_double), step(_add))
    def shaped(item: int) -> int:
        return item

    def total(shaped: Collect[int]) -> list[int]:
        return list(shaped)

    assert await build(item, shaped, total).execute(["total"], inputs={"n": 3}) == {
        "total": [1, 3, 5]
    }


@pytest.mark.timeout(60)
async def test_pipe_output_branches_run_in_worker_processes() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @pipe_output(step(_double), step(_add, y=value(10)))
    def shaped(item: int) -> int:
        return item

    def total(shaped: Collect[int]) -> int:
        return sum(shaped)

    dr = build(item, shaped, total, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        assert await dr.execute(["total"], inputs={"n": 3}) == {"total": 36}


async def test_pipe_output_step_error_names_the_step_node() -> None:
    def _boom(x: int) -> int:
        raise ValueError("bad value")

    @pipe_output(step(_boom))
    def result(raw: int) -> int:
        return raw

    with pytest.raises(ValueError, match="bad value") as info:
        await build(result).execute(["result"], inputs={"raw": 1})
    assert any("result.with_boom" in note for note in info.value.__notes__)


def test_pipe_output_with_a_step_that_does_not_fit_raises_graph_error() -> None:
    @pipe_output(step(_add, 1, 2))
    def result(raw: int) -> int:
        return raw

    with pytest.raises(GraphError, match=r"@pipe_output on .*result.*_add"):
        build(result)


def test_pipe_output_rejects_targets_on_both_levels_with_hamiltons_single_target_error() -> None:
    from asyncdag.function_modifiers.macros import SingleTargetError

    with pytest.raises(SingleTargetError, match="on_output") as excinfo:
        pipe_output(step(_add).on_output("a"), on_output="b")
    assert isinstance(excinfo.value, ValueError)


def test_pipe_output_rejects_ellipsis_as_on_output() -> None:
    with pytest.raises(ValueError, match="Ellipsis"):
        pipe_output(step(_add), on_output=...)  # type: ignore[arg-type]


def test_pipe_output_namespace_cannot_be_combined_with_a_steps_namespace() -> None:
    with pytest.raises(TypeError, match="namespace"):
        pipe_output(step(_add).named("one", namespace="custom"), namespace=None)


def test_pipe_output_collapse_is_not_supported_as_in_hamilton() -> None:
    with pytest.raises(NotImplementedError, match="collapse"):
        pipe_output(step(_add), collapse=True)


# --- @mutate --------------------------------------------------------------------------------------


def test_mutate_pipes_the_targets_and_is_no_node_itself() -> None:
    def a(x: int) -> int:
        return x

    def b(x: int) -> int:
        return x + 1

    @mutate(a, b)
    def double(v: int) -> int:
        return 2 * v

    assert names(build(a, b, double)) == {
        "x",
        "a.raw",
        "a.with_double",
        "a",
        "b.raw",
        "b.with_double",
        "b",
    }


async def test_mutate_runs_mutators_in_definition_order() -> None:
    def a(x: int) -> int:
        return x

    @mutate(a)
    def _plus_one(v: int) -> int:
        return v + 1

    @mutate(a)
    def _times_ten(v: int) -> int:
        return v * 10

    assert await build(a).execute(["a"], inputs={"x": 1}) == {"a": 20}
    assert await build(a).execute(["a.with_plus_one"], inputs={"x": 1}) == {"a.with_plus_one": 2}


async def test_mutate_adds_to_an_existing_pipe_output() -> None:
    @pipe_output(step(_double))
    def a(x: int) -> int:
        return x

    @mutate(a)
    def _plus_one(v: int) -> int:
        return v + 1

    assert await build(a).execute(["a"], inputs={"x": 1}) == {"a": 3}


async def test_mutate_binds_keyword_arguments_and_apply_to_overrides_them() -> None:
    def a(x: int) -> int:
        return x

    def b(x: int) -> int:
        return x

    def offset() -> int:
        return 100

    @mutate(a, apply_to(b, y=value(5)), y=source("offset"))
    def _add_y(v: int, y: int) -> int:
        return v + y

    out = await build(a, b, offset).execute(["a", "b"], inputs={"x": 1})
    assert out == {"a": 101, "b": 6}


async def test_mutate_apply_to_supports_when_and_named() -> None:
    def a(x: int) -> int:
        return x

    @mutate(apply_to(a).named("doubled").when(on=True))
    def _double_it(v: int) -> int:
        return 2 * v

    on = with_config(a, cfg={"on": True})
    assert await on.execute(["a.doubled"], inputs={"x": 4}) == {"a.doubled": 8}
    off = with_config(a, cfg={"on": False})
    assert await off.execute(["a"], inputs={"x": 4}) == {"a": 4}


def test_mutate_of_a_function_in_another_module_raises_hamiltons_not_same_module_error() -> None:
    from asyncdag.function_modifiers.macros import NotSameModuleError

    def _mutator(v: int) -> int:
        return v

    _mutator.__module__ = "somewhere_else"
    with pytest.raises(NotSameModuleError, match="same module") as excinfo:
        mutate(_add)(_mutator)
    assert isinstance(excinfo.value, ValueError)


def test_mutate_needs_functions_or_apply_to() -> None:
    with pytest.raises(TypeError, match="apply_to"):
        mutate("a")  # type: ignore[arg-type]
