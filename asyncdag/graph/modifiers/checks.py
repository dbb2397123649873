"""``@check_output``: Hamilton's default validators, and running checks on a node's value.

A check is chosen at build time from its argument name and the node's return type, as in
Hamilton's ``resolve_default_validators`` (``range`` on an ``int`` node checks one number, on
a ``pd.Series`` node every value). A failed ``"warn"`` check is logged with Hamilton's
message; failed ``"fail"`` checks raise ``DataValidationError`` naming the node and checks.
"""

from __future__ import annotations

import inspect
import logging
import numbers
import sys
import types
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ...errors import DataValidationError

logger = logging.getLogger("asyncdag.check_output")


@dataclass(frozen=True)
class ValidationResult:
    """The outcome of one check, shaped like Hamilton's."""

    passes: bool
    message: str
    diagnostics: dict[str, Any] = field(default_factory=dict)


Run = Callable[[Any, Any], ValidationResult]  # (check argument, data) -> result


@dataclass(frozen=True)
class _Builtin:
    arg: str
    applies_to: Callable[[type], bool]
    run: Run


@dataclass(frozen=True)
class Check:
    """A validator bound to a node: built-in or a user's ``check_output_custom`` object."""

    name: str  # e.g. "range_validator", as Hamilton names it
    importance: str
    validate: Callable[[Any], Any]
    is_async: bool


def _subclass(tp: type, *bases: type) -> bool:
    return isinstance(tp, type) and issubclass(tp, bases)


def _is_series(tp: type) -> bool:
    pandas = sys.modules.get("pandas")  # a Series annotation means pandas is imported already
    return pandas is not None and _subclass(tp, pandas.Series)


def _real(tp: type) -> bool:
    return _subclass(tp, numbers.Real)


def _range(bounds: tuple[Any, Any], data: Any) -> ValidationResult:
    low, high = bounds
    passes = bool(low <= data <= high)
    verb = "falls" if passes else "does not fall"
    return ValidationResult(
        passes,
        f"Data point {data} {verb} within acceptable range: ({low}, {high})",
        {"range": bounds, "value": data},
    )


def _series_range(bounds: tuple[Any, Any], data: Any) -> ValidationResult:
    low, high = bounds
    counts = data.between(low, high, inclusive="both").value_counts().to_dict()
    inside, outside = counts.get(True, 0), counts.get(False, 0)
    return ValidationResult(
        outside == 0,
        f"Series contains {inside} values in range ({low},{high}), and {outside} outside.",
        {"range": bounds, "in_range": inside, "out_range": outside, "data_size": len(data)},
    )


def _data_type(datatype: type, data: Any) -> ValidationResult:
    passes = isinstance(data, datatype)
    return ValidationResult(
        passes,
        f"Requires data type: {datatype}. Got data type: {type(data)}. "
        f"This {'is' if passes else 'is not'} a match.",
        {"required_data_type": datatype, "actual_data_type": type(data)},
    )


def _series_data_type(datatype: type, data: Any) -> ValidationResult:
    import numpy

    dtype = getattr(data.dtype, "type", data.dtype)
    passes = bool(numpy.issubdtype(dtype, datatype))
    return ValidationResult(
        passes,
        f"Requires subclass of datatype: {datatype}. Got datatype: {dtype}. "
        f"This {'is' if passes else 'is not'} a match.",
        {"required_dtype": datatype, "actual_dtype": dtype},
    )


def _allow_none(allow: bool, data: Any) -> ValidationResult:
    passes = allow or data is not None
    message = "Data is not None" if passes else f"Data is not allowed to be None, got {data}"
    return ValidationResult(passes, message)


def _values_in(values: Iterable[Any], data: Any) -> ValidationResult:
    allowed = frozenset(values)
    passes = data in allowed
    message = f"Primitive python value was valid is {passes}."
    if not passes:
        message += f" Correct possible values are {allowed}."
    return ValidationResult(passes, message, {"values": allowed, "was_correct": passes})


def _series_values_in(values: Iterable[Any], data: Any) -> ValidationResult:
    allowed = frozenset(values)
    wrong = int((~(data.isin(allowed) | data.isna())).sum())
    message = f"Series contains {len(data) - wrong} correct values, and {wrong} incorrect values."
    if wrong:
        message += f" Valid values are: {allowed}."
    return ValidationResult(wrong == 0, message, {"values": allowed, "incorrect": wrong})


def _contains(needles: str | list[str], data: Any) -> ValidationResult:
    wanted = [needles] if isinstance(needles, str) else list(needles)
    passes = all(n in data for n in wanted)
    return ValidationResult(passes, "All good." if passes else f"String did not contain {wanted}")


