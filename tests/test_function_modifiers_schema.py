"""@schema.output: Hamilton's schema tag on a node that returns a data frame."""

from collections.abc import Callable
from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Driver
from asyncdag.errors import GraphError
from asyncdag.function_modifiers import extract_fields, schema

pd = pytest.importorskip("pandas")


def build(*fns: Callable[..., Any]) -> Driver:
    return Builder().with_modules(make_module(*fns)).build()


def test_schema_output_tags_the_frame_node_as_hamilton_does() -> None:
    @schema.output(("a", "int"), ("b", "float"))
    def frame() -> pd.DataFrame:
        return pd.DataFrame({"a": [1], "b": [2.0]})

    tags = {v.name: v.tags for v in build(frame).list_available_variables()}
    assert tags["frame"][schema.INTERNAL_SCHEMA_OUTPUT_KEY] == "a=int,b=float"


def test_schema_output_on_a_node_that_is_not_a_frame_raises_graph_error_naming_it() -> None:
    @schema.output(("a", "int"))
    def number() -> int:
        return 1

    with pytest.raises(GraphError, match=r"'number'.*data frame") as excinfo:
        build(number)
    assert excinfo.value.node == "number"


def test_schema_output_with_a_target_tags_that_node_of_the_function() -> None:
    @schema.output(("x", "int"), target_="frame")
    @extract_fields({"frame": pd.DataFrame, "count": int})
    def both() -> dict[str, Any]:
        return {"frame": pd.DataFrame({"x": [1]}), "count": 1}

    tags = {v.name: v.tags for v in build(both).list_available_variables()}
    assert tags["frame"][schema.INTERNAL_SCHEMA_OUTPUT_KEY] == "x=int"
    assert schema.INTERNAL_SCHEMA_OUTPUT_KEY not in tags["count"]


@pytest.mark.parametrize("fields", [(), (("a",),), (("a", int),)], ids=["none", "one", "type"])
def test_schema_output_takes_name_and_type_name_pairs(fields: Any) -> None:
    with pytest.raises(TypeError, match="pairs"):
        schema.output(*fields)
