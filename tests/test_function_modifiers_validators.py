"""@check_output's helper nodes, as Hamilton builds them: ``x_raw`` and ``x_<validator>``."""

import logging
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import build

from asyncdag import Collect, Parallelizable, executors
from asyncdag.errors import DataValidationError
from asyncdag.function_modifiers import check_output, check_output_custom

DQ = "hamilton.data_quality.contains_dq_results"
SOURCE = "hamilton.data_quality.source_node"


def _score() -> Any:
    @check_output(range=(0, 10), importance="fail")
    def score(x: int) -> int:
        return x

    return score


def test_check_output_lists_the_raw_and_validator_nodes_as_hamilton() -> None:
    names = {v.name for v in build(_score()).list_available_variables()}
    assert names == {"x", "score", "score_raw", "score_range_validator"}


def test_check_output_validator_nodes_carry_hamiltons_data_quality_tags() -> None:
    found = build(_score()).list_available_variables(tag_filter={DQ: True})
    assert [(v.name, v.tags[SOURCE]) for v in found] == [("score_range_validator", "score")]


async def test_requesting_a_validator_node_returns_its_validation_result() -> None:
    out = await build(_score()).execute(["score_range_validator", "score_raw"], inputs={"x": 42})
    result = out["score_range_validator"]
    assert (result.passes, out["score_raw"]) == (False, 42)
    assert result.message == "Data point 42 does not fall within acceptable range: (0, 10)"
    assert result.diagnostics == {"range": (0, 10), "value": 42}


async def test_the_checked_node_still_fails_on_a_failed_check() -> None:
    with pytest.raises(DataValidationError, match="range_validator") as info:
        await build(_score()).execute(["score"], inputs={"x": 42})
    assert info.value.node == "score"


async def test_the_checked_node_warns_and_returns_the_value_on_warn(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @check_output(range=(0, 10), allow_none=False)
    def score(x: int) -> int:
        return x

    with caplog.at_level(logging.WARNING):
        assert await build(score).execute(["score"], inputs={"x": 42}) == {"score": 42}
    assert "[score:range_validator] validator failed" in caplog.text


@dataclass
class _Result:
    passes: bool
    message: str
    diagnostics: dict[str, Any]


class _IsEven:
    importance = "fail"

    def name(self) -> str:
        return "is_even"

    def description(self) -> str:
        return "even"

    def validate(self, data: int) -> _Result:
        return _Result(data % 2 == 0, f"{data} parity", {})


class _AsyncIsEven(_IsEven):
    async def validate(self, data: int) -> _Result:  # type: ignore[override]
        return _Result(data % 2 == 0, f"{data} parity", {})


def test_repeated_validator_names_get_a_count_as_in_hamilton() -> None:
    @check_output_custom(_IsEven(), _IsEven())
    def number() -> int:
        return 2

    names = {v.name for v in build(number).list_available_variables()}
    assert names == {"number", "number_raw", "number_is_even", "number_is_even_1"}


async def test_custom_validator_node_returns_the_validators_own_result() -> None:
    @check_output_custom(_IsEven())
    def number() -> int:
        return 3

    out = await build(number).execute(["number_is_even"])
    assert out == {"number_is_even": _Result(False, "3 parity", {})}


async def test_async_validators_run_as_async_nodes_even_on_sync_functions() -> None:
    @check_output_custom(_AsyncIsEven())
    def number() -> int:
        return 3

    with pytest.raises(DataValidationError, match="is_even"):
        await build(number).execute(["number"])
    assert (await build(number).execute(["number_is_even"]))["number_is_even"].passes is False


async def test_validator_nodes_run_in_every_branch_of_a_block() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @check_output(range=(0, 1), importance="warn")
    def checked(item: int) -> int:
        return item

    def passes(checked_range_validator: Collect[Any]) -> list[bool]:
        return [r.passes for r in checked_range_validator]

    out = await build(item, checked, passes).execute(["passes"], inputs={"n": 3})
    assert out == {"passes": [True, True, False]}


@pytest.mark.timeout(60)
async def test_validator_nodes_run_in_worker_processes() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @check_output(range=(0, 1), importance="warn")
    def checked(item: int) -> int:
        return item

    def passes(checked_range_validator: Collect[Any]) -> list[bool]:
        return [r.passes for r in checked_range_validator]

    dr = build(item, checked, passes, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        assert await dr.execute(["passes"], inputs={"n": 3}) == {"passes": [True, True, False]}
