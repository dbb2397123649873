"""What a built Driver tells about its graph: variables, inputs, tags, upstream and downstream."""

import inspect
from typing import Any

from conftest import make_module

import asyncdag
from asyncdag import Builder, Collect, Driver, Parallelizable, tag
from asyncdag import driver as driver_module


def _chain_module() -> Any:
    """raw_input -> first -> second -> third, with side reading first and apart standing alone."""

    def first(raw_input: int) -> int:
        return raw_input

    @tag(owner="data-team", stage="clean")
    def second(first: int) -> int:
        return first + 1

    def third(second: int) -> str:
        return str(second)

    def side(first: int) -> int:
        return first

    def apart() -> int:
        return 0

    return make_module(first, second, third, side, apart)


def _variables(dr: Driver) -> dict[str, Any]:
    variables = list(dr.list_available_variables())
    names = [v.name for v in variables]
    assert len(names) == len(set(names)), f"duplicate variables: {names}"
    return {v.name: v for v in variables}


def test_list_available_variables_lists_every_node_and_input() -> None:
    dr = Builder().with_modules(_chain_module()).build()

    assert set(_variables(dr)) == {"raw_input", "first", "second", "third", "side", "apart"}


def test_list_available_variables_marks_only_inputs_as_external() -> None:
    dr = Builder().with_modules(_chain_module()).build()

    external = {name for name, v in _variables(dr).items() if v.is_external_input}

    assert external == {"raw_input"}


def test_list_available_variables_reports_types_of_nodes_and_inputs() -> None:
    dr = Builder().with_modules(_chain_module()).build()
    variables = _variables(dr)

    assert variables["raw_input"].type is int
    assert variables["second"].type is int
    assert variables["third"].type is str


def test_list_available_variables_carries_tags_from_the_tag_decorator() -> None:
    dr = Builder().with_modules(_chain_module()).build()
    variables = _variables(dr)

    assert variables["second"].tags["owner"] == "data-team"
    assert variables["second"].tags["stage"] == "clean"
    assert "owner" not in variables["third"].tags


def test_list_available_variables_includes_parallel_block_nodes() -> None:
    def url() -> Parallelizable[str]:
        yield from ("a", "b")

    def size(url: str) -> int:
        return len(url)

    def sizes(size: Collect[int]) -> list[int]:
        return list(size)

    dr = Builder().with_modules(make_module(url, size, sizes)).build()

    assert set(_variables(dr)) == {"url", "size", "sizes"}
    assert not any(v.is_external_input for v in _variables(dr).values())


def test_what_is_upstream_of_returns_the_node_and_everything_it_depends_on() -> None:
    dr = Builder().with_modules(_chain_module()).build()

    upstream = dr.what_is_upstream_of("third")

    # As in Hamilton, the starting node itself is included.
    assert {v.name for v in upstream} == {"third", "second", "first", "raw_input"}


def test_what_is_downstream_of_returns_the_node_and_everything_that_depends_on_it() -> None:
    dr = Builder().with_modules(_chain_module()).build()

    downstream = dr.what_is_downstream_of("first")

    assert {v.name for v in downstream} == {"first", "second", "third", "side"}


def test_what_is_downstream_of_an_input_includes_its_consumers() -> None:
    dr = Builder().with_modules(_chain_module()).build()

    downstream = dr.what_is_downstream_of("raw_input")

    assert {v.name for v in downstream} == {"raw_input", "first", "second", "third", "side"}


def test_upstream_and_downstream_queries_return_the_same_variable_objects_as_listing() -> None:
    dr = Builder().with_modules(_chain_module()).build()
    variables = _variables(dr)

    for variable in [*dr.what_is_upstream_of("third"), *dr.what_is_downstream_of("first")]:
        listed = variables[variable.name]
        assert variable.type == listed.type
        assert variable.is_external_input == listed.is_external_input
        assert dict(variable.tags) == dict(listed.tags)


def test_driver_is_a_class_exported_from_asyncdag_and_asyncdag_driver() -> None:
    assert inspect.isclass(asyncdag.Driver)
    assert driver_module.Driver is asyncdag.Driver
    assert driver_module.Builder is asyncdag.Builder


def test_builder_build_returns_a_driver() -> None:
    dr = Builder().with_modules(_chain_module()).build()

    assert isinstance(dr, Driver)


def test_list_available_variables_lists_config_keys_as_external_inputs() -> None:
    def doubled(x: int, mode: str) -> int:
        return 2 * x

    dr = Builder().with_modules(make_module(doubled)).with_config({"mode": "a", "spare": 1}).build()

    listed = {v.name: v for v in dr.list_available_variables()}
    assert listed["mode"].is_external_input and listed["mode"].type is str
    assert listed["spare"].is_external_input


def test_list_available_variables_tags_each_node_with_its_module() -> None:
    def doubled(x: int) -> int:
        return 2 * x

    module = make_module(doubled)
    dr = Builder().with_modules(module).build()

    tags = {v.name: v.tags for v in dr.list_available_variables()}
    assert tags["doubled"]["module"] == module.__name__
    assert dr.list_available_variables(tag_filter={"module": module.__name__})[0].name == "doubled"
