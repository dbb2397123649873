"""@extract_fields and @extract_columns: one node per field or column, beside the owner node."""

import importlib.util
from collections.abc import Callable
from typing import Any, TypedDict

import pytest
from conftest import make_module

from asyncdag import Builder, Collect, Driver, Parallelizable, extract_fields, value
from asyncdag.errors import GraphError
from asyncdag.function_modifiers import extract_columns

pd = pytest.importorskip("pandas")


class Stats(TypedDict):
    low: int
    high: int


def build(*fns: Callable[..., Any]) -> Driver:
    return Builder().with_modules(make_module(*fns)).build()


# --- @extract_fields ------------------------------------------------------------------------------


async def test_extract_fields_with_types_makes_a_node_per_field_and_keeps_the_dict() -> None:
    @extract_fields({"low": int, "high": int})
    def bounds() -> dict:  # type: ignore[type-arg]
        return {"low": 1, "high": 9}

    out = await build(bounds).execute(["low", "high", "bounds"])
    assert out == {"low": 1, "high": 9, "bounds": {"low": 1, "high": 9}}


def test_extract_fields_with_names_takes_the_value_type_of_the_dict_annotation() -> None:
    @extract_fields(["low", "high"])
    def bounds() -> dict[str, float]:
        return {"low": 1.0, "high": 9.0}

    nodes = build(bounds).graph.nodes
    assert nodes["low"].returns is float
    assert [p.name for p in nodes["high"].params] == ["bounds"]


def test_extract_fields_with_positional_names_matches_a_list() -> None:
    @extract_fields("low", "high")
    def bounds() -> dict[str, int]:
        return {"low": 1, "high": 9}

    assert {"low", "high"} <= set(build(bounds).graph.nodes)


def test_extract_fields_infers_fields_and_types_from_a_typed_dict() -> None:
    @extract_fields()
    def bounds() -> Stats:
        return {"low": 1, "high": 2}

    nodes = build(bounds).graph.nodes
    assert (nodes["low"].returns, nodes["high"].returns) == (int, int)


async def test_extract_fields_works_on_async_functions() -> None:
    @extract_fields({"low": int})
    async def bounds() -> dict[str, int]:
        return {"low": 3}

    assert await build(bounds).execute(["low"]) == {"low": 3}


async def test_extract_fields_fill_with_fills_missing_fields() -> None:
    @extract_fields({"low": int, "high": int}, fill_with=0)
    def bounds() -> dict[str, int]:
        return {"low": 3}

    assert await build(bounds).execute(["low", "high"]) == {"low": 3, "high": 0}


async def test_extract_fields_missing_field_raises_key_error_naming_node_and_field() -> None:
    @extract_fields({"low": int, "high": int})
    def bounds() -> dict[str, int]:
        return {"low": 3}

    with pytest.raises(KeyError, match=r"'bounds' produced no field 'high'.*fill_with"):
        await build(bounds).execute(["high"])


async def test_extract_fields_works_inside_a_parallel_block() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @extract_fields({"square": int, "negative": int})
    def parts(item: int) -> dict[str, int]:
        return {"square": item * item, "negative": -item}

    def total(square: Collect[int], negative: Collect[int]) -> int:
        return sum(square) + sum(negative)

    assert await build(item, parts, total).execute(["total"], inputs={"n": 4}) == {"total": 8}


def test_extract_fields_on_a_bare_dict_without_types_raises_graph_error() -> None:
    @extract_fields(["low"])
    def bounds() -> dict:  # type: ignore[type-arg]
        return {}

    with pytest.raises(GraphError, match=r"bounds.*bare `dict`"):
        build(bounds)


def test_extract_fields_on_a_non_dict_function_raises_graph_error_naming_it() -> None:
    @extract_fields({"low": int})
    def bounds() -> list[int]:
        return []

    with pytest.raises(GraphError, match=r"bounds returns list\[int\].*dict"):
        build(bounds)


def test_extract_fields_naming_a_field_the_typed_dict_lacks_raises_graph_error() -> None:
    @extract_fields(["low", "middle"])
    def bounds() -> Stats:
        return {"low": 1, "high": 2}

    with pytest.raises(GraphError, match=r"'middle'.*Stats"):
        build(bounds)


def test_extracted_field_type_is_checked_against_its_consumer() -> None:
    @extract_fields({"low": int})
    def bounds() -> dict[str, int]:
        return {"low": 1}

    def label(low: str) -> str:
        return low

    with pytest.raises(GraphError, match=r"produces 'low' as int.*label.*low: str"):
        build(bounds, label)


