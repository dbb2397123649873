"""Driver.materialize with to.<format> savers and from_.<format> loaders, on real files."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest
from conftest import HANG_GUARD, build, notes_of

from asyncdag import Collect, Driver, Parallelizable, executors, function_modifiers, source, value
from asyncdag.base import DictResult
from asyncdag.errors import AsyncDagError, GraphError, UnknownNodeError
from asyncdag.io import materialization
from asyncdag.io.materialization import from_, to

pd = pytest.importorskip("pandas")


def on_threads(*functions: Any) -> Driver:
    """A Driver whose sync nodes (loaders and savers included) run off the loop thread."""
    return build(*functions, local=executors.ThreadExecutor(max_tasks=2))


async def write_json(path: Path, data: Any) -> None:
    await asyncio.to_thread(path.write_text, json.dumps(data))


async def read_json(path: Path) -> Any:
    return json.loads(await asyncio.to_thread(path.read_text))


async def materialize(dr: Driver, *items: Any, **kwargs: Any) -> tuple[dict[str, Any], Any]:
    async with asyncio.timeout(HANG_GUARD):
        return await dr.materialize(*items, **kwargs)


def frame() -> pd.DataFrame:
    return pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})


# --- each format round trip -----------------------------------------------------------------------

ROUND_TRIPS = [
    ("json", lambda: {"k": [1, 2], "n": None}, dict),
    ("pickle", lambda: {("a", 1): {1, 2}}, dict),
    ("csv", frame, pd.DataFrame),
    ("parquet", frame, pd.DataFrame),
]

FORMAT_IDS = [r[0] for r in ROUND_TRIPS]


@pytest.mark.parametrize(("fmt", "make", "annotation"), ROUND_TRIPS, ids=FORMAT_IDS)
async def test_a_value_saved_with_to_loads_back_equal_with_from_(
    tmp_path: Path, fmt: str, make: Any, annotation: Any
) -> None:
    if fmt == "parquet":
        pytest.importorskip("pyarrow")
    made = make()

    def data() -> Any:
        return made

    def loaded(data: Any) -> Any:
        return data

    data.__annotations__["return"] = annotation  # real types, checked against the format
    loaded.__annotations__.update({"data": annotation, "return": annotation})

    path = tmp_path / f"data.{fmt}"
    dr = on_threads(data, loaded)
    await materialize(dr, getattr(to, fmt)("saved", ["data"], path=path))
    _, result = await materialize(
        dr, getattr(from_, fmt)("data", path=path), additional_vars=["loaded"]
    )
    if isinstance(made, pd.DataFrame):
        pd.testing.assert_frame_equal(result["loaded"], made)
    else:
        assert result["loaded"] == made


# --- metadata -------------------------------------------------------------------------------------


async def test_materialize_returns_hamiltons_file_metadata_by_materializer_id(
    tmp_path: Path,
) -> None:
    def report() -> dict[str, int]:
        return {"n": 1}

    path = tmp_path / "report.json"
    metadata, extra = await materialize(on_threads(report), to.json("out", [report], path=path))
    assert extra == {}
    assert list(metadata) == ["out"]
    meta = metadata["out"]["file_metadata"]
    stat = await asyncio.to_thread(os.stat, path)
    assert meta["path"] == str(path)
    assert meta["size"] == stat.st_size
    assert meta["last_modified"] == stat.st_mtime
    assert meta["scheme"] == ""
    assert meta["notes"] == ""
    assert meta["__version__"] == "1.0.0"
    assert meta["timestamp"] >= meta["last_modified"]


async def test_frame_formats_add_hamiltons_dataframe_metadata(tmp_path: Path) -> None:
    def table() -> pd.DataFrame:
        return frame()

    metadata, _ = await materialize(
        on_threads(table), to.csv("out", ["table"], path=tmp_path / "t.csv")
    )
    assert metadata["out"]["dataframe_metadata"] == {
        "__version__": "1.0.0",
        "rows": 3,
        "columns": 2,
        "column_names": ["a", "b"],
        "datatypes": ["int64", str(frame().dtypes["b"])],
    }
    assert metadata["out"]["file_metadata"]["path"] == str(tmp_path / "t.csv")


async def test_csv_is_written_without_the_index_as_in_hamilton(tmp_path: Path) -> None:
    def table() -> pd.DataFrame:
        return frame()

    path = tmp_path / "t.csv"
    await materialize(on_threads(table), to.csv("out", ["table"], path=path, sep=";"))
    assert (await asyncio.to_thread(path.read_text)).splitlines()[:2] == ["a;b", "1;x"]


# --- what materialize computes and returns --------------------------------------------------------


async def test_additional_vars_come_back_as_a_plain_dict_beside_the_metadata(
    tmp_path: Path,
) -> None:
    def a() -> dict[str, int]:
        return {"a": 1}

    def b(a: dict[str, int]) -> int:
        return a["a"] + 1

    metadata, extra = await materialize(
        on_threads(a, b), to.json("out", ["a"], path=tmp_path / "a.json"), additional_vars=["b"]
    )
    assert extra == {"b": 2}
    assert set(metadata) == {"out"}


async def test_combine_joins_several_dependencies_with_a_result_builder(tmp_path: Path) -> None:
    def first() -> dict[str, int]:
        return {"x": 1}

    def second() -> list[int]:
        return [2]

    path = tmp_path / "both.json"
    _, extra = await materialize(
        on_threads(first, second),
        to.json("both", ["first", "second"], path=path, combine=DictResult()),
        additional_vars=["both_build_result"],  # Hamilton's name for the combined value
    )
    assert await read_json(path) == {"first": {"x": 1}, "second": [2]}
    assert extra == {"both_build_result": {"first": {"x": 1}, "second": [2]}}


async def test_several_dependencies_without_combine_are_refused_before_running(
    tmp_path: Path,
) -> None:
    def first() -> dict[str, int]:
        raise AssertionError("must not run")

    def second() -> dict[str, int]:
        raise AssertionError("must not run")

    with pytest.raises(GraphError, match=r"materializer 'both' saves 2 nodes .*combine="):
        await materialize(
            on_threads(first, second), to.json("both", ["first", "second"], path=tmp_path / "x")
        )


async def test_nothing_to_materialize_is_a_value_error_as_in_hamilton(tmp_path: Path) -> None:
    def data(raw: dict[str, int]) -> dict[str, int]:
        return raw

    with pytest.raises(ValueError, match="No output requested"):
        await materialize(on_threads(data), from_.json("raw", path=tmp_path / "in.json"))


async def test_a_saver_depending_on_an_unknown_node_names_it_and_close_matches(
    tmp_path: Path,
) -> None:
    def report() -> dict[str, int]:
        return {}

    with pytest.raises(UnknownNodeError, match="Did you mean 'report'") as caught:
        await materialize(on_threads(report), to.json("out", ["reprot"], path=tmp_path / "x"))
    assert "materializer 'out'" in notes_of(caught.value)


async def test_a_materializer_id_that_is_already_a_node_is_refused(tmp_path: Path) -> None:
    def report() -> dict[str, int]:
        return {}

    with pytest.raises(GraphError, match=r"materializer id 'report' .*Choose another id"):
        await materialize(on_threads(report), to.json("report", ["report"], path=tmp_path / "x"))


async def test_an_input_can_be_materialized_beside_nodes(tmp_path: Path) -> None:
    def doubled(n: int) -> int:
        return n * 2

    path = tmp_path / "both.json"
    await materialize(
        on_threads(doubled),
        to.json("both", ["n", "doubled"], path=path, combine=DictResult()),
        inputs={"n": 4},
    )
    assert await read_json(path) == {"n": 4, "doubled": 8}


async def test_save_path_may_come_from_an_input_with_source(tmp_path: Path) -> None:
    def data() -> dict[str, int]:
        return {"v": 1}

    path = tmp_path / "from_input.json"
    await materialize(
        on_threads(data),
        to.json("out", ["data"], path=source("where")),
        inputs={"where": str(path)},
    )
    assert await read_json(path) == {"v": 1}


# --- from_ replaces or provides nodes -------------------------------------------------------------


async def test_from_replaces_a_node_and_its_upstream_does_not_run(tmp_path: Path) -> None:
    def expensive() -> dict[str, int]:
        raise AssertionError("replaced by the loader: must not run")

    def raw(expensive: dict[str, int]) -> dict[str, int]:
        raise AssertionError("replaced by the loader: must not run")

    def processed(raw: dict[str, int]) -> dict[str, Any]:
        return {**raw, "processed": True}

    path = tmp_path / "raw.json"
    await write_json(path, {"processed": False})
    _, result = await materialize(
        on_threads(expensive, raw, processed),
        from_.json("raw", path=value(path)),
        additional_vars=["processed", "load_data.raw"],
    )
    assert result["processed"] == {"processed": True}
    data, meta = result["load_data.raw"]
    assert data == {"processed": False}
    assert meta["file_metadata"]["path"] == str(path)


async def test_from_provides_an_input_with_its_path_from_another_input(tmp_path: Path) -> None:
    def processed(external: dict[str, int]) -> int:
        return external["n"] * 2

    path = tmp_path / "external.json"
    await write_json(path, {"n": 21})
    _, result = await materialize(
        on_threads(processed),
        from_.json("external", path=source("in_path")),
        additional_vars=["processed"],
        inputs={"in_path": str(path)},
    )
    assert result == {"processed": 42}


async def test_from_a_name_that_is_not_in_the_graph_is_unknown(tmp_path: Path) -> None:
    def data(raw: dict[str, int]) -> int:
        return 1

    with pytest.raises(UnknownNodeError, match="'rwa' is not a node"):
        await materialize(
            on_threads(data), from_.json("rwa", path=tmp_path / "x"), additional_vars=["data"]
        )


async def test_a_missing_file_names_the_loader_node_and_the_path(tmp_path: Path) -> None:
    def data(raw: dict[str, int]) -> int:
        return len(raw)

    path = tmp_path / "nowhere.json"
    with pytest.raises(FileNotFoundError) as caught:
        await materialize(on_threads(data), from_.json("raw", path=path), additional_vars=["data"])
    notes = notes_of(caught.value)
    assert "node 'load_data.raw'" in notes
    assert str(path) in notes


async def test_a_format_that_cannot_load_the_targets_type_is_a_graph_error(
    tmp_path: Path,
) -> None:
    def data(raw: pd.DataFrame) -> int:
        return len(raw)

    with pytest.raises(GraphError, match=r"json loads dict or list, but 'raw' is annotated"):
        await materialize(
            on_threads(data), from_.json("raw", path=tmp_path / "x"), additional_vars=["data"]
        )


# --- parallel blocks and executors ----------------------------------------------------------------


def item() -> Parallelizable[int]:
    yield from range(4)


def squared(item: int) -> int:
    return item * item


def squares(squared: Collect[int]) -> list[int]:
    return list(squared)


async def test_a_collect_node_of_a_parallel_block_is_materialized(tmp_path: Path) -> None:
    dr = build(
        item,
        squared,
        squares,
        local=executors.ThreadExecutor(max_tasks=2),
        remote=executors.ThreadExecutor(max_tasks=2),
    )
    path = tmp_path / "squares.json"
    metadata, extra = await materialize(
        dr, to.json("out", ["squares"], path=path), additional_vars=["squares"]
    )
    assert await read_json(path) == [0, 1, 4, 9]
    assert extra == {"squares": [0, 1, 4, 9]}
    assert metadata["out"]["file_metadata"]["size"] == len("[0, 1, 4, 9]")


async def test_a_node_inside_a_block_cannot_be_materialized_without_its_collect(
    tmp_path: Path,
) -> None:
    with pytest.raises(GraphError, match="squares"):
        await materialize(
            on_threads(item, squared, squares), to.pickle("out", ["squared"], path=tmp_path / "x")
        )


# --- the sync twin --------------------------------------------------------------------------------


@pytest.mark.allow_blocking  # the default inline executor runs the saver on the loop thread
def test_materialize_sync_runs_on_its_own_loop_with_the_default_executor(tmp_path: Path) -> None:
    def data() -> list[int]:
        return [1, 2]

    path = tmp_path / "data.pickle"
    metadata, extra = build(data).materialize_sync(
        to.pickle("out", ["data"], path=path), additional_vars=["data"]
    )
    assert extra == {"data": [1, 2]}
    assert pickle.loads(path.read_bytes()) == [1, 2]
    assert metadata["out"]["file_metadata"]["size"] == path.stat().st_size


async def test_materialize_sync_inside_a_running_loop_is_refused(tmp_path: Path) -> None:
    def data() -> list[int]:
        return [1]

    with pytest.raises(AsyncDagError, match=r"await driver.materialize"):
        build(data).materialize_sync(to.json("out", ["data"], path=tmp_path / "x"))


# --- wrong arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize("factory", [to, from_])
def test_an_unknown_format_is_an_attribute_error_listing_the_formats(factory: Any) -> None:
    with pytest.raises(AttributeError, match=r"no format 'xml'; asyncdag has json, csv, pickle"):
        _ = factory.xml


def test_an_option_the_format_does_not_take_is_a_type_error(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"unknown argument\(s\) 'sepp'.*Did you mean 'sep'"):
        to.csv("out", ["data"], path=tmp_path / "x", sepp=";")


def test_materialize_takes_only_to_and_from_objects() -> None:
    def data() -> int:
        return 1

    with pytest.raises(TypeError, match=r"to.<format>\(...\) and from_.<format>\(...\)"):
        build(data).materialize_sync("data")  # type: ignore[arg-type]


def test_parquet_without_pyarrow_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyarrow" else real(name, *a)
    )
    with pytest.raises(ImportError, match=r"pip install 'asyncdag\[parquet\]'"):
        to.parquet("out", ["data"], path=tmp_path / "x")


def test_the_public_modules_export_the_materializers_and_the_io_decorators() -> None:
    assert materialization.__all__ == ["from_", "to"]
    for name in ["load_from", "save_to", "dataloader", "datasaver"]:
        assert name in function_modifiers.__all__
        assert getattr(function_modifiers, name) is not None
