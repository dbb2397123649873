"""@does: an empty function's signature, another function's work, as in Hamilton."""

from typing import Any

import pytest
from conftest import build, make_module

from asyncdag import executors, parameterize, tag, value
from asyncdag.errors import GraphError
from asyncdag.function_modifiers import does, subdag


def _sum_all(**values: int) -> int:
    return sum(values.values())


def _scaled(value: int, factor: int = 1) -> int:
    return value * factor


async def _async_sum(**values: int) -> int:
    return sum(values.values())


async def test_does_runs_the_replacing_function_with_the_nodes_parameters() -> None:
    @does(_sum_all)
    def total(a: int, b: int) -> int:
        """Adds a and b."""
        pass

    assert await build(total).execute(["total"], inputs={"a": 2, "b": 5}) == {"total": 7}


async def test_does_maps_parameters_to_the_replacing_functions_names() -> None:
    @does(_scaled, value="x", factor="k")
    def scaled_x(x: int, k: int) -> int:
        pass

    assert await build(scaled_x).execute(["scaled_x"], inputs={"x": 3, "k": 4}) == {"scaled_x": 12}


async def test_does_passes_the_decorated_functions_defaults() -> None:
    @does(_scaled, value="x", factor="k")
    def scaled_x(x: int, k: int = 10) -> int:
        pass

    assert await build(scaled_x).execute(["scaled_x"], inputs={"x": 3}) == {"scaled_x": 30}


async def test_does_keeps_the_decorated_functions_signature_as_the_nodes_dependencies() -> None:
    @does(_sum_all)
    def total(a: int, b: int) -> int:
        pass

    dr = build(total)
    (variable,) = [v for v in dr.list_available_variables() if v.name == "total"]
    assert variable.type is int
    assert {v.name for v in dr.list_available_variables()} == {"a", "b", "total"}


async def test_does_with_an_async_replacing_function_awaits_it() -> None:
    @does(_async_sum)
    def total(a: int, b: int) -> int:
        pass

    assert await build(total).execute(["total"], inputs={"a": 1, "b": 1}) == {"total": 2}


async def test_does_composes_with_tag() -> None:
    @tag(owner="me")
    @does(_sum_all)
    def total(a: int) -> int:
        pass

    dr = build(total)
    assert [v.name for v in dr.list_available_variables(tag_filter={"owner": "me"})] == ["total"]


async def test_does_combines_with_parameterize_as_in_hamilton() -> None:
    @parameterize(by_two={"k": value(2)}, by_three={"k": value(3)})
    @does(_scaled, value="x", factor="k")
    def scaled_x(x: int, k: int) -> int:
        pass

    out = await build(scaled_x).execute(["by_two", "by_three"], inputs={"x": 5})
    assert out == {"by_two": 10, "by_three": 15}


def test_does_with_subdag_raises_graph_error_naming_both() -> None:
    @does(_sum_all)
    @subdag(make_module(_scaled), inputs={"value": value(1)})
    def total(_scaled: int) -> int:
        pass

    with pytest.raises(GraphError, match=r"@subdag and @does"):
        build(total)


@pytest.mark.timeout(60)
async def test_does_node_runs_in_a_worker_process() -> None:
    @does(_scaled, value="x", factor="k")
    def scaled_x(x: int, k: int) -> int:
        pass

    dr = build(scaled_x, local=executors.ProcessExecutor(max_tasks=1))
    async with dr:
        assert await dr.execute(["scaled_x"], inputs={"x": 2, "k": 3}) == {"scaled_x": 6}


def test_does_on_a_function_with_a_body_raises_graph_error_naming_it() -> None:
    @does(_sum_all)
    def total(a: int) -> int:
        return a

    with pytest.raises(GraphError, match=r"total.*not empty.*pass"):
        build(total)


def test_does_with_signatures_that_do_not_fit_raises_graph_error() -> None:
    @does(_scaled)
    def scaled_x(x: int) -> int:
        pass

    with pytest.raises(GraphError, match=r"scaled_x.*_scaled.*mapping"):
        build(scaled_x)


def test_does_mapping_to_an_unknown_parameter_raises_graph_error() -> None:
    @does(_scaled, value="nope")
    def scaled_x(x: int) -> int:
        pass

    with pytest.raises(GraphError, match="nope"):
        build(scaled_x)


def test_does_needs_a_function() -> None:
    with pytest.raises(TypeError, match="function"):
        does(42)  # type: ignore[arg-type]


def test_does_mapping_values_must_be_parameter_names() -> None:
    bad: Any = 3
    with pytest.raises(TypeError, match="parameter"):
        does(_scaled, value=bad)


@pytest.mark.parametrize(
    ("mapping", "fits"),
    [({}, False), ({"b": "a"}, True), ({"c": "a"}, False), ({"b": "missing"}, False)],
)
def test_does_tells_whether_signatures_fit_as_build_checks_them(
    mapping: dict[str, str], fits: bool
) -> None:
    import inspect

    from asyncdag.function_modifiers import does

    def decorated(a: int) -> int:
        pass

    def replacing(b: int) -> int:
        return b

    got = does.test_function_signatures_compatible(
        inspect.signature(decorated), inspect.signature(replacing), mapping
    )
    assert got is fits
