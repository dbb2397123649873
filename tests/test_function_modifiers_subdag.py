"""@subdag: other functions built again under a namespace, feeding the decorated function."""

from collections.abc import Callable
from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Collect, Driver, Parallelizable, parameterize, source, value
from asyncdag.errors import GraphError
from asyncdag.function_modifiers import subdag


def build(*fns: Callable[..., Any], cfg: dict[str, Any] | None = None) -> Driver:
    return Builder().with_modules(make_module(*fns)).with_config(cfg or {}).build()


def _parts() -> Any:
    def doubled(raw: int) -> int:
        return raw * 2

    async def shifted(doubled: int, shift: int) -> int:
        return doubled + shift

    return make_module(doubled, shifted, name="parts")


async def test_subdag_namespaces_the_inner_nodes_and_feeds_the_function() -> None:
    @subdag(_parts(), inputs={"raw": value(5)}, config={"shift": 1})
    def result(shifted: int) -> int:
        return shifted * 10

    dr = build(result)
    assert set(dr.graph.nodes) == {
        "result",
        "result.doubled",
        "result.shifted",
        "result.raw",
        "result.shift",
    }
    assert await dr.execute(["result", "result.doubled"]) == {
        "result": 110,
        "result.doubled": 10,
    }


async def test_subdag_source_input_reads_an_outer_node() -> None:
    def start() -> int:
        return 3

    @subdag(_parts(), inputs={"raw": source("start")}, config={"shift": 0})
    def result(shifted: int) -> int:
        return shifted

    assert await build(start, result).execute(["result"]) == {"result": 6}


async def test_subdag_reads_names_it_does_not_define_from_the_outer_graph() -> None:
    @subdag(_parts(), inputs={"raw": value(1)}, namespace="inner")
    def result(shifted: int) -> int:
        return shifted

    dr = build(result)
    assert "inner.shifted" in dr.graph.nodes
    assert await dr.execute(["result"], inputs={"shift": 100}) == {"result": 102}


async def test_subdag_external_inputs_are_read_from_the_outer_graph() -> None:
    @subdag(_parts(), inputs={"raw": value(1)}, config={"shift": 0}, external_inputs=["bonus"])
    async def result(shifted: int, bonus: int) -> int:
        return shifted + bonus

    assert await build(result).execute(["result"], inputs={"bonus": 7}) == {"result": 9}


async def test_subdag_final_node_name_renames_the_function_node() -> None:
    @subdag(_parts(), inputs={"raw": value(1)}, config={"shift": 0}, final_node_name="out")
    def result(shifted: int) -> int:
        return shifted

    dr = build(result)
    assert "out" in dr.graph.nodes and "result" not in dr.graph.nodes
    assert await dr.execute(["out"]) == {"out": 2}


async def test_subdag_works_inside_a_parallel_block() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @subdag(_parts(), inputs={"raw": source("item")}, config={"shift": 1})
    def per_item(shifted: int) -> int:
        return shifted

    def total(per_item: Collect[int]) -> list[int]:
        return list(per_item)

    out = await build(item, per_item, total).execute(["total"], inputs={"n": 3})
    assert out == {"total": [1, 3, 5]}


def test_subdag_with_a_key_in_both_config_and_inputs_raises_graph_error_when_decorating() -> None:
    # As Hamilton's subdag raises InvalidDecoratorException (= GraphError) at once.
    with pytest.raises(GraphError, match=r"'shift'.*shared with inputs"):
        subdag(_parts(), inputs={"shift": value(1)}, config={"shift": 2})


def test_subdag_with_parameterize_raises_graph_error() -> None:
    @subdag(_parts(), inputs={"raw": value(1)})
    @parameterize(out={"shifted": value(1)})
    def result(shifted: int) -> int:
        return shifted

    with pytest.raises(GraphError, match="@parameterize and @subdag"):
        build(result)


def test_subdag_inputs_must_be_value_or_source() -> None:
    with pytest.raises(TypeError, match=r"value\(\.\.\.\) or source\(\.\.\.\)"):
        subdag(_parts(), inputs={"raw": 1})  # type: ignore[dict-item]
