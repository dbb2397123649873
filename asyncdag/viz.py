"""Pictures of the DAG with graphviz: every function, or only what one request runs.

Parallel blocks are nested clusters (``cluster_<expander>``); edges carry the type of the value
they pass; edges out of a ``Parallelizable`` node and into a ``Collect`` parameter end in a
crow's foot, as in Hamilton. Needs the ``graphviz`` package (``pip install 'asyncdag[viz]'``)
and, to write files, Graphviz's ``dot`` program.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import AsyncDagError, MissingInputError
from .graph.analysis import Scope
from .graph.graph import FunctionGraph
from .graph.node import Node, Param
from .graph.plan import Frame, build_plan
from .graph.types import describe

__all__ = ["display_all_functions", "visualize_execution"]

_FONT = "Helvetica"
_MAX_TYPE = 80
_LEGEND_ORDER = ("config", "input", "function", "output", "override", "expand", "collect")
_LEGEND_LABELS = {"expand": "Parallelizable", "collect": "Collect"}
_INSTALL_DOT = (
    "install Graphviz, which provides it: `apt-get install graphviz` (Debian, Ubuntu), "
    "`brew install graphviz` (macOS) or `conda install graphviz`"
)


@dataclass
class _View:
    """What to draw: function nodes with their block scope, and the names they read."""

    functions: dict[str, tuple[Node, Scope]] = field(default_factory=dict)
    reads: dict[str, tuple[Param, ...]] = field(default_factory=dict)
    overrides: set[str] = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    config: Mapping[str, Any] = field(default_factory=dict)
    outputs: set[str] = field(default_factory=set)
    all_config: bool = False  # draw config keys no drawn node reads


def display_all_functions(
    graph: FunctionGraph,
    output_file_path: str | None = None,
    render_kwargs: Mapping[str, Any] | None = None,
    graphviz_kwargs: Mapping[str, Any] | None = None,
    **style: Any,
) -> Any:
    """Draw every node of ``graph``; write it to ``output_file_path`` when given."""
    view = _View(config=graph.config, all_config=True)
    for name, node in graph.nodes.items():
        view.functions[name] = (node, graph.analysis.scopes[name])
        view.reads[name] = node.params
    return _draw(view, graph, output_file_path, render_kwargs, graphviz_kwargs, **style)


def visualize_execution(
    graph: FunctionGraph,
    final_vars: Iterable[str],
    output_file_path: str | None = None,
    render_kwargs: Mapping[str, Any] | None = None,
    inputs: Mapping[str, Any] | None = None,
    graphviz_kwargs: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | None = None,
    bypass_validation: bool = False,
    **style: Any,
) -> Any:
    """Draw only the nodes that ``execute(final_vars, inputs, overrides)`` would run.

    Raises:
        UnknownNodeError, MissingInputError, GraphError: as ``execute`` would, before drawing
            (missing inputs are drawn instead with ``bypass_validation=True``).
    """
    outputs = tuple(final_vars)
    given, replaced = set(inputs or ()), set(overrides or ())
    try:
        plan = build_plan(graph, outputs, given, replaced, ())
        missing: set[str] = set()
    except MissingInputError as exc:
        if not bypass_validation:
            exc.add_note("asyncdag: pass bypass_validation=True to draw the missing inputs anyway")
            raise
        missing = set(exc.missing)
        plan = build_plan(graph, outputs, given | set(exc.missing), replaced, ())
    config = {k: v for k, v in graph.config.items() if k not in given}
    view = _View(overrides=replaced, missing=missing, config=config, outputs=set(outputs))
    _walk(plan.root, view)
    return _draw(view, graph, output_file_path, render_kwargs, graphviz_kwargs, **style)


def _walk(frame: Frame, view: _View) -> None:
    """Collect the nodes of ``frame`` and of its blocks, and the parameters each step reads."""
    for step in frame.steps:
        name = step.node.name
        view.functions[name] = (step.node, frame.scope)
        used = {p for p, _ in step.args}
        view.reads[name] = tuple(p for p in step.node.params if p.name in used)
        if step.block is not None:
            if step.block.given:
                view.overrides.add(name)
            _walk(step.block.frame, view)


def _draw(
    view: _View,
    graph: FunctionGraph,
    output_file_path: str | None,
    render_kwargs: Mapping[str, Any] | None,
    graphviz_kwargs: Mapping[str, Any] | None,
    *,
    show_legend: bool = True,
    orient: str = "LR",
    hide_inputs: bool = False,
    deduplicate_inputs: bool = False,
    custom_style_function: Callable[..., Any] | None = None,
    describe_node: Callable[[str], Any] | None = None,
    keep_dot: bool = False,
) -> Any:
    graphviz = _import_graphviz()
    dot = graphviz.Digraph(**_digraph_attrs(orient, graphviz_kwargs or {}))
    seen: set[str] = set()
    extra_legend: dict[str, tuple[str, dict[str, str]]] = {}

    def function_style(name: str, node: Node | None) -> dict[str, str]:
        kind = "override" if name in view.overrides else "function"
        marks = [kind]
        if node is not None and node.expands:
            marks.append("expand")
        if any(p.collect for p in view.reads.get(name, ())):
            marks.append("collect")
        style = _style("function")
        for mark in marks[1:]:
            style.update(_style(mark))
        if custom_style_function is not None and describe_node is not None:
            custom, base, legend = custom_style_function(node=describe_node(name), node_class=kind)
            style.update(custom)
            if legend:
                extra_legend[legend] = (base, dict(custom))
        # The request's own marks come last, so they show whatever the custom style did.
        if name in view.outputs:
            marks.append("output")
            style.update(_style("output"))
        if kind == "override":
            style.update(_style("override"))
        seen.update(marks)
        return style

    # Nodes, grouped by the block they run in; clusters nest as blocks do.
    by_scope: dict[Scope, list[str]] = {}
    for name, (_, scope) in view.functions.items():
        by_scope.setdefault(scope, []).append(name)
        for depth in range(len(scope)):
            by_scope.setdefault(scope[:depth], [])

    def fill(parent: Any, scope: Scope) -> None:
        for name in by_scope.get(scope, ()):
            node = view.functions[name][0]
            parent.node(name, label=_label(name, node.returns), **function_style(name, node))
        for child in sorted(s for s in by_scope if len(s) == len(scope) + 1 and s[:-1] == scope):
            cluster = graphviz.Digraph(
                name=f"cluster_{child[-1]}", graph_attr=_cluster_attrs(child)
            )
            fill(cluster, child)
            parent.subgraph(cluster)

    fill(dot, ())

    # Overrides of nodes that do not run, and config values.
    read_names = {p.name for params in view.reads.values() for p in params}
    for name in sorted(view.overrides - set(view.functions)):
        if name in read_names or name in view.outputs:
            node = graph.nodes.get(name)
            label = _label(name, node.returns if node is not None else Any)
            dot.node(name, label=label, **function_style(name, node))
    for key, value in view.config.items():
        if view.all_config or key in read_names:
            dot.node(_config_id(key), label=_label(key, None, str(value)), **_style("config"))
            seen.add("config")

    # Edges, and one input table per consumer (shared by equal sets with deduplicate_inputs).
    tables: dict[frozenset[str], str] = {}
    for name, params in view.reads.items():
        table: list[Param] = []
        for p in params:
            if p.name in view.functions or p.name in view.overrides:
                producer = view.functions.get(p.name, (graph.nodes.get(p.name), ()))[0]
                dot.edge(p.name, name, **_edge_style(p, producer))
            elif p.name in view.config:
                dot.edge(_config_id(p.name), name, **_edge_style(p, None))
            else:
                table.append(p)
        if hide_inputs or not table:
            continue
        seen.add("input")
        names = frozenset(p.name for p in table)
        if names in tables:
            dot.edge(tables[names], name)
            continue
        table_id = f"_{name}_inputs"
        if deduplicate_inputs:
            tables[names] = table_id
        dot.node(table_id, label=_input_table(table, view.missing), **_style("input"))
        dot.edge(table_id, name)

    if show_legend:
        dot.subgraph(_legend(graphviz, seen, extra_legend))
    if output_file_path is not None:
        _render(graphviz, dot, output_file_path, render_kwargs or {}, keep_dot)
    return dot


def _import_graphviz() -> Any:
    try:
        import graphviz
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError(
            "drawing the DAG needs the graphviz package: pip install 'asyncdag[viz]'"
        ) from exc
    return graphviz


def _digraph_attrs(orient: str, graphviz_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Hamilton's defaults, updated (nested dicts merged) by ``graphviz_kwargs``."""
    attrs: dict[str, Any] = {
        "comment": "Dependency Graph",
        "graph_attr": {"rankdir": orient, "ranksep": "0.4", "compound": "true"},
        "node_attr": {"fillcolor": "#ffffff", "fontname": _FONT},
        "edge_attr": {"fontname": _FONT, "fontsize": "10"},
    }
    for key, value in graphviz_kwargs.items():
        if isinstance(value, Mapping) and isinstance(attrs.get(key), dict):
            attrs[key].update(value)
        else:
            attrs[key] = value
    return attrs


