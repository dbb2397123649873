"""Hamilton's ``function_modifiers.recursive``: ``@subdag`` and ``@parameterized_subdag``."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from types import ModuleType
from typing import Any

from ..errors import GraphError
from ..graph.crawl import functions_of
from ..graph.modifiers.meta import (
    Dependency,
    LiteralDependency,
    ParameterizedSubdag,
    Subdag,
    UpstreamDependency,
    record,
)
from ..graph.modifiers.subdag import resolve_config
from ..graph.node import Node
from .base import _F

__all__ = ["assign_namespace", "parameterized_subdag", "subdag", "with_columns_base"]


def assign_namespace(node_name: str, namespace: str) -> str:
    """The name of node ``node_name`` inside a sub-DAG's ``namespace``: ``namespace.node_name``."""
    return f"{namespace}.{node_name}"


def _validate_config_inputs(config: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
    """A sub-DAG's ``config=`` and ``inputs=`` share no key, and inputs are ``source``/``value``.

    Raises:
        GraphError: (Hamilton's ``InvalidDecoratorException``) naming the keys or the input.
    """
    shared = sorted(set(config) & set(inputs))
    if shared:
        raise GraphError(
            f"Config keys {shared} are shared with inputs. This is not allowed. Give each key "
            "once: in config= if the sub-DAG's functions choose on it, else in inputs=."
        )
    for key, given in inputs.items():
        if not isinstance(given, LiteralDependency | UpstreamDependency):
            raise GraphError(
                f"Input {key} must be either an UpstreamDependency or a LiteralDependency "
                f"(source(...) or value(...)), not {type(given)}."
            )


_resolve_subdag_configuration = resolve_config


class subdag:
    """Build the functions of ``load_from`` again under a namespace; the function reads them.

    ``@subdag(features, inputs={"path": source("us_path")}, config={"region": "us"})`` on
    ``def us_report(total: int)`` makes nodes ``us_report.<name>`` for the module's functions
    and passes ``us_report.total`` to ``us_report``. Parameters in ``external_inputs`` are read
    from the outer graph instead. A ``config=`` value may be ``configuration("key")``, the
    outer config's value of ``key``.
    """

    def __init__(
        self,
        *load_from: ModuleType | Callable[..., Any],
        inputs: Mapping[str, Dependency] | None = None,
        config: Mapping[str, Any] | None = None,
        namespace: str | None = None,
        final_node_name: str | None = None,
        external_inputs: Collection[str] | None = None,
    ) -> None:
        if not load_from:
            raise TypeError("@subdag() needs the modules or functions to build")
        given = dict(inputs or {})
        bad = [
            v for v in given.values() if not isinstance(v, LiteralDependency | UpstreamDependency)
        ]
        if bad:
            raise TypeError(f"@subdag inputs must be value(...) or source(...); got {bad}")
        _validate_config_inputs(dict(config or {}), given)
        self._spec = Subdag(
            tuple(load_from),
            given,
            dict(config or {}),
            namespace,
            final_node_name,
            tuple(external_inputs or ()),
        )

    @staticmethod
    def collect_functions(
        load_from: Collection[ModuleType | Callable[..., Any]],
    ) -> list[Callable[..., Any]]:
        """The functions a sub-DAG is built from: those given, and those of the modules given.

        Raises:
            ValueError: ``load_from`` is empty.
        """
        if not load_from:
            raise ValueError("No functions were passed to subdag(load_from=...)")
        return [fn for _, fn in functions_of(load_from)]

    def validate(self, fn: Callable[..., Any]) -> None:
        """Check what can be checked before the graph is built: ``fn``'s parameters are named.

        Raises:
            GraphError: ``fn`` takes ``*args``, ``**kwargs`` or positional-only parameters.
        """
        Node.from_fn(fn.__name__, fn, {})

    def __call__(self, fn: _F) -> _F:
        record(fn).subdag = self._spec
        return fn


def parameterized_subdag(
    *load_from: ModuleType | Callable[..., Any],
    inputs: Mapping[str, Dependency] | None = None,
    config: Mapping[str, Any] | None = None,
    external_inputs: Collection[str] | None = None,
    **parameterization: Mapping[str, Any],
) -> Callable[[_F], _F]:
    """One ``@subdag`` per keyword, namespaced and named by it, as in Hamilton.

    ``@parameterized_subdag(mod, inputs=..., us={"inputs": {...}, "config": {...}}, eu={})``:
    each parameterization's ``inputs``/``config`` extend the shared ones, and its
    ``external_inputs`` replaces the shared list.
    """
    if not load_from:
        raise TypeError("@parameterized_subdag() needs the modules or functions to build")
    if not parameterization:
        raise TypeError("@parameterized_subdag() needs at least one parameterization, key={...}")
    known = {"inputs", "config", "external_inputs"}
    for key, spec in parameterization.items():
        unknown = sorted(set(spec) - known)
        if unknown:
            raise TypeError(
                f"@parameterized_subdag parameterization {key!r} has unknown keys "
                f"{', '.join(map(repr, unknown))}; use inputs, config and external_inputs."
            )
    shared_inputs, shared_config = dict(inputs or {}), dict(config or {})
    shared_external = list(external_inputs or ())
    subdags = []
    for key, spec in parameterization.items():
        given = {**shared_inputs, **spec.get("inputs", {})}
        bad = [
            v for v in given.values() if not isinstance(v, LiteralDependency | UpstreamDependency)
        ]
        if bad:
            raise TypeError(
                f"@parameterized_subdag {key!r}: inputs must be value(...) or source(...); "
                f"got {bad}"
            )
        subdags.append(
            Subdag(
                tuple(load_from),
                given,
                {**shared_config, **spec.get("config", {})},
                key,
                key,
                tuple(spec.get("external_inputs", shared_external)),
            )
        )
    made = ParameterizedSubdag(tuple(subdags))

    def decorate(fn: _F) -> _F:
        record(fn).subdag = made
        return fn

    return decorate


class with_columns_base:
    """Hamilton's base of ``@with_columns``, which asyncdag does not have."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError(
            "@with_columns is not supported by asyncdag. Extract the columns with "
            "@extract_columns, compute new ones with plain functions, and join them in a "
            "function (or a @subdag)."
        )
