"""@unpack_fields: one node per leading item of a returned tuple, beside the tuple node."""

from collections.abc import Callable
from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Collect, Driver, Parallelizable
from asyncdag.errors import GraphError
from asyncdag.function_modifiers import tag, unpack_fields


def build(*fns: Callable[..., Any]) -> Driver:
    return Builder().with_modules(make_module(*fns)).build()


async def test_unpack_fields_makes_a_node_per_item_and_keeps_the_tuple() -> None:
    @unpack_fields("low", "high", "label")
    def bounds() -> tuple[int, int, str]:
        return 1, 9, "x"

    dr = build(bounds)
    out = await dr.execute(["low", "high", "label", "bounds"])
    assert out == {"low": 1, "high": 9, "label": "x", "bounds": (1, 9, "x")}
    assert {v.name: v.type for v in dr.list_available_variables()}["label"] is str


async def test_unpack_fields_of_an_indeterminate_tuple_gives_each_field_its_type() -> None:
    @unpack_fields("first", "second")
    def pair() -> tuple[int, ...]:
        return (3, 4, 5)

    def total(first: int, second: int) -> int:
        return first + second

    dr = build(pair, total)
    assert await dr.execute(["total"]) == {"total": 7}
    assert dr.graph.nodes["second"].returns is int


async def test_unpack_fields_may_take_the_leading_items_only_and_works_on_async_functions() -> None:
    @unpack_fields("head")
    async def row() -> tuple[str, int]:
        return "a", 1

    assert await build(row).execute(["head"]) == {"head": "a"}


async def test_unpack_fields_inside_a_parallel_block_unpacks_each_branch() -> None:
    def item() -> Parallelizable[int]:
        yield from (1, 2, 3)

    @unpack_fields("doubled", "tripled")
    def scaled(item: int) -> tuple[int, int]:
        return item * 2, item * 3

    def tripled_all(tripled: Collect[int]) -> list[int]:
        return list(tripled)

    assert await build(item, scaled, tripled_all).execute(["tripled_all"]) == {
        "tripled_all": [3, 6, 9]
    }


def test_unpack_fields_tags_go_to_the_field_nodes_as_in_hamilton() -> None:
    @tag(team="a")
    @unpack_fields("low")
    def bounds() -> tuple[int, int]:
        return 1, 2

    tags = {v.name: v.tags for v in build(bounds).list_available_variables()}
    assert tags["low"]["team"] == "a"


@pytest.mark.parametrize(
    ("annotation", "match"),
    [(list[int], "tuple"), (tuple[int, int], "only 2"), (tuple[int, ..., int], "ellipsis")],
    ids=["not a tuple", "too few items", "misplaced ellipsis"],
)
def test_unpack_fields_that_do_not_fit_the_return_type_raise_graph_error(
    annotation: Any, match: str
) -> None:
    @unpack_fields("a", "b", "c")
    def produced() -> Any:
        return (1, 2, 3)

    produced.__annotations__["return"] = annotation
    with pytest.raises(GraphError, match=match) as excinfo:
        build(produced)
    assert excinfo.value.node == "produced"


async def test_unpack_fields_of_a_short_tuple_at_run_time_raises_index_error_naming_the_field() -> (
    None
):
    @unpack_fields("a", "b")
    def produced() -> tuple[int, ...]:
        return (1,)

    with pytest.raises(IndexError, match=r"'produced'.*'b'"):
        await build(produced).execute(["b"])


def test_unpack_fields_needs_field_names() -> None:
    with pytest.raises(TypeError, match="field names"):
        unpack_fields()
