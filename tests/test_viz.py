"""Pictures of the DAG: real files rendered by the real ``dot`` program, then read back."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from conftest import build

from asyncdag import Collect, Parallelizable
from asyncdag.errors import AsyncDagError, MissingInputError, UnknownNodeError

pytestmark = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is missing (make test installs it)"
)

SVG = "{http://www.w3.org/2000/svg}"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


# -- DAGs ---------------------------------------------------------------------------------


def word_count() -> Any:
    def files(folder: str) -> list[str]:
        return [f"{folder}/a", f"{folder}/b"]

    def url(files: list[str]) -> Parallelizable[str]:
        yield from files

    def text(url: str) -> str:
        return url * 3

    def counts(text: str) -> int:
        return len(text)

    def name(url: str) -> str:
        return url.rsplit("/", 1)[-1]

    def total_words(counts: Collect[int]) -> int:
        return sum(counts)

    def per_document(name: Collect[str], counts: Collect[int]) -> dict[str, int]:
        return dict(zip(name, counts, strict=True))

    return build(files, url, text, counts, name, total_words, per_document)


def nested() -> Any:
    """Sites fan out into pages; each site's pages are collected inside the site's branch."""

    def site(sites: list[str]) -> Parallelizable[str]:
        yield from sites

    def page(site: str) -> Parallelizable[str]:
        yield from (f"{site}/1", f"{site}/2")

    def size(page: str) -> int:
        return len(page)

    def site_size(size: Collect[int]) -> int:
        return sum(size)

    def grand_total(site_size: Collect[int]) -> int:
        return sum(site_size)

    return build(site, page, size, site_size, grand_total)


# -- reading SVG back ---------------------------------------------------------------------


def svg_groups(path: Path, kind: str) -> dict[str, ET.Element]:
    """The ``<g class=kind>`` groups of an SVG file, by their ``<title>``."""
    root = ET.parse(path).getroot()  # raises on a malformed file
    assert root.tag == f"{SVG}svg"
    groups = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == kind:
            title = g.find(f"{SVG}title")
            assert title is not None and title.text is not None
            groups[title.text] = g
    return groups


def block_clusters(path: Path) -> dict[str, ET.Element]:
    return {k: v for k, v in svg_groups(path, "cluster").items() if k != "cluster__legend"}


def box(group: ET.Element) -> tuple[float, float, float, float]:
    """The bounding box (x0, y0, x1, y1) of a cluster's outline."""
    shape = group.find(f"{SVG}path")
    if shape is None:
        shape = group.find(f"{SVG}polygon")
    assert shape is not None
    text = shape.get("d") or shape.get("points") or ""
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", text)]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def svg_text(path: Path) -> list[str]:
    return [t.text or "" for t in ET.parse(path).getroot().iter(f"{SVG}text")]


# -- files and formats --------------------------------------------------------------------


def test_display_all_functions_writes_a_valid_png(tmp_path: Path) -> None:
    target = tmp_path / "dag.png"
    word_count().display_all_functions(str(target))
    data = target.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert len(data) > 1000


def test_display_all_functions_writes_svg_with_every_function(tmp_path: Path) -> None:
    target = tmp_path / "dag.svg"
    word_count().display_all_functions(str(target), show_legend=False)
    nodes = svg_groups(target, "node")
    assert {"files", "url", "text", "counts", "name", "total_words", "per_document"} <= set(nodes)
    assert "_files_inputs" in nodes  # the input folder, in its own box


def test_a_path_without_suffix_gets_a_png_as_in_hamilton(tmp_path: Path) -> None:
    word_count().display_all_functions(str(tmp_path / "dag"))
    assert (tmp_path / "dag.png").read_bytes().startswith(PNG_MAGIC)


def test_render_kwargs_format_wins_over_the_suffix_as_in_hamilton(tmp_path: Path) -> None:
    word_count().display_all_functions(str(tmp_path / "dag.png"), render_kwargs={"format": "svg"})
    assert svg_groups(tmp_path / "dag.svg", "node")


def test_keep_dot_also_writes_the_dot_source(tmp_path: Path) -> None:
    word_count().display_all_functions(str(tmp_path / "dag.svg"), keep_dot=True)
    assert (tmp_path / "dag").read_text().lstrip().startswith("// Dependency Graph")
    assert svg_groups(tmp_path / "dag.svg", "node")


