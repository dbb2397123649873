"""Hamilton's ``data_quality.base``: write validators for ``@check_output_custom``.

A subclass of ``DataValidator`` is what ``@check_output_custom(...)`` takes; each check's
outcome is a ``ValidationResult``, the value of the check's own node (``fn_<validator>``); a
failed check of importance ``"fail"`` raises ``DataValidationError`` (the same class as
``asyncdag.errors.DataValidationError``).
"""

from __future__ import annotations

import abc
import enum
from typing import Any

from ..errors import DataValidationError as DataValidationError
from ..graph.checks import ValidationResult as ValidationResult

__all__ = [
    "BaseDefaultValidator",
    "DataValidationError",
    "DataValidationLevel",
    "DataValidator",
    "ValidationResult",
]


class DataValidationLevel(enum.Enum):
    """What a failed check does: log a warning, or fail the run."""

    WARN = "warn"
    FAIL = "fail"


class DataValidator(abc.ABC):
    """A check of a node's value, as Hamilton defines it; pass it to ``@check_output_custom``.

    Raises:
        ValueError: ``importance`` is neither ``"warn"`` nor ``"fail"``.
    """

    def __init__(self, importance: str) -> None:
        self._importance = DataValidationLevel(importance)

    @property
    def importance(self) -> DataValidationLevel:
        """``WARN`` logs a failure; ``FAIL`` raises ``DataValidationError``."""
        return self._importance

    @abc.abstractmethod
    def applies_to(self, datatype: type[Any]) -> bool:
        """Whether this validator can check values of ``datatype``."""

    @abc.abstractmethod
    def description(self) -> str:
        """What the check checks, in a sentence."""

    @classmethod
    @abc.abstractmethod
    def name(cls) -> str:
        """The check's name; its node is ``<function>_<name>``."""

    @abc.abstractmethod
    def validate(self, dataset: Any) -> ValidationResult:
        """Check ``dataset``; ``async def`` works too on asyncdag."""


class BaseDefaultValidator(DataValidator, abc.ABC):
    """A validator taking one argument, named by ``arg()`` (Hamilton's base of its defaults)."""

    @classmethod
    @abc.abstractmethod
    def arg(cls) -> str:
        """The argument name of the check, e.g. ``"range"``."""

    @classmethod
    def name(cls) -> str:
        """``<arg>_validator``, as Hamilton names its default checks."""
        return f"{cls.arg()}_validator"
