"""Hamilton's ``function_modifiers.validation``: ``@check_output`` and ``@check_output_custom``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..graph.modifiers.meta import (
    CheckOutput,
    record,
)
from ..graph.modifiers.validators import (
    DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG as DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG,
)
from ..graph.modifiers.validators import IS_DATA_VALIDATOR_TAG as IS_DATA_VALIDATOR_TAG
from .base import _F, _target, _TargetArg

__all__ = [
    "DATA_VALIDATOR_ORIGINAL_OUTPUT_TAG",
    "IS_DATA_VALIDATOR_TAG",
    "check_output",
    "check_output_custom",
]


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
