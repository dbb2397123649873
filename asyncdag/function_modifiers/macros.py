"""Hamilton's ``function_modifiers.macros``: ``@does``, ``@pipe_input``/``step``, ``@pipe_output``,
``@mutate``/``apply_to``. They record metadata only.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Collection, Mapping
from types import EllipsisType
from typing import Any

from ..errors import AsyncDagError
from ..graph.modifiers.does import bind_error, ensure_empty, mapped
from ..graph.modifiers.meta import (
    ApplyTo,
    Does,
    PipeInput,
    PipeOutput,
    Step,
    Target,
    record,
)
from .base import _F

__all__ = [
    "Applicable",
    "NotSameModuleError",
    "SingleTargetError",
    "apply_to",
    "does",
    "ensure_function_empty",
    "mutate",
    "pipe_input",
    "pipe_output",
    "step",
]


_OnOutput = str | Collection[str] | None

Applicable = Step
"""Hamilton's name for what ``step(...)`` and ``apply_to(...)`` return."""

ensure_function_empty = ensure_empty
"""Raise ``InvalidDecoratorException`` unless a function's body is only ``pass`` (``@does``)."""


def _on_output(target: _OnOutput) -> Target:
    if target is None or isinstance(target, str):
        return target
    if isinstance(target, Collection) and all(isinstance(t, str) for t in target):
        return tuple(target)
    raise TypeError(f"on_output must be None, a node name or a list of names, not {target!r}")


class does:
    """Run ``replacing_function`` in place of the empty decorated function, as in Hamilton.

    The decorated function's parameters are the node's dependencies; ``argument_mapping``
    renames them for the replacing function (``replacing_param="decorated_param"``).
    """

    def __init__(self, replacing_function: Callable[..., Any], **argument_mapping: str) -> None:
        if not callable(replacing_function):
            raise TypeError(f"@does needs a function to run instead, not {replacing_function!r}")
        bad = {k: v for k, v in argument_mapping.items() if not isinstance(v, str)}
        if bad:
            raise TypeError(f"@does argument_mapping values must be parameter names; got {bad}")
        self._spec = Does(replacing_function, dict(argument_mapping))

    def __call__(self, fn: _F) -> _F:
        record(fn).does = self._spec
        return fn

    @staticmethod
    def test_function_signatures_compatible(
        fn_signature: inspect.Signature,
        replace_with_signature: inspect.Signature,
        argument_mapping: Mapping[str, str],
    ) -> bool:
        """Whether a function of ``replace_with_signature`` can stand for one of
        ``fn_signature``, its parameters renamed by ``argument_mapping`` (what ``build()``
        checks)."""
        return bind_error(fn_signature, replace_with_signature, argument_mapping) is None

    @staticmethod
    def map_kwargs(
        kwargs: Mapping[str, Any], argument_mapping: Mapping[str, str]
    ) -> dict[str, Any]:
        """The decorated function's keyword arguments, renamed for the replacing function."""
        return mapped(kwargs, argument_mapping)


class SingleTargetError(AsyncDagError, ValueError):
    """``@pipe_output(on_output=...)`` and a step's ``.on_output(...)`` both name targets."""


class NotSameModuleError(AsyncDagError, ValueError):
    """``@mutate`` names a function of another module than the mutating function's."""


def _pipe_output_spec(
    transforms: tuple[Step, ...],
    namespace: str | EllipsisType | None,
    on_output: _OnOutput,
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
        raise SingleTargetError(
            "Cannot have target set on pipe_output and step level (on_output): set it in one place."
        )
    if namespace is not ... and any(t.namespace is not ... for t in transforms):
        raise TypeError(
            "@pipe_output(namespace=...) cannot be combined with step(...).named(namespace=...)"
        )
    if collapse:
        raise NotImplementedError("@pipe_output(collapse=True) is not supported, as in Hamilton")
    if chain:
        raise NotImplementedError("@pipe_output(_chain=True) is not supported, as in Hamilton")
    return PipeOutput(tuple(transforms), namespace, _on_output(on_output))


def pipe_output(
    *transforms: Step,
    namespace: str | EllipsisType | None = ...,
    on_output: _OnOutput = None,
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
                raise NotSameModuleError(
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
    *transforms: Step,
    namespace: str | EllipsisType | None = ...,
    on_input: str | None = None,
    collapse: bool = False,
    _chain: bool = False,
) -> Callable[[_F], _F]:
    """Run a parameter's value through ``step(...)`` nodes before the function gets it.

    ``@pipe_input(step(_clean), step(_scale, factor=value(2)))`` feeds the first parameter
    (or ``on_input``) through ``_clean`` then ``_scale``; the steps are nodes named
    ``<function>.with__clean``... (see ``step(...).named``; ``namespace=None`` drops the prefix).
    """
    if not transforms or not all(isinstance(t, Step) for t in transforms):
        raise TypeError("@pipe_input(...) takes step(...) objects")
    if on_input is not None and not isinstance(on_input, str):
        raise NotImplementedError(
            f"@pipe_input(on_input={on_input!r}): on_input must be the name of one parameter "
            "(or None for the first), as in Hamilton. To pipe several parameters, pipe one here "
            "and the others in functions of their own that this one reads."
        )
    if collapse:
        raise NotImplementedError("@pipe_input(collapse=True) is not supported, as in Hamilton")
    if _chain:
        raise NotImplementedError("@pipe_input(_chain=True) is not supported, as in Hamilton")
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