def test_the_digraph_is_returned_and_nothing_written_without_a_path(tmp_path: Path) -> None:
    dot = word_count().display_all_functions()
    assert type(dot).__name__ == "Digraph"
    assert "subgraph cluster_url" in dot.source
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_suffix_is_an_error_naming_the_formats_to_use(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'dgm' is not an output format.*\.png or \.svg"):
        word_count().display_all_functions(str(tmp_path / "dag.dgm"))
    assert list(tmp_path.iterdir()) == []


def test_a_missing_dot_program_is_an_error_saying_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot there
    with pytest.raises(AsyncDagError, match=r"`dot` program is not on PATH.*apt-get install"):
        word_count().display_all_functions(str(tmp_path / "dag.png"))


# -- blocks, types and marks --------------------------------------------------------------


def test_each_parallel_block_is_one_cluster(tmp_path: Path) -> None:
    target = tmp_path / "dag.svg"
    word_count().display_all_functions(str(target))
    assert set(block_clusters(target)) == {"cluster_url"}


def test_nested_blocks_are_clusters_drawn_inside_each_other(tmp_path: Path) -> None:
    target = tmp_path / "dag.svg"
    nested().display_all_functions(str(target))
    clusters = block_clusters(target)
    assert set(clusters) == {"cluster_site", "cluster_page"}
    ox0, oy0, ox1, oy1 = box(clusters["cluster_site"])
    ix0, iy0, ix1, iy1 = box(clusters["cluster_page"])
    assert ox0 < ix0 and oy0 < iy0 and ix1 < ox1 and iy1 < oy1


def enclosing_clusters(source: str) -> dict[str, tuple[str, ...]]:
    """Each node of a DOT source, with the subgraphs it is declared in, outermost first."""
    stack: list[str] = []
    where: dict[str, tuple[str, ...]] = {}
    for line in source.splitlines():
        text = line.strip()
        if text.startswith("subgraph "):
            stack.append(text.split()[1])
        elif text == "}" and stack:
            stack.pop()
        elif " [" in text and "->" not in text and not text.startswith(("graph", "node", "edge")):
            where[text.split(" [")[0]] = tuple(stack)
    return where


def test_branch_nodes_are_inside_their_blocks_cluster_and_others_outside() -> None:
    where = enclosing_clusters(nested().display_all_functions(show_legend=False).source)
    assert where == {
        "site": (),
        "page": ("cluster_site",),
        "size": ("cluster_site", "cluster_page"),
        "site_size": ("cluster_site",),
        "grand_total": (),
        "_site_inputs": (),
    }


def test_edges_carry_the_types_they_pass(tmp_path: Path) -> None:
    target = tmp_path / "dag.svg"
    word_count().display_all_functions(str(target))
    labels = svg_text(target)
    assert "Collect[int]" in labels and "Collect[str]" in labels and "list[str]" in labels


def test_parallelizable_and_collect_edges_end_in_a_crows_foot() -> None:
    source = word_count().display_all_functions().source
    edges = {line.split(" [")[0].strip(): line for line in source.splitlines() if "->" in line}
    assert "arrowhead=crow" in edges["url -> text"]
    assert "arrowtail=crow" in edges["counts -> total_words"]
    assert "crow" not in edges["text -> counts"]


# -- visualize_execution ------------------------------------------------------------------


def test_visualize_execution_draws_only_the_nodes_that_run(tmp_path: Path) -> None:
    target = tmp_path / "run.svg"
    word_count().visualize_execution(
        ["total_words"], str(target), inputs={"folder": "x"}, show_legend=False
    )
    nodes = set(svg_groups(target, "node"))
    assert nodes == {"files", "url", "text", "counts", "total_words", "_files_inputs"}
    assert set(block_clusters(target)) == {"cluster_url"}


def test_visualize_execution_takes_hamiltons_positional_render_kwargs(tmp_path: Path) -> None:
    word_count().visualize_execution(
        ["total_words"], str(tmp_path / "run.dot"), {"format": "png"}, {"folder": "x"}
    )
    assert (tmp_path / "run.png").read_bytes().startswith(PNG_MAGIC)


def test_an_override_is_drawn_and_what_only_it_needed_is_not(tmp_path: Path) -> None:
    target = tmp_path / "run.svg"
    word_count().visualize_execution(
        ["total_words"], str(target), overrides={"files": ["a"]}, show_legend=False
    )
    assert set(svg_groups(target, "node")) == {"files", "url", "text", "counts", "total_words"}


def test_inputs_and_overrides_are_drawn_differently() -> None:
    def a(x: int) -> int:
        return x

    def b(a: int, y: int) -> int:
        return a + y

    def c(b: int) -> int:
        return b

    dot = build(a, b, c).visualize_execution(["c"], inputs={"y": 1}, overrides={"a": 2})
    lines = {s.strip().split(" [")[0]: s for s in dot.source.splitlines() if " [" in s}
    assert "dashed" in lines["_b_inputs"] and "diagonals" not in lines["_b_inputs"]
    assert "diagonals" in lines["a"] and "dashed" not in lines["a"]
    assert "_a_inputs" not in lines  # x is not needed once a is given
    assert "a -> b" in dot.source


def test_an_overridden_parallelizable_still_draws_its_block() -> None:
    dot = word_count().visualize_execution(["total_words"], overrides={"url": ["a", "b"]})
    source = dot.source
    assert "subgraph cluster_url" in source and "files [" not in source
    assert "diagonals" in next(s for s in source.splitlines() if s.strip().startswith("url ["))


def test_requested_outputs_are_highlighted() -> None:
    dot = word_count().visualize_execution(["total_words"], inputs={"folder": "x"})
    line = next(s for s in dot.source.splitlines() if s.strip().startswith("total_words ["))
    assert "#FFC857" in line


def test_visualize_execution_refuses_missing_inputs_like_execute() -> None:
    with pytest.raises(MissingInputError, match="folder") as caught:
        word_count().visualize_execution(["total_words"])
    assert "bypass_validation=True" in "\n".join(caught.value.__notes__)


def test_bypass_validation_draws_missing_inputs_marked_missing(tmp_path: Path) -> None:
    target = tmp_path / "run.svg"
    word_count().visualize_execution(["total_words"], str(target), bypass_validation=True)
    assert "folder (missing)" in svg_text(target)


def test_visualize_execution_names_an_unknown_output() -> None:
    with pytest.raises(UnknownNodeError, match=r"total_word.*total_words"):
        word_count().visualize_execution(["total_word"], inputs={"folder": "x"})


def test_hide_inputs_leaves_out_the_input_boxes() -> None:
    dot = word_count().display_all_functions(hide_inputs=True)
    assert "_inputs" not in dot.source


def test_graphviz_kwargs_override_the_defaults() -> None:
    dot = word_count().display_all_functions(
        orient="LR", graphviz_kwargs={"graph_attr": {"rankdir": "TB"}}
    )
    assert "rankdir=TB" in dot.source and "compound=true" in dot.source


def test_deduplicate_inputs_draws_one_box_for_equal_input_sets() -> None:
    def a(x: int) -> int:
        return x

    def b(x: int) -> int:
        return x

    assert build(a, b).display_all_functions().source.count("_inputs [") == 2
    dot = build(a, b).display_all_functions(deduplicate_inputs=True)
    assert dot.source.count("_inputs [") == 1
    assert dot.source.count("_inputs ->") == 2


# -- the README's picture -----------------------------------------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def test_docs_pictures_script_renders_the_word_count_run(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(DOCS / "pictures.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "word_count.png").read_bytes().startswith(PNG_MAGIC)
    nodes = set(svg_groups(tmp_path / "word_count.svg", "node"))
    assert {"text_files", "url", "url_loaded", "counts", "doc_name", "per_document"} <= nodes
    assert "main" not in nodes
    assert set(block_clusters(tmp_path / "word_count.svg")) == {"cluster_url"}


def test_the_committed_readme_picture_is_a_valid_svg_with_the_block() -> None:
    assert set(block_clusters(DOCS / "word_count.svg")) == {"cluster_url"}


# -- Hamilton parity and the rest of the arguments ----------------------------------------


@pytest.mark.parametrize("method", ["display_all_functions", "visualize_execution"])
def test_parameters_have_hamiltons_names_in_hamiltons_order(method: str) -> None:
    import inspect

    from hamilton import driver as hamilton_driver

    from asyncdag import Driver

    ours = list(inspect.signature(getattr(Driver, method)).parameters)
    theirs = list(inspect.signature(getattr(hamilton_driver.Driver, method)).parameters)
    assert ours == theirs


def test_a_format_this_dot_cannot_write_is_an_error_naming_dot(tmp_path: Path) -> None:
    with pytest.raises(AsyncDagError, match=r"`dot` failed to write 'cgimage'.*try \.svg"):
        word_count().display_all_functions(str(tmp_path / "dag.cgimage"))


def test_config_values_are_drawn_as_notes_feeding_their_readers() -> None:
    from conftest import make_module

    from asyncdag import Builder

    def doubled(threshold: int) -> int:
        return threshold * 2

    dr = Builder().with_modules(make_module(doubled)).with_config({"threshold": 4}).build()
    source = dr.display_all_functions().source
    assert "_config_threshold [label=<<b>threshold</b><br/><br/><i>4</i>>" in source
    assert "_config_threshold -> doubled" in source
    assert "_doubled_inputs" not in source


def test_custom_style_function_styles_nodes_and_adds_a_legend_entry() -> None:
    seen: list[tuple[str, str]] = []

    def style(*, node: Any, node_class: str) -> tuple[dict[str, str], str, str | None]:
        seen.append((node.name, node_class))
        if node.name == "counts":
            return {"fillcolor": "pink"}, "function", "counted"
        return {}, "function", None

    source = word_count().display_all_functions(custom_style_function=style).source
    line = next(s for s in source.splitlines() if s.strip().startswith("counts ["))
    assert "fillcolor=pink" in line
    assert "_legend_counted [label=counted" in source
    assert ("total_words", "function") in seen
