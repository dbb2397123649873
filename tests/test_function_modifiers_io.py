"""@load_from, @save_to, @dataloader and @datasaver: Hamilton's node names, tags and results."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import HANG_GUARD, build, make_module, notes_of

from asyncdag import (
    Builder,
    Collect,
    Driver,
    Parallelizable,
    executors,
    extract_fields,
    parameterize,
    source,
    tag,
    value,
)
from asyncdag.errors import GraphError
from asyncdag.function_modifiers import dataloader, datasaver, load_from, save_to


def on_threads(*functions: Any) -> Driver:
    """A Driver whose sync nodes (loaders and savers included) run off the loop thread."""
    return build(*functions, local=executors.ThreadExecutor(max_tasks=2))


async def run(dr: Driver, outputs: list[str], **inputs: Any) -> dict[str, Any]:
    async with asyncio.timeout(HANG_GUARD):
        result: dict[str, Any] = await dr.execute(outputs, inputs=inputs)
        return result


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


# --- @load_from -----------------------------------------------------------------------------------


async def test_load_from_injects_the_only_parameter_from_a_file(tmp_path: Path) -> None:
    @load_from.json(path=source("raw_path"))
    def raw(data: dict[str, Any]) -> int:
        return len(data["employees"])

    path = await asyncio.to_thread(write_json, tmp_path / "in.json", {"employees": [1, 2, 3]})
    result = await run(on_threads(raw), ["raw", "raw.load_data.data"], raw_path=str(path))
    assert result["raw"] == 3
    data, metadata = result["raw.load_data.data"]
    assert data == {"employees": [1, 2, 3]}
    assert metadata["file_metadata"]["path"] == str(path)


def test_load_from_makes_hamiltons_loader_and_selector_nodes_with_their_tags() -> None:
    @load_from.json(path="unused.json")
    def raw(data: dict[str, Any]) -> int:
        return 0

    nodes = build(raw).graph.nodes
    assert set(nodes) == {"raw", "raw.load_data.data", "raw.select_data.data"}
    assert [p.name for p in nodes["raw"].params] == ["raw.select_data.data"]
    assert nodes["raw.load_data.data"].params == ()  # a literal path is no dependency
    loader, selector = nodes["raw.load_data.data"].tags, nodes["raw.select_data.data"].tags
    assert loader["hamilton.data_loader"] is True
    assert loader["hamilton.data_loader.has_metadata"] is True
    assert selector["hamilton.data_loader.has_metadata"] is False
    assert loader["hamilton.data_loader.source"] == "json"
    assert loader["hamilton.data_loader.node"] == selector["hamilton.data_loader.node"] == "data"


async def test_load_from_with_inject_loads_several_parameters(tmp_path: Path) -> None:
    @load_from.json(path=source("first_path"), inject_="first")
    @load_from.pickle(path=source("second_path"), inject_="second")
    def joined(first: dict[str, int], second: Any, factor: int) -> int:
        return (first["n"] + second) * factor

    first = await asyncio.to_thread(write_json, tmp_path / "a.json", {"n": 1})
    second = tmp_path / "b.pickle"
    await asyncio.to_thread(second.write_bytes, __import__("pickle").dumps(2))
    result = await run(
        on_threads(joined), ["joined"], first_path=str(first), second_path=str(second), factor=10
    )
    assert result == {"joined": 30}


def test_load_from_without_inject_on_several_parameters_is_a_graph_error() -> None:
    @load_from.json(path="x.json")
    def joined(first: dict[str, int], second: dict[str, int]) -> int:
        return 0

    with pytest.raises(GraphError, match=r"reads 2 parameters \(first, second\); name .*inject_"):
        build(joined)


def test_load_from_inject_naming_no_parameter_is_a_graph_error() -> None:
    @load_from.json(path="x.json", inject_="dta")
    def raw(data: dict[str, int]) -> int:
        return 0

    with pytest.raises(GraphError, match=r"inject_='dta'.*no such parameter.*reads data"):
        build(raw)


def test_load_from_into_a_type_the_format_cannot_load_is_a_graph_error() -> None:
    @load_from.json(path="x.json")
    def raw(data: int) -> int:
        return data

    with pytest.raises(GraphError, match=r"json loads dict or list, but 'data' is annotated int"):
        build(raw)


async def test_load_from_a_missing_file_names_the_node_and_the_path(tmp_path: Path) -> None:
    @load_from.json(path=source("raw_path"))
    def raw(data: dict[str, int]) -> int:
        return 0

    path = tmp_path / "missing.json"
    with pytest.raises(FileNotFoundError) as caught:
        await run(on_threads(raw), ["raw"], raw_path=str(path))
    notes = notes_of(caught.value)
    assert "'raw.load_data.data'" in notes
    assert str(path) in notes


def test_an_unknown_loader_or_saver_format_lists_the_formats() -> None:
    with pytest.raises(AttributeError, match=r"load_from has no format 'yaml'; asyncdag has json"):
        _ = load_from.yaml
    with pytest.raises(AttributeError, match=r"save_to has no format 'yaml'; asyncdag has json"):
        _ = save_to.yaml


def test_load_from_without_a_path_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="path"):
        load_from.json()  # type: ignore[call-arg]


async def test_load_from_feeds_every_node_of_a_parameterized_function(tmp_path: Path) -> None:
    @parameterize(small={"factor": value(1)}, large={"factor": value(10)})
    @load_from.json(path=source("raw_path"))
    def scaled(data: list[int], factor: int) -> int:
        return sum(data) * factor

    path = await asyncio.to_thread(write_json, tmp_path / "in.json", [1, 2])
    result = await run(on_threads(scaled), ["small", "large"], raw_path=str(path))
    assert result == {"small": 3, "large": 30}


# --- loaders on every executor --------------------------------------------------------------------


def path(files: list[str]) -> Parallelizable[str]:
    yield from files


@load_from.json(path=source("path"))
def count(data: list[int]) -> int:
    return len(data)


def total(count: Collect[int]) -> int:
    return sum(count)


async def test_loaders_inside_a_block_run_in_worker_processes(tmp_path: Path) -> None:
    files = [tmp_path / f"{i}.json" for i in range(3)]
    for i, file in enumerate(files):
        await asyncio.to_thread(write_json, file, list(range(i + 1)))
    dr = build(path, count, total, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        assert await run(dr, ["total"], files=[str(f) for f in files]) == {"total": 1 + 2 + 3}


async def test_tag_with_target_all_routes_the_loader_nodes_to_a_named_executor(
    tmp_path: Path,
) -> None:
    # The default (inline) local executor would read the file on the loop thread, which the
    # blockbuster fixture fails; tagged, every node of the function runs on the thread pool.
    @tag(executor="io", target_=...)
    @load_from.json(path=source("raw_path"))
    def raw(data: dict[str, int]) -> int:
        return data["n"]

    path = await asyncio.to_thread(write_json, tmp_path / "in.json", {"n": 7})
    dr = build(raw, io=executors.ThreadExecutor(max_tasks=1))
    assert dr.graph.nodes["raw.load_data.data"].tags["executor"] == "io"
    async with dr:
        assert await run(dr, ["raw"], raw_path=str(path)) == {"raw": 7}


# --- @save_to -------------------------------------------------------------------------------------


async def test_save_to_adds_a_node_that_saves_and_returns_metadata(tmp_path: Path) -> None:
    @save_to.json(path=source("out_path"), output_name_="saved")
    def report() -> dict[str, int]:
        return {"n": 1}

    out = tmp_path / "report.json"
    result = await run(on_threads(report), ["saved", "report"], out_path=str(out))
    assert result["report"] == {"n": 1}
    assert result["saved"]["file_metadata"]["path"] == str(out)
    assert json.loads(await asyncio.to_thread(out.read_text)) == {"n": 1}


async def test_save_to_saves_nothing_unless_its_node_is_requested(tmp_path: Path) -> None:
    out = tmp_path / "report.json"

    @save_to.json(path=str(out))
    def report() -> dict[str, int]:
        return {"n": 1}

    dr = on_threads(report)
    assert "save.report" in dr.graph.nodes  # Hamilton's default name
    assert await run(dr, ["report"]) == {"report": {"n": 1}}
    assert not await asyncio.to_thread(out.exists)


def test_save_to_tags_its_node_as_a_data_saver() -> None:
    @save_to.pickle(path="x")
    def report() -> dict[str, int]:
        return {}

    tags = build(report).graph.nodes["save.report"].tags
    assert tags["hamilton.data_saver"] is True
    assert tags["hamilton.data_saver.sink"] == "pickle"


async def test_save_to_with_target_saves_the_named_node(tmp_path: Path) -> None:
    out = tmp_path / "whole.json"

    @save_to.json(path=str(out), output_name_="saved", target_="stats")
    @extract_fields({"low": int, "high": int})
    def stats() -> dict[str, int]:
        return {"low": 1, "high": 9}

    result = await run(on_threads(stats), ["saved", "low"])
    assert result["low"] == 1
    assert json.loads(await asyncio.to_thread(out.read_text)) == {"low": 1, "high": 9}


def test_save_to_without_target_on_several_final_nodes_is_a_graph_error() -> None:
    @save_to.json(path="x")
    @extract_fields({"low": int, "high": int})
    def stats() -> dict[str, int]:
        return {}

    with pytest.raises(GraphError, match=r"needs one node to save.*2 final nodes.*target_"):
        build(stats)


def test_save_to_of_a_type_the_format_cannot_save_is_a_graph_error() -> None:
    @save_to.json(path="x")
    def number() -> int:
        return 1

    with pytest.raises(GraphError, match=r"json saves dict or list, but node 'number' returns int"):
        build(number)


# --- @dataloader and @datasaver -------------------------------------------------------------------


async def test_dataloader_makes_the_data_node_and_its_loader_node() -> None:
    @dataloader()
    def employees(source_name: str) -> tuple[list[str], dict[str, Any]]:
        return ["ann", "bo"], {"source": source_name}

    def headcount(employees: list[str]) -> int:
        return len(employees)

    dr = build(employees, headcount)
    result = await run(dr, ["headcount", "employees.loader"], source_name="hr")
    assert result == {"headcount": 2, "employees.loader": (["ann", "bo"], {"source": "hr"})}
    nodes = dr.graph.nodes
    assert nodes["employees"].returns == list[str]
    assert nodes["employees.loader"].tags["hamilton.data_loader.has_metadata"] is True
    assert nodes["employees"].tags["hamilton.data_loader.source"] == "employees"


@pytest.mark.parametrize(
    "annotation", [int, tuple[int], tuple[int, list[int]], tuple[int, dict[int, str]]]
)
def test_dataloader_needs_a_data_and_metadata_tuple_annotation(annotation: Any) -> None:
    def loader() -> Any:
        return 1, {}

    loader.__annotations__["return"] = annotation
    with pytest.raises(GraphError, match=r"@dataloader on .*tuple\[<data type>, dict\]"):
        build(dataloader()(loader))


@pytest.mark.parametrize("annotation", [dict, dict[str, Any]])
async def test_datasaver_runs_the_function_and_tags_it_as_a_saver(
    tmp_path: Path, annotation: Any
) -> None:
    out = tmp_path / "out.txt"

    def save_text(text: str) -> dict[str, str]:
        out.write_text(text)
        return {"path": str(out)}

    save_text.__annotations__["return"] = annotation
    save_text = datasaver()(save_text)

    dr = on_threads(save_text)
    assert await run(dr, ["save_text"], text="hi") == {"save_text": {"path": str(out)}}
    assert dr.graph.nodes["save_text"].tags["hamilton.data_saver.sink"] == "save_text"


def test_datasaver_must_return_a_dict() -> None:
    @datasaver()
    def save_text(text: str) -> str:
        return text

    with pytest.raises(GraphError, match=r"@datasaver on .*must be annotated to return dict"):
        build(save_text)


def test_dataloader_without_parentheses_says_to_add_them() -> None:
    with pytest.raises(TypeError, match=r"@dataloader\(\) with parentheses"):

        @dataloader  # type: ignore[call-arg, arg-type]
        def data() -> tuple[int, dict[str, Any]]:
            return 1, {}


# --- a Hamilton module, ported by its imports -----------------------------------------------------

HAMILTON_MODULE = """
from typing import Any
from hamilton.function_modifiers import dataloader, load_from, save_to, source


