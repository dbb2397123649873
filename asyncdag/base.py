"""Result builders: turn the requested outputs into what ``execute`` returns."""

from __future__ import annotations

import abc
import importlib
from typing import Any

__all__ = [
    "DefaultAdapter",
    "DictResult",
    "PandasDataFrameResult",
    "ResultMixin",
    "SimplePythonDataFrameGraphAdapter",
    "SimplePythonGraphAdapter",
]


class ResultMixin(abc.ABC):
    """Hamilton's base class of result builders: subclass it and define ``build_result``.

    Any object with ``build_result(**outputs)`` works as a result builder; this base only
    lets ported code that subclasses it run unchanged.
    """

    @staticmethod
    @abc.abstractmethod
    def build_result(**outputs: Any) -> Any:
        """What ``execute`` returns, made from the requested outputs by name."""

    def input_types(self) -> list[Any]:
        """Hamilton's hint of the output types this builder accepts: anything."""
        return [Any]

    def output_type(self) -> Any:
        """Hamilton's hint of what ``build_result`` returns."""
        return Any


class DictResult(ResultMixin):
    """Return the outputs as a ``dict`` of name to value (the default)."""

    @staticmethod
    def build_result(**outputs: Any) -> dict[str, Any]:
        """The outputs, as a dict."""
        return outputs


class PandasDataFrameResult(ResultMixin):
    """Return the outputs as one pandas ``DataFrame`` (Hamilton's rules; needs pandas).

    One output that is a ``DataFrame`` is returned as is. Outputs that are all scalars make
    a one-row frame. Otherwise series (and scalars, broadcast) become columns joined on their
    index, and a ``DataFrame`` output ``f`` contributes its columns as ``f.<column>``.
    """

    @staticmethod
    def build_result(**outputs: Any) -> Any:
        """The outputs, as a ``DataFrame``.

        Raises:
            ImportError: pandas is not installed.
            ValueError: two outputs would make the same column.
        """
        pd = _pandas()
        if len(outputs) == 1:
            (only,) = outputs.values()
            if isinstance(only, pd.DataFrame):
                return only
        if not any(pd.api.types.is_list_like(v) for v in outputs.values()):
            return pd.DataFrame([outputs])
        if not any(isinstance(v, pd.DataFrame) for v in outputs.values()):
            return pd.DataFrame(outputs)  # series are outer-joined on their index
        columns: dict[str, Any] = {}
        for name, output in outputs.items():
            if isinstance(output, pd.DataFrame):
                columns.update({f"{name}.{col}": output[col] for col in output.columns})
                continue
            if name in columns:
                raise ValueError(
                    f"output {name!r} is also a column of a DataFrame output unpacked before it "
                    f"(as '<output>.<column>'). Rename the output or the column."
                )
            columns[name] = output
        return pd.DataFrame(columns)


def _pandas() -> Any:
    try:
        return importlib.import_module("pandas")
    except ImportError as exc:
        raise ImportError(
            "PandasDataFrameResult needs pandas. Install it with: pip install 'asyncdag[pandas]'"
        ) from exc


class SimplePythonGraphAdapter(ResultMixin):
    """Hamilton's graph adapter around a result builder (``DictResult`` when none is given).

    asyncdag runs the nodes itself, so an adapter only shapes the result: ``build_result``
    is the result builder's.
    """

    def __init__(self, result_builder: Any = None) -> None:
        if result_builder is None:
            result_builder = DictResult()
        if not callable(getattr(result_builder, "build_result", None)):
            raise TypeError(
                f"{result_builder!r} is not a result builder: it needs build_result(**outputs)"
            )
        self.result_builder = result_builder

    def build_result(self, **outputs: Any) -> Any:  # type: ignore[override]
        """What the result builder makes of the outputs."""
        return self.result_builder.build_result(**outputs)


class DefaultAdapter(SimplePythonGraphAdapter):
    """Hamilton's default adapter: ``SimplePythonGraphAdapter``, so a ``dict`` unless told.

    For ``Builder().with_adapter(base.DefaultAdapter())`` in ported code.
    """


class SimplePythonDataFrameGraphAdapter(SimplePythonGraphAdapter):
    """Hamilton's original adapter: the outputs as a pandas ``DataFrame`` (needs pandas)."""

    def __init__(self) -> None:
        super().__init__(PandasDataFrameResult())