def _cluster_attrs(scope: Scope) -> dict[str, str]:
    return {
        "label": f"parallel block: one branch per item of {scope[-1]}",
        "labeljust": "l",
        "style": "rounded,dashed,filled",
        "color": "#649fb3",
        "fillcolor": "#f4f9fb" if len(scope) % 2 else "#ffffff",
        "fontname": _FONT,
    }


def _style(kind: str) -> dict[str, str]:
    """Base style of a node kind, or the overrides a marker (output, expand...) applies."""
    styles: dict[str, dict[str, str]] = {
        "function": {"shape": "rectangle", "margin": "0.15", "style": "rounded,filled"}
        | {"fillcolor": "#b4d8e4"},
        "input": {"shape": "rectangle", "margin": "0.15", "style": "filled,dashed"},
        "config": {"shape": "note", "style": "filled"},
        "output": {"fillcolor": "#FFC857"},
        "override": {"style": "filled,diagonals", "fillcolor": "#e8e8e8"},
        "expand": {"peripheries": "2", "color": "#56E39F"},
        "collect": {"peripheries": "2", "color": "#EA5556"},
    }
    return dict(styles[kind])


def _edge_style(param: Param, producer: Node | None) -> dict[str, str]:
    style: dict[str, str] = {}
    produced = producer.item_type if producer is not None else Any
    text = _type_text(param.annotation if param.annotation is not Any else produced)
    if text:
        style["label"] = text
    if producer is not None and producer.expands and not param.collect:
        style.update(dir="both", arrowhead="crow", arrowtail="none", style="bold")
    if param.collect:
        style.update(dir="both", arrowtail="crow", style="bold")
    return style