@load_from.json(path=source("in_path"))
def raw(data: dict) -> dict:
    return data


@save_to.json(path=source("out_path"), output_name_="saved")
def doubled(raw: dict) -> dict:
    return {k: v * 2 for k, v in raw.items()}


@dataloader()
def numbers(count: int) -> tuple[list, dict]:
    return list(range(count)), {"count": count}
"""


def _load(source_text: str, name: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    module = make_module(name=name)
    monkeypatch.setitem(sys.modules, module.__name__, module)  # Hamilton looks functions up there
    exec(compile(source_text, name, "exec"), module.__dict__)
    return module


@pytest.mark.allow_blocking  # Hamilton runs its loaders on the calling thread
def test_a_hamilton_module_with_io_decorators_gives_hamiltons_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hamilton_driver = pytest.importorskip("hamilton.driver")
    in_path = write_json(tmp_path / "in.json", {"a": 1, "b": 2})
    outputs = ["raw", "saved", "numbers", "numbers.loader", "raw.load_data.data"]
    results = []
    for name, port in [("hamilton", False), ("asyncdag", True)]:
        text = HAMILTON_MODULE.replace("hamilton", "asyncdag") if port else HAMILTON_MODULE
        module = _load(text, f"io_{name}", monkeypatch)
        inputs = {"in_path": str(in_path), "out_path": str(tmp_path / f"{name}.json"), "count": 3}
        if port:
            dr: Any = Builder().with_modules(module).build()
            result = dr.execute_sync(outputs, inputs=inputs)
        else:
            dr = hamilton_driver.Builder().with_modules(module).build()
            result = dr.execute(outputs, inputs=inputs)
        results.append(result)
    ours, theirs = results[1], results[0]
    assert set(ours) == set(theirs)
    for key in ("raw", "numbers", "numbers.loader"):
        assert ours[key] == theirs[key]
    assert ours["raw.load_data.data"][0] == theirs["raw.load_data.data"][0]
    pairs = [(ours["saved"], theirs["saved"])]
    pairs.append((ours["raw.load_data.data"][1], theirs["raw.load_data.data"][1]))
    for a, b in pairs:
        assert set(a["file_metadata"]) == set(b["file_metadata"])
        assert a["file_metadata"]["size"] == b["file_metadata"]["size"]
    assert (tmp_path / "asyncdag.json").read_text() == (tmp_path / "hamilton.json").read_text()
