"""@pipe_input and step: a chain of nodes in front of one parameter, named as in Hamilton."""

from collections.abc import Callable
from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Collect, Driver, Parallelizable, parameterize, source, value
from asyncdag.errors import GraphError
from asyncdag.function_modifiers import pipe_input, step


def build(*fns: Callable[..., Any], cfg: dict[str, Any] | None = None) -> Driver:
    return Builder().with_modules(make_module(*fns)).with_config(cfg or {}).build()


def _add(x: int, y: int = 1) -> int:
    return x + y


def _double(x: int) -> int:
    return 2 * x


async def _async_double(x: int) -> int:
    return 2 * x


async def test_pipe_input_runs_the_first_parameter_through_the_steps_in_order() -> None:
    @pipe_input(step(_add), step(_double))
    def result(raw: int) -> int:
        return raw

    assert await build(result).execute(["result"], inputs={"raw": 3}) == {"result": 8}


def test_pipe_input_names_steps_with_the_function_as_namespace() -> None:
    @pipe_input(step(_add), step(_add, 10), step(_double).named("twice"))
    def result(raw: int) -> int:
        return raw

    names = set(build(result).graph.nodes)
    assert names == {"result", "result.with_add", "result.with_add_1", "result.twice"}


def test_pipe_input_namespace_none_exposes_plain_names() -> None:
    @pipe_input(step(_add).named("added"), namespace=None)
    def result(raw: int) -> int:
        return raw

    assert set(build(result).graph.nodes) == {"result", "added"}


async def test_pipe_input_binds_step_parameters_with_source_value_and_plain_values() -> None:
    def _combine(x: int, y: int, z: int) -> int:
        return x * 100 + y * 10 + z

    @pipe_input(step(_combine, source("other"), z=value(3)), step(_add, y=5))
    def result(raw: int) -> int:
        return raw

    out = await build(result).execute(["result"], inputs={"raw": 1, "other": 2})
    assert out == {"result": 123 + 5}


@pytest.mark.parametrize(("flag", "expected"), [("on", 8), ("off", 4)])
async def test_pipe_input_steps_apply_only_when_their_config_holds(
    flag: str, expected: int
) -> None:
    @pipe_input(step(_add), step(_double).when(flag="on"))
    def result(raw: int) -> int:
        return raw

    dr = build(result, cfg={"flag": flag})
    assert await dr.execute(["result"], inputs={"raw": 3}) == {"result": expected}


async def test_pipe_input_on_input_pipes_another_parameter() -> None:
    @pipe_input(step(_double), on_input="b")
    def result(a: int, b: int) -> tuple[int, int]:
        return a, b

    assert await build(result).execute(["result"], inputs={"a": 1, "b": 2}) == {"result": (1, 4)}


async def test_pipe_input_works_with_async_steps_and_async_functions() -> None:
    @pipe_input(step(_async_double), step(_add))
    async def result(raw: int) -> int:
        return raw

    dr = build(result)
    assert dr.graph.nodes["result.with_async_double"].is_async
    assert await dr.execute(["result"], inputs={"raw": 3}) == {"result": 7}


async def test_pipe_input_works_inside_a_parallel_block() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @pipe_input(step(_double), step(_add, y=source("offset")))
    def moved(item: int) -> int:
        return item

    def total(moved: Collect[int]) -> list[int]:
        return list(moved)

    out = await build(item, moved, total).execute(["total"], inputs={"n": 3, "offset": 10})
    assert out == {"total": [10, 12, 14]}


def test_pipe_input_step_that_does_not_fit_its_signature_raises_graph_error() -> None:
    @pipe_input(step(_double, 1, 2))
    def result(raw: int) -> int:
        return raw

    with pytest.raises(GraphError, match=r"result.*step\(.*_double"):
        build(result)


def test_pipe_input_on_an_unknown_parameter_raises_graph_error() -> None:
    @pipe_input(step(_double), on_input="nope")
    def result(raw: int) -> int:
        return raw

    with pytest.raises(GraphError, match=r"'nope'.*raw"):
        build(result)


def test_pipe_input_on_several_parameters_raises_not_implemented_as_in_hamilton() -> None:
    with pytest.raises(NotImplementedError, match="one parameter"):
        pipe_input(step(_double), on_input=["a", "b"])  # type: ignore[arg-type]


@pytest.mark.parametrize("flag", ["collapse", "_chain"])
def test_pipe_input_collapse_and_chain_raise_not_implemented_as_in_hamilton(flag: str) -> None:
    with pytest.raises(NotImplementedError, match=flag):
        pipe_input(step(_double), **{flag: True})


def test_pipe_input_type_clash_between_steps_names_both_functions() -> None:
    def _text(x: int) -> str:
        return str(x)

    @pipe_input(step(_text))
    def result(raw: int) -> int:
        return raw

    with pytest.raises(GraphError, match=r"_text.*str.*result.*int"):
        build(result)


def test_pipe_input_with_parameterize_raises_graph_error() -> None:
    @pipe_input(step(_double))
    @parameterize(out={"raw": value(1)})
    def result(raw: int) -> int:
        return raw

    with pytest.raises(GraphError, match="@pipe_input and @parameterize"):
        build(result)


def test_pipe_input_takes_only_steps() -> None:
    with pytest.raises(TypeError, match=r"step\(\.\.\.\)"):
        pipe_input(_double)  # type: ignore[arg-type]


def test_pipe_input_namespace_conflicts_with_a_step_namespace() -> None:
    with pytest.raises(TypeError, match="namespace"):
        pipe_input(step(_double).named("d", namespace="x"), namespace="y")


def _apply(foo: int, bar: int, baz: int = 100) -> int:
    return foo + bar + baz


@pytest.mark.parametrize(
    ("args", "kwargs", "chain", "fits"),
    [
        ((value(1),), {}, True, True),
        ((source("f"), value(1)), {}, False, True),
        ((value(1),), {}, False, False),
        ((source("f"),), {"foo": source("f")}, True, False),
    ],
)
def test_step_validate_applies_the_checks_build_makes(
    args: tuple[Any, ...], kwargs: dict[str, Any], chain: bool, fits: bool
) -> None:
    applicable = step(_apply, *args, **kwargs)
    if fits:
        applicable.validate(chain_first_param=chain, allow_custom_namespace=True)
    else:
        with pytest.raises(GraphError, match="does not fit"):
            applicable.validate(chain_first_param=chain, allow_custom_namespace=True)


def test_step_validate_rejects_positional_only_parameters_and_no_parameters() -> None:
    def pos_only(a: int, /, b: int) -> int:
        return a + b

    def nothing() -> int:
        return 1

    with pytest.raises(GraphError, match="by name"):
        step(pos_only, source("b")).validate(chain_first_param=True, allow_custom_namespace=True)
    with pytest.raises(GraphError, match="no parameters"):
        step(nothing).validate(chain_first_param=True, allow_custom_namespace=True)


def test_step_resolve_namespace_inherits_discards_or_replaces() -> None:
    assert step(_apply).named("n").resolve_namespace("owner") == ("owner",)
    assert step(_apply).named("n", namespace=None).resolve_namespace("owner") == ()
    assert step(_apply).named("n", namespace="mine").resolve_namespace("owner") == ("mine",)
