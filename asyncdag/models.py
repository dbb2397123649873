"""Hamilton's ``models``: base classes of config-driven transforms.

A ``BaseModel`` subclass names the columns it reads (``get_dependents``) and computes from them
(``predict``); ``compute`` calls ``predict``, as in Hamilton. asyncdag has no ``@model``
decorator to turn one into a node: call the model from a plain function instead, e.g.
``def my_column(col_1, col_2): return MyModel(params, "my_column").compute(col_1=col_1, ...)``.
"""

from __future__ import annotations

import abc
from typing import Any

__all__ = ["BaseModel", "DynamicTransformBase"]


class DynamicTransformBase(abc.ABC):
    """A transform whose inputs and behaviour come from configuration parameters."""

    def __init__(self, config_parameters: Any, name: str) -> None:
        self._config_parameters = config_parameters
        self._name = name

    @abc.abstractmethod
    def get_dependents(self) -> list[str]:
        """The names of the values this transform reads."""

    @abc.abstractmethod
    def compute(self, **inputs: Any) -> Any:
        """The transform's result for ``inputs`` (named as ``get_dependents`` says)."""

    @property
    def config_parameters(self) -> Any:
        """The configuration the transform was made with."""
        return self._config_parameters

    @property
    def name(self) -> str:
        return self._name


class BaseModel(DynamicTransformBase, abc.ABC):
    """A model: ``compute`` delegates to ``predict``."""

    def compute(self, **inputs: Any) -> Any:
        """``predict(**inputs)``."""
        return self.predict(**inputs)

    @abc.abstractmethod
    def predict(self, **inputs: Any) -> Any:
        """The model's output for ``inputs``."""
