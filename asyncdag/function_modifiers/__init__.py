"""Decorators that shape how functions become nodes (Hamilton's function modifiers).

They only record metadata on the function; ``asyncdag.graph`` resolves it at build time, so
a decorator that does not fit its function raises ``GraphError`` from ``build()``, naming it.
Wrong arguments to a decorator itself raise ``TypeError`` or ``ValueError`` at once.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable, Collection, Mapping
from types import EllipsisType, ModuleType
from typing import Any, TypeVar

from ..errors import GraphError
from ..graph.modifiers.meta import (
    CheckOutput,
    Condition,
    ConfigResolver,
    Dependency,
    ExtractColumns,
    ExtractFields,
    LiteralDependency,
    Parameterization,
    PipeInput,
    Policy,
    Retry,
    Step,
    Subdag,
    Tagging,
    TagOutputs,
    Target,
    UpstreamDependency,
    record,
)
from ..graph.modifiers.streams import OnBranchError, Window, set_on_error, set_window
from ..io._decorators import dataloader, datasaver, load_from, save_to
from .macros import ResolveAt as ResolveAt
from .macros import apply_to as apply_to
from .macros import does as does
from .macros import mutate as mutate
from .macros import parameterized_subdag as parameterized_subdag
from .macros import pipe_output as pipe_output
from .macros import resolve as resolve
from .macros import resolve_from_config as resolve_from_config

__all__ = [
    "InvalidDecoratorException",
    "cache",
    "check_output",
    "check_output_custom",
    "config",
    "extract_columns",
    "extract_fields",
    "parameterize",
    "parameterize_sources",
    "parameterize_values",
    "pipe_input",
    "retry",
    "source",
    "step",
    "subdag",
    "tag",
    "tag_outputs",
    "timeout",
    "value",
    "load_from",
    "save_to",
    "dataloader",
    "datasaver",
    "ResolveAt",
    "apply_to",
    "does",
    "mutate",
    "parameterized_subdag",
    "pipe_output",
    "resolve",
    "resolve_from_config",
    "window",
    "on_branch_error",
]

_F = TypeVar("_F", bound=Callable[..., Any])

# Hamilton's name for a decorator that does not fit its function; asyncdag raises GraphError.
InvalidDecoratorException = GraphError
_TargetArg = str | Collection[str] | EllipsisType | None


class config:
    """Include a function only for some configurations: ``@config.when(mode="fast")``.

    Alternative implementations of one node are named ``name__suffix``: the node is the part
    before the last ``__``, or ``name`` when given (``@config.when(name="x", mode="fast")``).
    """

    def __init__(
        self,
        resolves: Callable[[dict[str, Any]], bool],
        target_name: str | None = None,
        config_used: list[str] | None = None,
    ) -> None:
        """``@config(resolves)``: include the function when ``resolves(config)`` is true.

        As in Hamilton, ``resolves`` sees the whole config, or only ``config_used`` keys;
        ``target_name`` names the node (else the name before the last ``__``).
        """
        if not callable(resolves):
            raise TypeError(f"@config(resolves) needs a callable of the config, not {resolves!r}")
        self._resolver = ConfigResolver(
            resolves, None if config_used is None else tuple(config_used)
        )
        self._target_name = target_name

    def __call__(self, fn: _F) -> _F:
        modifiers = record(fn)
        modifiers.conditions.append(self._resolver)
        if self._target_name is not None:
            modifiers.name = self._target_name
        return fn

    @staticmethod
    def _condition(
        kind: str, expected: Mapping[str, Any], name: str | None = None
    ) -> Callable[[_F], _F]:
        if not expected:
            raise TypeError(f"@config.{kind}() needs at least one key=value")

        def decorate(fn: _F) -> _F:
            modifiers = record(fn)
            modifiers.conditions.append(Condition(kind, dict(expected)))
            if name is not None:
                modifiers.name = name
            return fn

        return decorate

    @staticmethod
    def when(name: str | None = None, **key_value_pairs: Any) -> Callable[[_F], _F]:
        """Include the function when every ``key`` in the config equals its value."""
        return config._condition("when", key_value_pairs, name)

    @staticmethod
    def when_not(name: str | None = None, **key_value_pairs: Any) -> Callable[[_F], _F]:
        """Include the function when every ``key`` in the config differs from its value."""
        return config._condition("when_not", key_value_pairs, name)

    @staticmethod
    def when_in(name: str | None = None, **key_value_lists: Collection[Any]) -> Callable[[_F], _F]:
        """Include the function when every ``key`` in the config is one of its values."""
        return config._condition("when_in", key_value_lists, name)

    @staticmethod
    def when_not_in(**key_value_lists: Collection[Any]) -> Callable[[_F], _F]:
        """Include the function when no ``key`` in the config is one of its values."""
        return config._condition("when_not_in", key_value_lists)


def _target(target: _TargetArg) -> Target:
    if target is None or target is Ellipsis or isinstance(target, str):
        return target
    if isinstance(target, Collection) and all(isinstance(t, str) for t in target):
        return tuple(target)
    raise TypeError(f"target_ must be None, ..., a node name or a list of names, not {target!r}")


def tag(
    *, target_: _TargetArg = None, bypass_reserved_namespaces_: bool = False, **tags: Any
) -> Callable[[_F], _F]:
    """Attach metadata to a node: ``@tag(owner="data-team", executor="cpu")``.

    The ``executor`` tag routes a sync node to an executor named with ``Builder.with_executor``.
    When the function makes several nodes (``@extract_fields``...), the tags go to the final
    ones, as in Hamilton; ``target_=...`` tags them all, ``target_="name"`` one of them.
    """
    target = _target(target_)

    def decorate(fn: _F) -> _F:
        record(fn).decorations.append(Tagging(dict(tags), target))
        return fn

    return decorate


def tag_outputs(**tags_by_node: Mapping[str, Any]) -> Callable[[_F], _F]:
    """Tag each named node the function makes: ``@tag_outputs(a={"k": "v"}, b={...})``."""

    def decorate(fn: _F) -> _F:
        record(fn).decorations.append(TagOutputs({k: dict(v) for k, v in tags_by_node.items()}))
        return fn

    return decorate


def value(literal_value: Any) -> LiteralDependency:
    """In ``@parameterize``: bind a parameter to this fixed value."""
    return LiteralDependency(literal_value)


def source(dependency_on: str) -> UpstreamDependency:
    """In ``@parameterize``: read a parameter from the node or input of this name."""
    return UpstreamDependency(dependency_on)


def parameterize(
    **parametrization: Mapping[str, Dependency] | tuple[Mapping[str, Dependency], str],
) -> Callable[[_F], _F]:
    """Make one node per keyword from one function, binding parameters with ``value``/``source``.

    ``@parameterize(a_plus_1={"x": source("a"), "n": value(1)})``. A value may also be a
    ``(mapping, docstring)`` pair; otherwise the function's docstring is formatted with
    ``{output_name}`` and the bound parameters, as in Hamilton.
    """
    outputs: dict[str, dict[str, Dependency]] = {}
    docs: dict[str, str] = {}
    for output, spec in parametrization.items():
        mapping: Mapping[str, Any]
        if isinstance(spec, tuple):
            mapping, docs[output] = spec
        else:
            mapping = spec
        bad = [
            v for v in mapping.values() if not isinstance(v, LiteralDependency | UpstreamDependency)
        ]
        if bad:
            raise TypeError(
                f"@parameterize output {output!r}: every parameter must be bound with value(...) "
                f"or source(...); got {', '.join(map(repr, bad))}"
            )
        outputs[output] = dict(mapping)
    if not outputs:
        raise TypeError("@parameterize() needs at least one output=...")
    spec_ = Parameterization(outputs, docs)

    def decorate(fn: _F) -> _F:
        modifiers = record(fn)
        if modifiers.parameterization is not None:
            raise TypeError(
                f"{fn.__qualname__} has two @parameterize decorators; only one is allowed. "
                "Put all outputs in one."
            )
        modifiers.parameterization = spec_
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


def _importance(importance: str) -> str:
    if importance not in ("warn", "fail"):
        raise ValueError(f"importance must be 'warn' or 'fail', not {importance!r}")
    return importance


def check_output(
    importance: str = "warn",
    default_validator_candidates: None = None,
    target_: _TargetArg = None,
    **default_validator_kwargs: Any,
) -> Callable[[_F], _F]:
    """Check a node's value after it runs: ``@check_output(range=(0, 1), importance="fail")``.

    Checks: ``range``, ``data_type``, ``allow_none``, ``values_in``, ``contains``,
    ``does_not_contain``, and for pandas Series also ``max_fraction_nans``, ``allow_nans``,
    ``max_standard_dev``, ``mean_in_range``. ``importance="warn"`` logs a failed check;
    ``"fail"`` raises ``asyncdag.errors.DataValidationError``.
    """
    if default_validator_candidates is not None:
        raise TypeError(
            "@check_output(default_validator_candidates=...) is not supported by asyncdag; "
            "pass your validators to @check_output_custom(...) instead."
        )
    if not default_validator_kwargs:
        raise TypeError("@check_output() needs at least one check, such as range=(0, 1)")
    spec = CheckOutput(
        _importance(importance), dict(default_validator_kwargs), (), _target(target_)
    )

    def decorate(fn: _F) -> _F:
        record(fn).transforms.append(spec)
        return fn

    return decorate


def check_output_custom(*validators: Any, target_: _TargetArg = None) -> Callable[[_F], _F]:
    """Check a node's value with your own validators (Hamilton's ``DataValidator`` interface).

    A validator has ``validate(data)`` (``def`` or ``async def``) returning an object with
    ``passes``, ``message`` and ``diagnostics``, a ``name()`` and an ``importance``
    (``"warn"``/``"fail"``, or an enum whose value is one of them).
    """
    if not validators:
        raise TypeError("@check_output_custom() needs at least one validator")
    for v in validators:
        if not callable(getattr(v, "validate", None)) or not callable(getattr(v, "name", None)):
            raise TypeError(f"{v!r} is not a validator: it needs validate(data) and name()")
        level = getattr(v.importance, "value", v.importance)
        _importance(level)
    spec = CheckOutput("warn", {}, tuple(validators), _target(target_))

    def decorate(fn: _F) -> _F:
        record(fn).transforms.append(spec)
        return fn

    return decorate


def step(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Step:
    """One node of a ``@pipe_input`` chain: ``fn`` gets the chained value as first argument.

    ``args``/``kwargs`` bind its other parameters: ``source("node")``, ``value(x)`` or plain
    values. Chain ``.named(name)``, ``.when(...)``, ``.when_not(...)``, ``.when_in(...)``,
    ``.when_not_in(...)`` to name it or apply it only for some configurations.
    """
    if not callable(fn):
        raise TypeError(f"step() needs a function, not {fn!r}")
    return Step(fn, args, dict(kwargs))


def pipe_input(
    *transforms: Step, namespace: str | EllipsisType | None = ..., on_input: str | None = None
) -> Callable[[_F], _F]:
    """Run a parameter's value through ``step(...)`` nodes before the function gets it.

    ``@pipe_input(step(_clean), step(_scale, factor=value(2)))`` feeds the first parameter
    (or ``on_input``) through ``_clean`` then ``_scale``; the steps are nodes named
    ``<function>.with__clean``... (see ``step(...).named``; ``namespace=None`` drops the prefix).
    """
    if not transforms or not all(isinstance(t, Step) for t in transforms):
        raise TypeError("@pipe_input(...) takes step(...) objects")
    if on_input is not None and not isinstance(on_input, str):
        raise TypeError("on_input must be the name of one parameter")
    if namespace is not ... and any(t.namespace is not ... for t in transforms):
        raise TypeError(
            "@pipe_input(namespace=...) cannot be combined with step(...).named(namespace=...)"
        )
    spec = PipeInput(tuple(transforms), namespace, on_input)

    def decorate(fn: _F) -> _F:
        modifiers = record(fn)
        if modifiers.pipe is not None:
            raise TypeError(
                f"{fn.__qualname__} has two @pipe_input decorators; only one is allowed"
            )
        modifiers.pipe = spec
        return fn

    return decorate


def subdag(
    *load_from: ModuleType | Callable[..., Any],
    inputs: Mapping[str, Dependency] | None = None,
    config: Mapping[str, Any] | None = None,
    namespace: str | None = None,
    final_node_name: str | None = None,
    external_inputs: Collection[str] | None = None,
) -> Callable[[_F], _F]:
    """Build the functions of ``load_from`` again under a namespace; the function reads them.

    ``@subdag(features, inputs={"path": source("us_path")}, config={"region": "us"})`` on
    ``def us_report(total: int)`` makes nodes ``us_report.<name>`` for the module's functions
    and passes ``us_report.total`` to ``us_report``. Parameters in ``external_inputs`` are read
    from the outer graph instead.
    """
    if not load_from:
        raise TypeError("@subdag() needs the modules or functions to build")
    given = dict(inputs or {})
    bad = [v for v in given.values() if not isinstance(v, LiteralDependency | UpstreamDependency)]
    if bad:
        raise TypeError(f"@subdag inputs must be value(...) or source(...); got {bad}")
    spec = Subdag(
        tuple(load_from),
        given,
        dict(config or {}),
        namespace,
        final_node_name,
        tuple(external_inputs or ()),
    )

    def decorate(fn: _F) -> _F:
        record(fn).subdag = spec
        return fn

    return decorate


def timeout(seconds: float) -> Callable[[_F], _F]:
    """Fail the node with ``NodeTimeoutError`` if one run of it takes longer than ``seconds``.

    ``async def`` nodes are cancelled at the deadline, and process jobs stop their worker. A
    thread cannot be stopped: a sync node running on a thread (inline sync nodes with a
    timeout run on one) is left to finish in the background, its result dropped.

    Raises:
        ValueError: ``seconds`` is not positive.
    """
    if not isinstance(seconds, int | float) or seconds <= 0:
        raise ValueError(f"@timeout seconds must be a positive number, not {seconds!r}")

    def decorate(fn: _F) -> _F:
        modifiers = record(fn)
        modifiers.policy = dataclasses.replace(modifiers.policy or Policy(), timeout=seconds)
        return fn

    return decorate


def retry(
    attempts: int,
    backoff: float = 0.1,
    on: tuple[type[BaseException], ...] | type[BaseException] = (Exception,),
) -> Callable[[_F], _F]:
    """Run the node up to ``attempts`` times while it raises one of ``on``.

    The wait before the second attempt is ``backoff`` seconds and doubles after each failure
    (built on tenacity). The last exception propagates as itself.

    Raises:
        ValueError: ``attempts`` is below 1 or ``backoff`` is negative.
    """
    if not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"@retry attempts must be a positive int, not {attempts!r}")
    if backoff < 0:
        raise ValueError(f"@retry backoff must be zero or more seconds, not {backoff!r}")
    kinds = on if isinstance(on, tuple) else (on,)

    def decorate(fn: _F) -> _F:
        modifiers = record(fn)
        policy = Retry(attempts, float(backoff), kinds)
        modifiers.policy = dataclasses.replace(modifiers.policy or Policy(), retry=policy)
        return fn

    return decorate


def cache(
    *, behavior: str | None = None, format: str | None = None, target_: _TargetArg = ...
) -> Callable[[_F], _F]:
    """Hamilton's ``@cache``: a node's caching ``behavior`` and the ``format`` of its stored result.

    ``behavior`` is ``"default"``, ``"recompute"`` (always run; downstream still hits while
    the value is unchanged), ``"disable"`` (as without a cache) or ``"ignore"`` (as disable,
    and left out of downstream keys); ``Builder.with_cache(...)``'s lists take precedence.
    ``format`` is ``"pickle"`` (the default), ``"json"``, ``"parquet"`` or ``"csv"``
    (pandas). Only ``Builder.with_cache()`` turns caching on.

    Raises:
        ValueError: an unknown behavior or format.
    """
    from ..caching.adapter import BEHAVIOR_KEY, FORMAT_KEY, CachingBehavior
    from ..caching.store import FORMATS

    tags: dict[str, str] = {}
    if behavior:
        CachingBehavior.from_string(behavior)
        tags[BEHAVIOR_KEY] = behavior
    if format:
        if format not in FORMATS:
            raise ValueError(f"@cache format must be one of {list(FORMATS)}, not {format!r}")
        tags[FORMAT_KEY] = format
    target = _target(target_)

    def decorate(fn: _F) -> _F:
        record(fn).decorations.append(Tagging(tags, target))
        return fn

    return decorate


def window(size: int | None = None, seconds: float | None = None) -> Callable[[_F], _F]:
    """Run a function with ``Collect`` parameters once per window of consecutive branches.

    A window closes when ``size`` branches are in it or ``seconds`` have passed since its
    first item, whichever comes first; it runs once all its branches are done, after the
    window before it has run (a window whose branches were all skipped runs with empty
    lists). Its value (for ``execute`` and for nodes downstream) is the
    list of per-window results; ``stream()`` gives each as a ``"node"`` event, index ``(k,)``.

    Raises:
        ValueError: neither ``size`` nor ``seconds`` is given, or one is not positive.
    """
    if size is None and seconds is None:
        raise ValueError("@window needs size= (branches) or seconds= (or both)")
    if size is not None and (not isinstance(size, int) or size < 1):
        raise ValueError(f"@window size must be a positive int, not {size!r}")
    if seconds is not None and (not isinstance(seconds, int | float) or seconds <= 0):
        raise ValueError(f"@window seconds must be a positive number, not {seconds!r}")
    spec = Window(size, None if seconds is None else float(seconds))

    def decorate(fn: _F) -> _F:
        set_window(fn, spec)
        return fn

    return decorate


def on_branch_error(policy: str = "raise", max_failures: int | None = None) -> Callable[[_F], _F]:
    """On a ``Parallelizable``: ``"skip"`` leaves a failed branch out of its block's Collects.

    Each failure is logged on the ``asyncdag`` logger, reported to hooks and streams as an
    error; past ``max_failures`` failures the run fails with ``BranchFailuresError``.
    ``"raise"`` (the default) fails fast.

    Raises:
        ValueError: ``policy`` is not ``"skip"`` or ``"raise"``, or ``max_failures`` < 0.
    """
    if policy not in ("skip", "raise"):
        raise ValueError(f'@on_branch_error policy must be "skip" or "raise", not {policy!r}')
    if max_failures is not None and (not isinstance(max_failures, int) or max_failures < 0):
        raise ValueError(f"@on_branch_error max_failures must be an int >= 0, not {max_failures!r}")
    spec = OnBranchError(policy, max_failures)

    def decorate(fn: _F) -> _F:
        set_on_error(fn, spec)
        return fn

    return decorate
