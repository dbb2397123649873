"""Hamilton's module paths and driver idioms that a ported module or test reaches for."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from conftest import make_module

from asyncdag import Builder, Collect, Driver, Parallelizable, async_driver, base, telemetry
from asyncdag.caching.adapter import HamiltonCacheAdapter
from asyncdag.data_quality.base import DataValidationError, DataValidator, ValidationResult
from asyncdag.driver import TaskBasedGraphExecutor, Variable
from asyncdag.errors import MissingInputError, UnknownNodeError
from asyncdag.execution import grouping
from asyncdag.execution.executors import (
    DefaultExecutionManager,
    InlineExecutor,
    ProcessExecutor,
    ThreadExecutor,
)
from asyncdag.function_modifiers import check_output_custom
from asyncdag.io.materialization import to
from asyncdag.node import DependencyType, Node

pd = pytest.importorskip("pandas")  # imported here, not inside a test's event loop


def _chain() -> Any:
    def b(a: int) -> int:
        """b is a plus one."""
        return a + 1

    def c(b: int, extra: int = 0) -> int:
        return b + 1 + extra

    return make_module(b, c)


# --- async_driver ---------------------------------------------------------------------------


async def test_async_builder_build_is_awaited_and_gives_an_async_driver() -> None:
    dr = await async_driver.Builder().with_modules(_chain()).build()
    assert isinstance(dr, async_driver.AsyncDriver)
    assert await dr.execute(["c"], inputs={"a": 1}) == {"c": 3}


async def test_async_driver_constructor_takes_hamiltons_result_builder() -> None:
    dr = await async_driver.AsyncDriver(
        {}, _chain(), result_builder=base.PandasDataFrameResult()
    ).ainit()
    frame = await dr.execute(["b", "c"], inputs={"a": 1})
    assert frame.to_dict("records") == [{"b": 2, "c": 3}]


# --- Driver idioms --------------------------------------------------------------------------


def test_raw_execute_returns_the_dict_whatever_the_result_builder() -> None:
    dr = Builder().with_modules(_chain()).with_adapter(base.PandasDataFrameResult()).build()
    assert dr.raw_execute_sync(["c"], inputs={"a": 1}) == {"c": 3}


async def test_raw_execute_is_awaited_in_async_code() -> None:
    dr = Builder().with_modules(_chain()).build()
    assert await dr.raw_execute(["b"], inputs={"a": 1}) == {"b": 2}


def test_has_cycles_is_false_for_a_built_driver_and_checks_the_names() -> None:
    dr = Builder().with_modules(_chain()).build()
    assert dr.has_cycles(["c"]) is False
    with pytest.raises(UnknownNodeError):
        dr.has_cycles(["nope"])


def test_validate_materialization_raises_the_missing_input_and_runs_nothing(
    tmp_path: Path,
) -> None:
    dr = Builder().with_modules(_chain()).build()
    saver = to.pickle(id="saved", dependencies=["c"], path=str(tmp_path / "c.pkl"))
    with pytest.raises(MissingInputError):
        dr.validate_materialization(saver, inputs={})
    dr.validate_materialization(saver, inputs={"a": 1})
    assert not (tmp_path / "c.pkl").exists()


def test_a_function_of_another_module_is_not_its_namesake_node() -> None:
    def b(a: int) -> int:
        return a

    stranger = make_module(b)
    dr = Builder().with_modules(_chain()).build()
    with pytest.raises(ValueError, match="no node of this graph comes from that module"):
        dr.execute_sync([stranger.b], inputs={"a": 1})


def test_a_node_function_passed_to_execute_names_its_node() -> None:
    module = _chain()
    dr = Builder().with_modules(module).build()
    assert dr.execute_sync((f for f in [module.c]), inputs={"a": 1}) == {"c": 3}


def test_with_materializers_adds_a_saver_node_execute_can_request(tmp_path: Path) -> None:
    saver = to.json(
        id="saved",
        dependencies=["b", "c"],
        path=str(tmp_path / "out.json"),
        combine=base.DictResult(),
    )
    builder = Builder().with_modules(_chain()).with_materializers(saver)
    dr = builder.with_local_executor(ThreadExecutor(1)).build()  # file I/O off the loop
    assert "saved" in dr.graph.nodes
    dr.execute_sync(["saved"], inputs={"a": 1})
    assert (tmp_path / "out.json").read_text().replace(" ", "") == '{"b":2,"c":3}'


def test_with_materializers_refuses_a_list() -> None:
    saver = to.json(id="saved", dependencies=["b"], path="x.json")
    with pytest.raises(ValueError, match="unpack a list"):
        Builder().with_materializers([saver])  # type: ignore[arg-type]


def test_the_cache_is_set_once_whichever_way(tmp_path: Path) -> None:
    builder = Builder().with_cache(path=tmp_path)
    with pytest.raises(ValueError, match="Cache already set"):
        builder.with_cache(path=tmp_path)
    with pytest.raises(ValueError, match="Cache already set"):
        builder.with_adapters(HamiltonCacheAdapter(path=str(tmp_path)))
    builder = Builder().with_adapters(HamiltonCacheAdapter(path=str(tmp_path)))
    with pytest.raises(ValueError, match="Cache already set"):
        builder.with_cache()


def test_a_cache_adapter_passed_to_with_adapters_caches_the_run(tmp_path: Path) -> None:
    adapter = HamiltonCacheAdapter(path=str(tmp_path))
    dr = Builder().with_modules(_chain()).with_adapters(adapter).build()
    dr.execute_sync(["c"], inputs={"a": 1})
    dr.execute_sync(["c"], inputs={"a": 1})
    assert dr.cache is adapter
    assert set(dr.cache.hits()) >= {"b", "c"}


def test_default_execution_manager_sends_only_blocks_to_the_remote_executor() -> None:
    local, remote = InlineExecutor(), ThreadExecutor(2)
    manager = DefaultExecutionManager(local, remote)
    for purpose in grouping.NodeGroupPurpose:
        task = grouping.TaskImplementation(
            base_id="t",
            spawning_task_base_id=None,
            nodes=[],
            purpose=purpose,
            outputs_to_compute=[],
            overrides={},
            adapter=None,
            base_dependencies=[],
            group_id=None,
            realized_dependencies={},
            spawning_task_id=None,
        )
        wanted = remote if purpose is grouping.NodeGroupPurpose.EXECUTE_BLOCK else local
        assert manager.get_executor_for_task(task) is wanted


def test_default_execution_manager_defaults_to_hamiltons_executors() -> None:
    manager = DefaultExecutionManager()
    assert isinstance(manager.local_executor, InlineExecutor)
    assert isinstance(manager.remote_executor, ProcessExecutor)
    assert manager.remote_executor.max_tasks == 5


def test_with_execution_manager_runs_branches_on_its_remote_executor() -> None:
    import threading

    def items(n: int) -> Parallelizable[int]:
        yield from range(n)

    def where(items: int) -> str:
        return threading.current_thread().name

    def names(where: Collect[str]) -> list[str]:
        return where

    manager = DefaultExecutionManager(InlineExecutor(), ThreadExecutor(2))
    module = make_module(items, where, names)
    dr = Builder().with_modules(module).with_execution_manager(manager).build()
    assert isinstance(dr.graph_executor, TaskBasedGraphExecutor)
    threads = dr.execute_sync(["names"], inputs={"n": 3})["names"]
    assert all(t.startswith("asyncdag") for t in threads)
    with pytest.raises(TypeError, match="not a DefaultExecutionManager"):
        Builder().with_execution_manager(object())


# --- node, Variable, telemetry, data quality -------------------------------------------------


def test_node_from_fn_reads_hamiltons_attributes() -> None:
    module = _chain()
    n = Node.from_fn(module.c)
    assert (n.name, n.type, n.tags) == ("c", int, {"module": module.__name__})
    assert n.input_types == {
        "b": (int, DependencyType.REQUIRED),
        "extra": (int, DependencyType.OPTIONAL),
    }
    assert n(b=1) == 2
    v = Variable.from_node(n)
    assert (v.name, v.type, v.tags, v.originating_functions) == ("c", int, n.tags, (module.c,))
    assert v.required_dependencies == {"b"} and v.optional_dependencies == {"extra"}


def test_node_from_fn_needs_a_return_annotation() -> None:
    def untyped(a: int):  # type: ignore[no-untyped-def]
        return a

    with pytest.raises(ValueError, match="Missing type hint for return value"):
        Node.from_fn(untyped)


def test_variable_from_a_graph_node_matches_list_available_variables() -> None:
    dr = Driver({}, _chain())
    listed = {v.name: v for v in dr.list_available_variables()}
    assert Variable.from_node(dr.graph.nodes["b"]) == listed["b"]


def test_telemetry_is_off_and_sends_nothing() -> None:
    telemetry.disable_telemetry()
    assert telemetry.is_telemetry_enabled() is False
    with pytest.raises(NotImplementedError, match="asyncdag sends no telemetry"):
        telemetry.send_event_json({})


class _AtMost(DataValidator):
    def __init__(self, limit: int) -> None:
        super().__init__("fail")
        self.limit = limit

    def applies_to(self, datatype: type[Any]) -> bool:
        return datatype is int

    def description(self) -> str:
        return f"at most {self.limit}"

    @classmethod
    def name(cls) -> str:
        return "at_most"

    def validate(self, dataset: Any) -> ValidationResult:
        return ValidationResult(dataset <= self.limit, f"{dataset} vs {self.limit}")


def test_a_data_validator_subclass_checks_a_node_and_fails_the_run() -> None:
    @check_output_custom(_AtMost(5))
    def value(a: int) -> int:
        return a

    dr = Builder().with_modules(make_module(value)).build()
    result = dr.execute_sync(["value_at_most"], inputs={"a": 3})["value_at_most"]
    assert isinstance(result, ValidationResult) and result.passes
    with pytest.raises(DataValidationError, match="value"):
        dr.execute_sync(["value"], inputs={"a": 9})


def test_hamiltons_power_user_switch_is_its_config_key() -> None:
    from asyncdag import settings

    assert settings.ENABLE_POWER_USER_MODE == "hamilton.enable_power_user_mode"


async def test_graph_executor_refuses_to_run_a_graph_itself() -> None:
    dr = Builder().with_modules(_chain()).build()
    with pytest.raises(NotImplementedError, match=r"await dr\.execute"):
        dr.graph_executor.execute()
    await asyncio.sleep(0)


async def test_async_driver_helpers_await_what_they_are_given() -> None:
    async def twice(n: int) -> int:
        await asyncio.sleep(0)
        return 2 * n

    assert await async_driver.await_dict_of_tasks({k: twice(k) for k in range(3)}) == {
        0: 0,
        1: 2,
        2: 4,
    }
    assert await async_driver.process_value(twice(4)) == 8
    assert await async_driver.process_value(5) == 5
