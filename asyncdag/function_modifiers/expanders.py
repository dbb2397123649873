"""Hamilton's ``function_modifiers.expanders``: one function, several nodes.

``@parameterize`` (and its ``_sources``/``_values`` forms, ``@inject``) makes one node per output;
``@extract_fields``/``@extract_columns`` one node per field or column of the function's value.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Mapping
from typing import Any

from ..graph.modifiers.meta import (
    INJECTED,
    Binding,
    ExtractColumns,
    ExtractFields,
    GroupedDictDependency,
    GroupedListDependency,
    LiteralDependency,
    Parameterization,
    ParameterizedExtraction,
    UnpackFields,
    UpstreamDependency,
    record,
)
from .base import _F
from .dependencies import source, value

__all__ = [
    "ParameterizedExtract",
    "extract_columns",
    "extract_fields",
    "inject",
    "parameterize",
    "parameterize_extract_columns",
    "parameterize_sources",
    "parameterize_values",
    "unpack_fields",
]


_BINDINGS = (
    LiteralDependency,
    UpstreamDependency,
    GroupedListDependency,
    GroupedDictDependency,
)


def _bindings(output: str, mapping: Mapping[str, Any], what: str) -> dict[str, Binding]:
    bad = [v for v in mapping.values() if not isinstance(v, _BINDINGS)]
    if bad:
        raise TypeError(
            f"{what} output {output!r}: every parameter must be bound with value(...) "
            f"or source(...) (or a group(...) of them); got {', '.join(map(repr, bad))}"
        )
    return dict(mapping)


def _set_parameterization(
    fn: Callable[..., Any], spec: Parameterization | ParameterizedExtraction
) -> None:
    modifiers = record(fn)
    if modifiers.parameterization is not None:
        raise TypeError(
            f"{fn.__qualname__} has two @parameterize/@inject decorators; only one is allowed. "
            "Put all outputs in one."
        )
    modifiers.parameterization = spec


def parameterize(
    **parametrization: Mapping[str, Binding] | tuple[Mapping[str, Binding], str],
) -> Callable[[_F], _F]:
    """Make one node per keyword from one function, binding parameters with ``value``/``source``.

    ``@parameterize(a_plus_1={"x": source("a"), "n": value(1)})``; ``group(...)`` binds a
    ``list``/``dict`` parameter to several. A value may also be a ``(mapping, docstring)``
    pair; otherwise the function's docstring is formatted with ``{output_name}`` and the bound
    parameters, as in Hamilton.
    """
    outputs: dict[str, dict[str, Binding]] = {}
    docs: dict[str, str] = {}
    for output, spec in parametrization.items():
        mapping: Mapping[str, Any]
        if isinstance(spec, tuple):
            mapping, docs[output] = spec
        else:
            mapping = spec
        outputs[output] = _bindings(output, mapping, "@parameterize")
    if not outputs:
        raise TypeError("@parameterize() needs at least one output=...")
    spec_ = Parameterization(outputs, docs)

    def decorate(fn: _F) -> _F:
        _set_parameterization(fn, spec_)
        return fn

    return decorate


def inject(**key_mapping: Binding) -> Callable[[_F], _F]:
    """Bind some parameters of the function's own node: ``@inject(x=source("a"), n=value(1))``.

    Hamilton's ``@inject``: ``@parameterize`` with one output, the function's node;
    ``group(...)`` is its usual companion (``parts=group(source("a"), source("b"))``).
    """
    if not key_mapping:
        raise TypeError("@inject() needs at least one parameter=source(...)/value(...)/group(...)")
    spec = Parameterization({INJECTED: _bindings("of @inject", key_mapping, "@inject")}, {})

    def decorate(fn: _F) -> _F:
        _set_parameterization(fn, spec)
        return fn

    return decorate


def parameterize_sources(**parameterization: Mapping[str, str]) -> Callable[[_F], _F]:
    """``@parameterize`` where every binding is ``source``: ``out={"param": "node_name"}``."""
    if not parameterization or not all(parameterization.values()):
        raise ValueError("@parameterize_sources needs output={'parameter': 'node'} mappings")
    return parameterize(
        **{
            out: {param: source(node) for param, node in mapping.items()}
            for out, mapping in parameterization.items()
        }
    )


def parameterize_values(
    parameter: str, assigned_output: Mapping[tuple[str, str], Any]
) -> Callable[[_F], _F]:
    """``@parameterize`` of one parameter by value: ``{(output, docstring): value, ...}``."""
    for key in assigned_output:
        if not isinstance(key, tuple):
            raise TypeError(
                f"@parameterize_values: key {key!r} must be an (output name, docstring) tuple"
            )
    return parameterize(
        **{out: ({parameter: value(v)}, doc) for (out, doc), v in assigned_output.items()}
    )


def extract_fields(
    fields: Mapping[str, Any] | list[str] | str | None = None,
    *others: str,
    fill_with: Any = None,
) -> Callable[[_F], _F]:
    """Make one node per field of the dict the function returns, beside the dict node.

    ``fields`` maps names to types, or lists names whose type comes from the return
    annotation (``dict[str, int]`` or a ``TypedDict``); a ``TypedDict`` needs no fields.
    """
    names: Mapping[str, Any] | tuple[str, ...] | None
    if isinstance(fields, Mapping):
        names = dict(fields)
    elif isinstance(fields, list):
        names = (*fields, *others)
    elif fields:
        names = (fields, *others)
    else:
        names = None
    spec = ExtractFields(names, fill_with)

    def decorate(fn: _F) -> _F:
        record(fn).transforms.append(spec)
        return fn

    return decorate


def extract_columns(*columns: str | tuple[str, str], fill_with: Any = None) -> Callable[[_F], _F]:
    """Make one node per column of the pandas ``DataFrame`` the function returns.

    Raises:
        ImportError: pandas is not installed (``pip install 'asyncdag[pandas]'``).
    """
    if importlib.util.find_spec("pandas") is None:
        raise ImportError(
            "@extract_columns needs pandas. Install it with: pip install 'asyncdag[pandas]'"
        )
    if not columns:
        raise TypeError("@extract_columns() needs at least one column name")
    if isinstance(columns[0], list):
        raise TypeError("@extract_columns got a list; unpack it: @extract_columns(*names)")
    spec = ExtractColumns(
        tuple((c, None) if isinstance(c, str) else (c[0], c[1]) for c in columns), fill_with
    )

    def decorate(fn: _F) -> _F:
        record(fn).transforms.append(spec)
        return fn

    return decorate


def unpack_fields(*fields: str) -> Callable[[_F], _F]:
    """Make one node per leading item of the tuple the function returns, beside the tuple node.

    ``@unpack_fields("low", "high")`` on ``def bounds() -> tuple[int, int]``; the return must
    be annotated ``tuple[A, B, ...]`` or ``tuple[T, ...]``, as in Hamilton.
    """
    if not fields or not all(isinstance(f, str) for f in fields):
        raise TypeError("@unpack_fields(...) takes the field names: @unpack_fields('a', 'b')")
    spec = UnpackFields(tuple(fields))

    def decorate(fn: _F) -> _F:
        record(fn).transforms.append(spec)
        return fn

    return decorate


@dataclasses.dataclass(frozen=True)
class ParameterizedExtract:
    """One entry of ``@parameterize_extract_columns``: the columns it makes, and the bindings."""

    outputs: tuple[str, ...]
    input_mapping: Mapping[str, Binding]


def parameterize_extract_columns(
    *extract_config: ParameterizedExtract, reassign_columns: bool = True
) -> Callable[[_F], _F]:
    """``@parameterize`` and ``@extract_columns`` in one, as in Hamilton.

    Each ``ParameterizedExtract(("a", "b"), {"x": source("u")})`` runs the function with its
    bindings (a node ``<function>__<i>``) and makes one node per column of the frame it
    returns, the columns renamed to ``outputs`` first unless ``reassign_columns=False``.

    Raises:
        ImportError: pandas is not installed (``pip install 'asyncdag[pandas]'``).
    """
    if importlib.util.find_spec("pandas") is None:
        raise ImportError(
            "@parameterize_extract_columns needs pandas. Install it with: "
            "pip install 'asyncdag[pandas]'"
        )
    if not extract_config or not all(isinstance(e, ParameterizedExtract) for e in extract_config):
        raise TypeError(
            "@parameterize_extract_columns(...) takes ParameterizedExtract(...) objects"
        )
    entries = tuple(
        (
            tuple(e.outputs),
            _bindings(str(i), e.input_mapping, "@parameterize_extract_columns"),
        )
        for i, e in enumerate(extract_config)
    )
    spec = ParameterizedExtraction(entries, reassign_columns)

    def decorate(fn: _F) -> _F:
        _set_parameterization(fn, spec)
        return fn

    return decorate
