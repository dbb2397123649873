"""Hamilton's macros: ``@does``, ``@pipe_output``, ``@mutate``, ``@parameterized_subdag``,
``@resolve``. Re-exported by ``asyncdag.function_modifiers``; they record metadata only.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
from collections.abc import Callable, Collection, Mapping
from types import EllipsisType, ModuleType
from typing import Any, TypeVar

from ..errors import GraphError
from ..graph.modifiers.meta import (
    ApplyTo,
    Dependency,
    Does,
    LiteralDependency,
    ParameterizedSubdag,
    PipeOutput,
    Resolve,
    Step,
    Subdag,
    Target,
    UpstreamDependency,
    record,
)

__all__ = [
    "ResolveAt",
    "apply_to",
    "does",
    "mutate",
    "parameterized_subdag",
    "pipe_output",
    "resolve",
    "resolve_from_config",
]

_F = TypeVar("_F", bound=Callable[..., Any])
_TargetArg = str | Collection[str] | None


def _target(target: _TargetArg) -> Target:
    if target is None or isinstance(target, str):
        return target
    if isinstance(target, Collection) and all(isinstance(t, str) for t in target):
        return tuple(target)
    raise TypeError(f"on_output must be None, a node name or a list of names, not {target!r}")


def does(replacing_function: Callable[..., Any], **argument_mapping: str) -> Callable[[_F], _F]:
    """Run ``replacing_function`` in place of the empty decorated function, as in Hamilton.

    The decorated function's parameters are the node's dependencies; ``argument_mapping``
    renames them for the replacing function (``replacing_param="decorated_param"``).
    """
    if not callable(replacing_function):
        raise TypeError(f"@does needs a function to run instead, not {replacing_function!r}")
    bad = {k: v for k, v in argument_mapping.items() if not isinstance(v, str)}
    if bad:
        raise TypeError(f"@does argument_mapping values must be parameter names; got {bad}")
    spec = Does(replacing_function, dict(argument_mapping))

    def decorate(fn: _F) -> _F:
        record(fn).does = spec
        return fn

    return decorate


def _pipe_output_spec(
    transforms: tuple[Step, ...],
    namespace: str | EllipsisType | None,
    on_output: _TargetArg,
    collapse: bool,
    chain: bool,
) -> PipeOutput:
    if not all(isinstance(t, Step) for t in transforms):
        raise TypeError("@pipe_output(...) takes step(...) objects")
    if isinstance(on_output, EllipsisType):  # typed out, but Hamilton users pass it
        raise ValueError(
            "Cannot apply Ellipsis(...) to on_output. Use None, single string or list of strings."
        )
    if on_output is not None and any(t.target is not None for t in transforms):
        raise ValueError("Cannot have target set on pipe_output and step level (on_output).")
    if namespace is not ... and any(t.namespace is not ... for t in transforms):
        raise TypeError(
            "@pipe_output(namespace=...) cannot be combined with step(...).named(namespace=...)"
        )
    if collapse:
        raise NotImplementedError("@pipe_output(collapse=True) is not supported, as in Hamilton")
    if chain:
        raise NotImplementedError("@pipe_output(_chain=True) is not supported, as in Hamilton")
    return PipeOutput(tuple(transforms), namespace, _target(on_output))


def pipe_output(
    *transforms: Step,
    namespace: str | EllipsisType | None = ...,
    on_output: _TargetArg = None,
    collapse: bool = False,
    _chain: bool = False,
) -> Callable[[_F], _F]:
    """Run the function's value through ``step(...)`` nodes: ``b.raw -> b.with_f -> b``.

    ``namespace=None`` drops the ``b.`` prefix of the step nodes; ``on_output`` (or
    ``step(...).on_output``) picks which of the function's nodes to pipe.
    """
    spec = _pipe_output_spec(transforms, namespace, on_output, collapse, _chain)

    def decorate(fn: _F) -> _F:
        record(fn).transforms.append(spec)
        return fn

    return decorate


def apply_to(fn_: Callable[..., Any], **mutating_fn_kwargs: Any) -> ApplyTo:
    """In ``@mutate``: mutate ``fn_`` with these keyword arguments (``source``/``value``).

    Chain ``.named``, ``.when*`` and ``.on_output`` as on ``step(...)``.
    """
    if isinstance(fn_, str) or not callable(fn_):
        raise TypeError("apply_to() needs the function to mutate (not its name)")
    return ApplyTo(fn_, (), dict(mutating_fn_kwargs))


class mutate:
    """Run the decorated function on the output of ``target_functions``, as in Hamilton.

    ``@mutate(a, b)`` on ``def _f(v)`` adds ``step(_f)`` to the ``@pipe_output`` of ``a`` and
    ``b`` (nodes ``a.raw -> a.with_f -> a``); ``_f`` itself is not a node. The targets must be
    in the same module. Keyword arguments bind ``_f``'s other parameters, unless an
    ``apply_to(a, ...)`` gives its own.
    """

    def __init__(
        self,
        *target_functions: ApplyTo | Callable[..., Any],
        collapse: bool = False,
        _chain: bool = False,
        **mutating_function_kwargs: Any,
    ) -> None:
        if collapse:
            raise NotImplementedError("@mutate(collapse=True) is not supported, as in Hamilton")
        if _chain:
            raise NotImplementedError("@mutate(_chain=True) is not supported, as in Hamilton")
        if not target_functions:
            raise TypeError("@mutate() needs the functions to mutate, or apply_to(...)")
        self._targets = tuple(
            t if isinstance(t, ApplyTo) else apply_to(t) for t in target_functions
        )
        self._kwargs = dict(mutating_function_kwargs)

    def __call__(self, mutating_fn: _F) -> _F:
        for target in self._targets:
            if target.fn.__module__ != mutating_fn.__module__:
                raise ValueError(
                    f"@mutate: the target function {target.fn.__name__} is in module "
                    f"{target.fn.__module__} and the mutator {mutating_fn.__name__} in "
                    f"{mutating_fn.__module__}; they have to be in the same module."
                )
        record(mutating_fn).excluded = True
        for target in self._targets:
            new_step = Step(
                mutating_fn,
                (),
                dict(target.kwargs) or self._kwargs,
                target.name,
                target.namespace,
                target.conditions,
                target.target,
            )
            transforms = record(target.fn).transforms
            found = False
            for i, transform in enumerate(transforms):
                if isinstance(transform, PipeOutput):
                    transforms[i] = dataclasses.replace(
                        transform, steps=(*transform.steps, new_step)
                    )
                    found = True
            if not found:
                transforms.append(PipeOutput((new_step,), ..., None))
        return mutating_fn


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


class ResolveAt(enum.Enum):
    """When ``@resolve`` picks its decorator: only at build time, once the config is known."""

    CONFIG_AVAILABLE = "config_available"


def _config_params(fn: Callable[..., Any]) -> tuple[tuple[str, ...], dict[str, Any]]:
    required: list[str] = []
    optional: dict[str, Any] = {}
    for name, p in inspect.signature(fn).parameters.items():
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            raise GraphError(
                "@resolve decorate_with can only take keyword-friendly parameters, one per "
                f"config item; got signature {inspect.signature(fn)}"
            )
        if p.default is p.empty:
            required.append(name)
        else:
            optional[name] = p.default
    return tuple(required), optional


def resolve(*, when: ResolveAt, decorate_with: Callable[..., Any]) -> Callable[[_F], _F]:
    """Choose a decorator from the config at build time (Hamilton's power-user feature).

    ``decorate_with`` gets the config items named by its parameters and returns the decorator;
    it needs ``hamilton.enable_power_user_mode=True`` in the config.
    """
    if when != ResolveAt.CONFIG_AVAILABLE:
        raise ValueError("Dynamic functions must be configured at config time!")
    if not callable(decorate_with):
        raise TypeError(f"@resolve decorate_with must be a function, not {decorate_with!r}")
    required, optional = _config_params(decorate_with)
    spec = Resolve(decorate_with, required, optional)

    def decorate(fn: _F) -> _F:
        record(fn).resolvers.append(spec)
        return fn

    return decorate


def resolve_from_config(*, decorate_with: Callable[..., Any]) -> Callable[[_F], _F]:
    """``@resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=...)``."""
    return resolve(when=ResolveAt.CONFIG_AVAILABLE, decorate_with=decorate_with)