def test_extract_fields_below_parameterize_refuses_several_nodes() -> None:
    from asyncdag import parameterize, value

    @extract_fields({"low": int})
    @parameterize(a={"x": value(1)}, b={"x": value(2)})
    def bounds(x: int) -> dict[str, int]:
        return {"low": x}

    with pytest.raises(GraphError, match=r"exactly one node.*\(a, b\)"):
        build(bounds)


# --- @extract_columns -----------------------------------------------------------------------------


async def test_extract_columns_makes_a_series_node_per_column() -> None:
    @extract_columns("a", ("b", "the b column"))
    def frame() -> pd.DataFrame:
        return pd.DataFrame({"a": [1, 2], "b": [3, 4]})

    dr = build(frame)
    out = await dr.execute(["a", "b"])
    assert out["a"].tolist() == [1, 2]
    assert out["b"].tolist() == [3, 4]
    assert dr.graph.nodes["b"].returns is pd.Series
    assert dr.graph.nodes["b"].fn.__doc__ == "the b column"


async def test_extract_columns_fill_with_adds_missing_columns() -> None:
    @extract_columns("a", "z", fill_with=0)
    async def frame() -> pd.DataFrame:
        return pd.DataFrame({"a": [1, 2]})

    assert (await build(frame).execute(["z"]))["z"].tolist() == [0, 0]


async def test_extract_columns_missing_column_raises_key_error_naming_it() -> None:
    @extract_columns("a", "z")
    def frame() -> pd.DataFrame:
        return pd.DataFrame({"a": [1]})

    with pytest.raises(KeyError, match=r"'frame' produced no column 'z'"):
        await build(frame).execute(["z"])


def test_extract_columns_on_a_non_dataframe_function_raises_graph_error() -> None:
    @extract_columns("a")
    def frame() -> dict[str, int]:
        return {}

    with pytest.raises(GraphError, match=r"frame returns .*pandas.DataFrame"):
        build(frame)


def test_extract_columns_without_pandas_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pandas" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"pip install 'asyncdag\[pandas\]'"):
        extract_columns("a")


async def test_extract_columns_works_inside_a_parallel_block() -> None:
    def size(n: int) -> Parallelizable[int]:
        yield from range(1, n + 1)

    @extract_columns("a")
    def frame(size: int) -> pd.DataFrame:
        return pd.DataFrame({"a": list(range(size))})

    def sums(a: Collect[pd.Series]) -> list[int]:
        return [int(column.sum()) for column in a]

    assert await build(size, frame, sums).execute(["sums"], inputs={"n": 3}) == {"sums": [0, 1, 3]}


# --- @parameterize_extract_columns ---------------------------------------------------------------


async def test_parameterize_extract_columns_makes_columns_per_parameterization() -> None:
    from asyncdag.function_modifiers import ParameterizedExtract, parameterize_extract_columns

    def base() -> pd.Series:
        return pd.Series([1, 2])

    @parameterize_extract_columns(
        ParameterizedExtract(("sum_a", "prod_a"), {"factor": value(10)}),
        ParameterizedExtract(("sum_b", "prod_b"), {"factor": value(100)}),
    )
    def frame(base: pd.Series, factor: int) -> pd.DataFrame:
        return pd.concat([base + factor, base * factor], axis=1)

    dr = build(base, frame)
    assert {"frame__0", "frame__1", "sum_a", "prod_a", "sum_b", "prod_b"} <= set(dr.graph.nodes)
    assert "frame" not in dr.graph.nodes
    out = await dr.execute(["sum_a", "prod_b"])
    assert out["sum_a"].tolist() == [11, 12]
    assert out["prod_b"].tolist() == [100, 200]


async def test_parameterize_extract_columns_without_reassigning_reads_the_frames_columns() -> None:
    from asyncdag.function_modifiers import ParameterizedExtract, parameterize_extract_columns

    @parameterize_extract_columns(
        ParameterizedExtract(("a",), {"n": value(1)}), reassign_columns=False
    )
    def frame(n: int) -> pd.DataFrame:
        return pd.DataFrame({"a": [n], "b": [0]})

    assert (await build(frame).execute(["a"]))["a"].tolist() == [1]


def test_parameterize_extract_columns_on_a_function_not_returning_a_frame_raises_graph_error() -> (
    None
):
    from asyncdag.function_modifiers import ParameterizedExtract, parameterize_extract_columns

    @parameterize_extract_columns(ParameterizedExtract(("a",), {"n": value(1)}))
    def frame(n: int) -> int:
        return n

    with pytest.raises(GraphError, match=r"pandas\.DataFrame"):
        build(frame)
