"""@parameterized_subdag: one @subdag per parameterization, as in Hamilton."""

import types
from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Collect, Driver, Parallelizable, executors
from asyncdag.errors import GraphError
from asyncdag.function_modifiers import config as config_
from asyncdag.function_modifiers import parameterized_subdag, source, value


def _parts() -> types.ModuleType:
    def scaled(base: int, factor: int) -> int:
        return base * factor

    def shifted(scaled: int, shift: int = 0) -> int:
        return scaled + shift

    @config_.when(mode="big")
    def bonus__big() -> int:
        return 1000

    @config_.when_not(mode="big")
    def bonus__small() -> int:
        return 1

    def result(shifted: int, bonus: int) -> int:
        return shifted + bonus

    return make_module(scaled, shifted, bonus__big, bonus__small, result, name="parts")


def build(*fns: Any, cfg: dict[str, Any] | None = None, **kw: Any) -> Driver:
    builder = Builder().with_modules(make_module(*fns)).with_config(cfg or {})
    if "remote" in kw:
        builder = builder.with_remote_executor(kw["remote"])
    return builder.build()


async def test_parameterized_subdag_makes_one_namespaced_subdag_per_key() -> None:
    @parameterized_subdag(
        _parts(),
        inputs={"factor": value(2)},
        small={"inputs": {"base": source("x")}, "config": {"mode": "small"}},
        big={"inputs": {"base": value(10), "factor": value(3)}, "config": {"mode": "big"}},
    )
    def report(result: int) -> int:
        return result

    dr = build(report)
    assert await dr.execute(["small", "big"], inputs={"x": 5}) == {"small": 11, "big": 1030}
    names = {v.name for v in dr.list_available_variables()}
    assert {"small.scaled", "big.scaled", "small.base", "big.factor", "small", "big"} <= names
    assert "report" not in names


async def test_parameterized_subdag_shares_the_decorators_config_and_inputs() -> None:
    @parameterized_subdag(
        _parts(),
        inputs={"base": value(1), "factor": source("f")},
        config={"mode": "big"},
        one={},
        two={"inputs": {"shift": value(5)}},
    )
    def report(result: int) -> int:
        return result

    out = await build(report).execute(["one", "two"], inputs={"f": 4})
    assert out == {"one": 1004, "two": 1009}


async def test_parameterized_subdag_external_inputs_read_the_outer_graph() -> None:
    @parameterized_subdag(
        _parts(),
        inputs={"base": value(1), "factor": value(1)},
        external_inputs=["extra"],
        one={},
        two={"external_inputs": []},
    )
    def report(result: int, extra: int = 0) -> int:
        return result + extra

    out = await build(report).execute(["one", "two"], inputs={"extra": 100})
    assert out == {"one": 102, "two": 2}


async def test_parameterized_subdag_inside_a_parallel_block_on_processes() -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    @parameterized_subdag(
        _parts(),
        inputs={"base": source("item"), "factor": value(10)},
        tens={},
        hundreds={"inputs": {"factor": value(100)}},
    )
    def report(result: int) -> int:
        return result

    def total(tens: Collect[int], hundreds: Collect[int]) -> list[int]:
        return [t + h for t, h in zip(tens, hundreds, strict=True)]

    dr = build(item, report, total, remote=executors.ProcessExecutor(max_tasks=2))
    async with dr:
        assert await dr.execute(["total"], inputs={"n": 3}) == {"total": [2, 112, 222]}


async def test_parameterized_subdags_nest() -> None:
    @parameterized_subdag(_parts(), inner={"inputs": {"base": source("x"), "factor": value(2)}})
    def inner_total(result: int) -> int:
        return result

    @parameterized_subdag(inner_total, outer={"inputs": {"x": value(7)}})
    def wrapper(inner: int) -> int:
        return inner * 10

    assert await build(wrapper).execute(["outer"]) == {"outer": 150}


def test_parameterized_subdag_needs_a_parameterization() -> None:
    with pytest.raises(TypeError, match="parameterization"):
        parameterized_subdag(_parts())


def test_parameterized_subdag_rejects_unknown_parameterization_keys() -> None:
    with pytest.raises(TypeError, match=r"'one'.*'bogus'"):
        parameterized_subdag(_parts(), one={"bogus": {}})


def test_parameterized_subdag_with_the_same_key_in_config_and_inputs_raises_graph_error() -> None:
    @parameterized_subdag(_parts(), one={"inputs": {"mode": value(1)}, "config": {"mode": "big"}})
    def report(result: int) -> int:
        return result

    with pytest.raises(GraphError, match="mode"):
        build(report)