def _type_text(tp: Any) -> str:
    """``Collect[int]``, ``dict[str, int]``: the annotation without module prefixes."""
    if tp is Any or tp is None:
        return ""
    text = re.sub(r"\b[A-Za-z_][\w]*\.", "", describe(tp))
    return text if len(text) <= _MAX_TYPE else text[:_MAX_TYPE] + "[...]"


def _label(name: str, tp: Any, text: str | None = None) -> str:
    """An HTML-like label: the name in bold, the type (or ``text``) in italics."""
    detail = html.escape(_type_text(tp) if text is None else text[:_MAX_TYPE])
    return f"<<b>{html.escape(name)}</b><br/><br/><i>{detail}</i>>"


def _input_table(params: Iterable[Param], missing: Collection[str]) -> str:
    rows = []
    for p in params:
        note = " (missing)" if p.name in missing else ""
        kind = html.escape(_type_text(p.annotation))
        rows.append(f"<tr><td>{html.escape(p.name)}{note}</td><td>{kind}</td></tr>")
    return f'<<table border="0">{"".join(rows)}</table>>'


def _config_id(key: str) -> str:
    return f"_config_{key}"


def _legend(graphviz: Any, seen: set[str], extra: Mapping[str, tuple[str, dict[str, str]]]) -> Any:
    legend = graphviz.Digraph(
        name="cluster__legend",
        graph_attr={"label": "Legend", "rank": "same", "fontname": _FONT, "fillcolor": "#ffffff"},
    )
    for kind in (k for k in _LEGEND_ORDER if k in seen):
        base = "function" if kind in ("output", "override", "expand", "collect") else kind
        style = _style(base) | _style(kind)
        legend.node(f"_legend_{kind}", label=_LEGEND_LABELS.get(kind, kind), **style)
    for name, (base, custom) in extra.items():
        legend.node(f"_legend_{name}", label=name, **(_style(base) | custom))
    return legend


def _render(
    graphviz: Any, dot: Any, path: str, render_kwargs: Mapping[str, Any], keep_dot: bool
) -> None:
    """Write ``dot`` in the format named by the file's suffix (PNG when it has none)."""
    base, suffix = str(Path(path).with_suffix("")), Path(path).suffix
    kwargs = {"format": suffix[1:].lower() if suffix else "png", **render_kwargs}
    fmt = kwargs["format"]
    if fmt not in graphviz.FORMATS:
        known = ", ".join(sorted(graphviz.FORMATS))
        raise ValueError(
            f"cannot draw {path!r}: {fmt!r} is not an output format Graphviz knows. "
            f"Use a file name ending in .png or .svg (or one of: {known})."
        )
    try:
        if keep_dot:  # the DOT source at ``base``, the picture at ``base.<format>``
            dot.render(base, **{"view": False, **kwargs})
        else:
            kwargs.pop("view", None)
            Path(f"{base}.{fmt}").write_bytes(dot.pipe(**kwargs))
    except graphviz.ExecutableNotFound as exc:
        raise AsyncDagError(
            f"cannot draw {path!r}: Graphviz's `dot` program is not on PATH; {_INSTALL_DOT}."
        ) from exc
    except graphviz.CalledProcessError as exc:
        stderr = (exc.stderr or b"").decode(errors="replace").strip()
        raise AsyncDagError(
            f"cannot draw {path!r}: `dot` failed to write {fmt!r} ({stderr or exc}). "
            "This Graphviz build may lack that format; try .svg or .png."
        ) from exc
