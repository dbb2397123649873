"""Ad-hoc savers ``to.<format>`` and loaders ``from_.<format>`` for ``Driver.materialize``.

As in Hamilton: ``to.json(id="out", dependencies=["a", "b"], path="out.json",
combine=DictResult())`` saves the combined value of ``a`` and ``b`` from a node named ``out``;
``from_.json(target="raw", path=source("raw_path"))`` provides ``raw`` (a node or an input)
from a file instead, through nodes ``load_data.raw`` and ``raw``. Arguments may be plain
values, ``value(...)`` or ``source(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from ..errors import UnknownNodeError
from ..graph.graph import FunctionGraph
from ..graph.modifiers.io_nodes import LoadFrom, SaveTo
from ..graph.modifiers.materialize import materialized
from ..graph.modifiers.meta import Dependency
from ..graph.types import check_input_types
from ._formats import FORMATS, unknown_format

__all__ = ["from_", "to"]


@dataclass(frozen=True)
class Materializer:
    """What ``to.<format>(...)`` returns: save ``dependencies`` from a node named ``id``."""

    id: str
    dependencies: tuple[str, ...]
    format: str
    arguments: dict[str, Dependency]
    combine: Any = None  # a result builder (``build_result(**outputs)``), or None


@dataclass(frozen=True)
class Extractor:
    """What ``from_.<format>(...)`` returns: provide ``target`` from a file."""

    target: str
    format: str
    arguments: dict[str, Dependency]


def _names(dependencies: Iterable[str | Callable[..., Any]]) -> tuple[str, ...]:
    if isinstance(dependencies, str):
        raise TypeError(f"dependencies must be a list of node names, not {dependencies!r}")
    return tuple(d if isinstance(d, str) else d.__name__ for d in dependencies)


def _to(
    fmt: str,
    id: str,
    dependencies: Sequence[str | Callable[..., Any]],
    combine: Any,
    given: dict[str, Any],
) -> Materializer:
    what = f"to.{fmt}(id={id!r})"
    if combine is not None and not callable(getattr(combine, "build_result", None)):
        raise TypeError(f"{what}: combine= must be a result builder with build_result(**outputs)")
    arguments = FORMATS[fmt].arguments(what, False, given)
    return Materializer(id, _names(dependencies), fmt, arguments, combine)


def _from(fmt: str, target: str, given: dict[str, Any]) -> Extractor:
    what = f"from_.{fmt}(target={target!r})"
    return Extractor(target, fmt, FORMATS[fmt].arguments(what, True, given))


class _To:
    """``to.json``, ``to.csv``, ``to.pickle``, ``to.parquet``: savers for ``materialize``."""

    def json(
        self,
        id: str,
        dependencies: Sequence[str | Callable[..., Any]],
        *,
        path: Any,
        combine: Any = None,
    ) -> Materializer:
        """Save a ``dict`` or ``list`` as JSON."""
        return _to("json", id, dependencies, combine, {"path": path})

    def pickle(
        self,
        id: str,
        dependencies: Sequence[str | Callable[..., Any]],
        *,
        path: Any,
        combine: Any = None,
    ) -> Materializer:
        """Save any value as a pickle."""
        return _to("pickle", id, dependencies, combine, {"path": path})

    def csv(
        self,
        id: str,
        dependencies: Sequence[str | Callable[..., Any]],
        *,
        path: Any,
        combine: Any = None,
        **options: Any,
    ) -> Materializer:
        """Save a pandas ``DataFrame`` with ``to_csv(path, index=False, **options)``."""
        return _to("csv", id, dependencies, combine, {"path": path, **options})

    def parquet(
        self,
        id: str,
        dependencies: Sequence[str | Callable[..., Any]],
        *,
        path: Any,
        combine: Any = None,
        **options: Any,
    ) -> Materializer:
        """Save a pandas ``DataFrame`` with ``to_parquet(path, **options)``."""
        return _to("parquet", id, dependencies, combine, {"path": path, **options})

    def __getattr__(self, name: str) -> NoReturn:
        raise unknown_format("to", name)


class _From:
    """``from_.json``, ``from_.csv``, ``from_.pickle``, ``from_.parquet``: loaders."""

    def json(self, target: str, *, path: Any) -> Extractor:
        """Load a ``dict`` or ``list`` from JSON."""
        return _from("json", target, {"path": path})

    def pickle(self, target: str, *, path: Any) -> Extractor:
        """Load any value from a pickle."""
        return _from("pickle", target, {"path": path})

    def csv(self, target: str, *, path: Any, **options: Any) -> Extractor:
        """Load a pandas ``DataFrame`` with ``pandas.read_csv(path, **options)``."""
        return _from("csv", target, {"path": path, **options})

    def parquet(self, target: str, *, path: Any, **options: Any) -> Extractor:
        """Load a pandas ``DataFrame`` with ``pandas.read_parquet(path, **options)``."""
        return _from("parquet", target, {"path": path, **options})

    def __getattr__(self, name: str) -> NoReturn:
        raise unknown_format("from_", name)


to = _To()
from_ = _From()


def _origin() -> None:
    """Materializer nodes are named after this module in messages."""


_origin.__qualname__ = "materialize"


def apply_materializers(
    graph: FunctionGraph, items: Sequence[Materializer | Extractor], additional: Sequence[str]
) -> tuple[FunctionGraph, tuple[str, ...]]:
    """``graph`` with the savers and loaders of ``items``, and the savers' ids.

    Raises:
        TypeError: an item is not from ``to.*`` or ``from_.*``.
        ValueError: nothing to compute (no saver and no ``additional_vars``).
        UnknownNodeError: a saver or a loader names what is neither a node nor an input.
        GraphError: a saver cannot save its value, or the new graph is invalid.
    """
    bad = [i for i in items if not isinstance(i, Materializer | Extractor)]
    if bad:
        raise TypeError(
            f"materialize() takes to.<format>(...) and from_.<format>(...) objects, not "
            f"{', '.join(map(repr, bad))}"
        )
    savers = [i for i in items if isinstance(i, Materializer)]
    loaders = [i for i in items if isinstance(i, Extractor)]
    if not savers and not additional:
        raise ValueError(
            "No output requested: pass to.<format>(...) materializers, or additional_vars=[...]."
        )
    known = [*graph.nodes, *graph.inputs]
    for saver in savers:
        for dep in saver.dependencies:
            if dep not in graph.nodes and dep not in graph.inputs:
                error = UnknownNodeError(dep, known)
                error.add_note(f"asyncdag: a dependency of materializer {saver.id!r}")
                raise error
    for loader in loaders:
        if loader.target not in graph.nodes and loader.target not in graph.inputs:
            error = UnknownNodeError(loader.target, known)
            error.add_note(f"asyncdag: the target of from_.{loader.format}(...)")
            raise error
    input_types = {
        name: next(p.annotation for p in graph.nodes[users[0]].params if p.name == name)
        for name, users in graph.inputs.items()
    }
    nodes = materialized(
        graph.nodes,
        [
            (s.id, s.dependencies, SaveTo(FORMATS[s.format], s.arguments, s.id, None), s.combine)
            for s in savers
        ],
        [(e.target, LoadFrom(FORMATS[e.format], e.arguments, None)) for e in loaders],
        _origin,
        input_types,
    )
    check_input_types(nodes)
    return FunctionGraph.from_nodes(nodes, graph.config), tuple(s.id for s in savers)
