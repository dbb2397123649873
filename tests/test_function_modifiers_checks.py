"""@check_output and @check_output_custom: "warn" logs a failed check, "fail" raises."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Collect, Driver, Parallelizable, check_output
from asyncdag.errors import DataValidationError, GraphError
from asyncdag.function_modifiers import check_output_custom

try:
    import pandas as pd
except ImportError:  # the pandas checks are skipped
    pd = None


def build(*fns: Callable[..., Any]) -> Driver:
    return Builder().with_modules(make_module(*fns)).build()


def _ratio(value: float, importance: str = "fail") -> Callable[..., Any]:
    @check_output(range=(0.0, 1.0), importance=importance)
    def ratio() -> float:
        return value

    return ratio


async def test_check_output_passing_check_returns_the_value() -> None:
    assert await build(_ratio(0.5)).execute(["ratio"]) == {"ratio": 0.5}


async def test_check_output_fail_raises_data_validation_error_naming_node_and_check() -> None:
    with pytest.raises(DataValidationError) as info:
        await build(_ratio(1.5)).execute(["ratio"])
    assert info.value.node == "ratio"
    assert info.value.failures[0][0] == "range_validator"
    assert "'ratio'" in str(info.value)
    assert "range_validator" in str(info.value)


async def test_check_output_warn_logs_hamiltons_message_and_returns_the_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="asyncdag.check_output"):
        out = await build(_ratio(1.5, importance="warn")).execute(["ratio"])
    assert out == {"ratio": 1.5}
    assert "[ratio:range_validator] validator failed." in caplog.text


async def test_check_output_warn_is_the_default_importance(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @check_output(allow_none=False)
    def maybe() -> int | None:
        return None

    with caplog.at_level(logging.WARNING, logger="asyncdag.check_output"):
        assert await build(maybe).execute(["maybe"]) == {"maybe": None}
    assert "allow_none_validator" in caplog.text


async def test_check_output_data_type_rejects_a_wrong_type() -> None:
    @check_output(data_type=int, importance="fail")
    def count() -> int:
        return "three"  # type: ignore[return-value]

    with pytest.raises(DataValidationError, match="data_type_validator"):
        await build(count).execute(["count"])


async def test_check_output_allow_none_false_rejects_none() -> None:
    @check_output(allow_none=False, importance="fail")
    def maybe() -> int | None:
        return None

    with pytest.raises(DataValidationError, match="allow_none_validator"):
        await build(maybe).execute(["maybe"])


async def test_check_output_range_on_an_optional_int_lets_none_through() -> None:
    @check_output(range=(0, 10), importance="fail")
    def maybe() -> int | None:
        return None

    assert await build(maybe).execute(["maybe"]) == {"maybe": None}


async def test_check_output_checks_async_functions() -> None:
    @check_output(range=(0, 10), importance="fail")
    async def score() -> int:
        return 11

    with pytest.raises(DataValidationError, match="'score'"):
        await build(score).execute(["score"])


async def test_check_output_checks_every_branch_inside_a_parallel_block() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @check_output(range=(0, 2), importance="fail")
    def doubled(item: int) -> int:
        return item * 2

    def total(doubled: Collect[int]) -> int:
        return sum(doubled)

    dr = build(item, doubled, total)
    assert await dr.execute(["total"], inputs={"n": 2}) == {"total": 2}
    with pytest.raises(DataValidationError) as info:
        await dr.execute(["total"], inputs={"n": 3})
    assert any("item[2]" in note for note in info.value.__notes__)


@pytest.mark.skipif(pd is None, reason="pandas is not installed")
async def test_check_output_on_a_pandas_series_checks_every_value() -> None:
    @check_output(range=(0, 1), allow_nans=False, importance="fail")
    def series() -> pd.Series:
        return pd.Series([0.5, 2.0])

    with pytest.raises(DataValidationError, match=r"1 values in range.*1 outside"):
        await build(series).execute(["series"])


def test_check_output_with_an_unknown_check_raises_graph_error_naming_it() -> None:
    @check_output(no_such_check=1)
    def value_node() -> int:
        return 1

    with pytest.raises(GraphError, match=r"no_such_check.*value_node.*range"):
        build(value_node)


def test_check_output_that_does_not_apply_to_the_return_type_raises_graph_error() -> None:
    @check_output(contains="x")
    def number() -> int:
        return 1

    with pytest.raises(GraphError, match=r"contains.*'number'.*int"):
        build(number)


def test_check_output_on_a_parallelizable_node_raises_graph_error() -> None:
    @check_output(allow_none=False)
    def item() -> Parallelizable[int]:
        yield 1

    with pytest.raises(GraphError, match=r"item.*Parallelizable"):
        build(item)


def test_check_output_rejects_an_unknown_importance() -> None:
    with pytest.raises(ValueError, match="'warn' or 'fail'"):
        check_output(range=(0, 1), importance="loud")


# --- @check_output_custom -------------------------------------------------------------------------


@dataclass
class Result:
    passes: bool
    message: str
    diagnostics: dict[str, Any] = field(default_factory=dict)


class IsEven:
    def __init__(self, importance: str = "fail") -> None:
        self.importance = importance

    @classmethod
    def name(cls) -> str:
        return "is_even"

    def validate(self, data: int) -> Result:
        return Result(data % 2 == 0, f"{data} is odd")


class AsyncIsEven(IsEven):
    async def validate(self, data: int) -> Result:  # type: ignore[override]
        return Result(data % 2 == 0, f"{data} is odd")


async def test_check_output_custom_runs_a_validator_object() -> None:
    @check_output_custom(IsEven())
    def number() -> int:
        return 3

    with pytest.raises(DataValidationError, match=r"is_even: 3 is odd"):
        await build(number).execute(["number"])


async def test_check_output_custom_awaits_async_validators_on_async_nodes() -> None:
    @check_output_custom(AsyncIsEven())
    async def number() -> int:
        return 3

    with pytest.raises(DataValidationError, match="is_even"):
        await build(number).execute(["number"])


async def test_check_output_custom_awaits_async_validators_on_sync_nodes() -> None:
    @check_output_custom(AsyncIsEven())
    def number() -> int:
        return 3

    with pytest.raises(DataValidationError, match="is_even"):
        await build(number).execute(["number"])


def test_check_output_custom_rejects_an_object_that_is_no_validator() -> None:
    with pytest.raises(TypeError, match="not a validator"):
        check_output_custom(object())


# --- in worker processes --------------------------------------------------------------------------


@pytest.mark.timeout(60)
async def test_modifiers_inside_a_block_run_in_worker_processes_and_errors_come_back() -> None:
    from asyncdag import executors, extract_fields, parameterize, source, value

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @parameterize(shifted={"x": source("item"), "k": value(10)})
    def add(x: int, k: int) -> int:
        return x + k

    @extract_fields({"square": int})
    def parts(shifted: int) -> dict[str, int]:
        return {"square": shifted * shifted}

    @check_output(range=(0, 150), importance="fail")
    def checked(square: int) -> int:
        return square

    def total(checked: Collect[int]) -> int:
        return sum(checked)

    dr = (
        Builder()
        .with_modules(make_module(item, add, parts, checked, total))
        .with_remote_executor(executors.ProcessExecutor(max_tasks=2))
        .build()
    )
    async with dr:
        assert await dr.execute(["total"], inputs={"n": 2}) == {"total": 100 + 121}
        with pytest.raises(DataValidationError) as info:
            await dr.execute(["total"], inputs={"n": 4})
    assert info.value.node == "checked"
    assert any("item[3]" in note for note in info.value.__notes__)


def test_check_output_default_validator_candidates_points_to_check_output_custom() -> None:
    with pytest.raises(TypeError, match="check_output_custom"):
        check_output(default_validator_candidates=[object], range=(0, 1))  # type: ignore[arg-type]