def _does_not_contain(needles: str | list[str], data: Any) -> ValidationResult:
    unwanted = [needles] if isinstance(needles, str) else list(needles)
    passes = all(n not in data for n in unwanted)
    return ValidationResult(passes, "All good." if passes else f"String did contain {unwanted}")


def _max_fraction_nans(limit: float, data: Any) -> ValidationResult:
    if not 0 <= limit <= 1:
        raise ValueError("max_fraction_nans must be in [0, 1]")
    total, nans = len(data), int(data.isna().sum())
    fraction = nans / total if total else 0
    return ValidationResult(
        fraction <= limit,
        f"Out of {total} items in the series, {nans} of them are Nan, representing: "
        f"{fraction:.2%}. Max allowable Nans is: {limit:.2%}.",
        {"total_nan": nans, "total_length": total, "fraction_na": fraction},
    )


def _allow_nans(allow: bool, data: Any) -> ValidationResult:
    return _max_fraction_nans(1.0 if allow else 0.0, data)


def _max_standard_dev(limit: float, data: Any) -> ValidationResult:
    std = data.std()
    return ValidationResult(
        bool(std <= limit),
        f"Max allowable standard dev is: {limit}. Dataset stddev is : {std}.",
        {"standard_dev": std, "max_standard_dev": limit},
    )


def _mean_in_range(bounds: tuple[float, float], data: Any) -> ValidationResult:
    mean, (low, high) = data.mean(), bounds
    passes = bool(low <= mean <= high)
    return ValidationResult(
        passes,
        f"Dataset has mean: {mean}. This {'is' if passes else 'is not'} in the required "
        f"range: [{low}, {high}].",
        {"dataset_mean": mean, "mean_in_range": bounds},
    )


def _str(tp: type) -> bool:
    return tp is str


# Hamilton's AVAILABLE_DEFAULT_VALIDATORS order: the first one that applies wins.
_BUILTINS = (
    _Builtin("allow_nans", _is_series, _allow_nans),
    _Builtin("range", _is_series, _series_range),
    _Builtin("range", _real, _range),
    _Builtin("values_in", _is_series, _series_values_in),
    _Builtin("values_in", lambda tp: _real(tp) or _subclass(tp, str), _values_in),
    _Builtin("data_type", _is_series, _series_data_type),
    _Builtin("data_type", lambda tp: _real(tp) or tp in (str, bool), _data_type),
    _Builtin("max_fraction_nans", _is_series, _max_fraction_nans),
    _Builtin("max_standard_dev", _is_series, _max_standard_dev),
    _Builtin("mean_in_range", _is_series, _mean_in_range),
    _Builtin("allow_none", lambda tp: True, _allow_none),
    _Builtin("contains", _str, _contains),
    _Builtin("does_not_contain", _str, _does_not_contain),
)

KNOWN_CHECKS = tuple(dict.fromkeys(b.arg for b in _BUILTINS))


def _without_none(tp: Any) -> Any:
    """``X`` for ``X | None``: the checks apply to the value when there is one."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return tp


def builtin_check(arg: str, setting: Any, returns: Any, importance: str) -> Check | None:
    """The built-in check ``arg=setting`` for a node returning ``returns``, or None if none fits."""
    tp = _without_none(returns)
    for builtin in _BUILTINS:
        if builtin.arg == arg and builtin.applies_to(tp):
            run, skip_none = builtin.run, arg != "allow_none"

            def validate(
                data: Any, run: Run = run, skip_none: bool = skip_none
            ) -> ValidationResult:
                if skip_none and data is None:  # None is allow_none's business
                    return ValidationResult(True, "None: not checked")
                return run(setting, data)

            return Check(f"{arg}_validator", importance, validate, False)
    return None


def custom_check(validator: Any) -> Check:
    """A ``check_output_custom`` validator object as a ``Check``."""
    importance = getattr(validator.importance, "value", validator.importance)
    return Check(
        str(validator.name()),
        str(importance),
        validator.validate,
        inspect.iscoroutinefunction(validator.validate),
    )


def act(node: str, outcomes: list[tuple[Check, Any]]) -> None:
    """Log failed ``"warn"`` checks; raise ``DataValidationError`` for failed ``"fail"`` ones."""
    failures: list[tuple[str, str]] = []
    for check, result in outcomes:
        if result.passes:
            continue
        text = (
            f"[{node}:{check.name}] validator failed. Message was: {result.message}. "
            f"Diagnostic information is: {getattr(result, 'diagnostics', {})}."
        )
        if check.importance == "warn":
            logger.warning(text)
        else:
            logger.error(text)
            failures.append((check.name, str(result.message)))
    if failures:
        raise DataValidationError(node, failures)
