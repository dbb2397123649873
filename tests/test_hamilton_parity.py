"""Hamilton modules, ported by changing their imports, give Apache Hamilton's results."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from asyncdag import Builder, Driver

pytest.importorskip("hamilton")

from hamilton import driver as hamilton_driver
from hamilton.execution import executors as hamilton_executors

HERE = Path(__file__).parent / "hamilton_modules"


def port(name: str) -> types.ModuleType:
    """Load ``hamilton_modules/<name>.py`` with ``hamilton`` replaced by ``asyncdag``."""
    source = (HERE / f"{name}.py").read_text().replace("hamilton", "asyncdag")
    module = types.ModuleType(f"ported_{name}")
    module.__package__ = "hamilton_modules"  # relative imports of plain helper modules work
    sys.modules[module.__name__] = module
    exec(compile(source, str(HERE / f"{name}.py"), "exec"), module.__dict__)
    return module


def hamilton_driver_for(name: str, config: dict[str, Any] | None = None) -> Any:
    module = importlib.import_module(f"hamilton_modules.{name}")
    return (
        hamilton_driver.Builder()
        .with_modules(module)
        .with_config(config or {})
        .enable_dynamic_execution(allow_experimental_mode=True)
        .with_remote_executor(hamilton_executors.SynchronousLocalTaskExecutor())
        .build()
    )


def asyncdag_driver_for(name: str, config: dict[str, Any] | None = None) -> Driver:
    return (
        Builder()
        .with_modules(port(name))
        .with_config(config or {})
        .enable_dynamic_execution(allow_experimental_mode=True)
        .build()
    )


def run_hamilton(name: str, outputs: list[str], inputs: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = hamilton_driver_for(name).execute(outputs, inputs=inputs)
    return result


@pytest.mark.parametrize(
    ("name", "outputs", "inputs"),
    [
        ("word_count", ["total_words"], {"names": ["a.txt", "b.txt", "c.txt", "d.txt"]}),
        ("features", ["report", "combined", "offset"], {"x": 3}),
        ("features", ["combined"], {"x": 3, "shift": 1}),
        (
            "modifiers",
            ["plus_one", "plus_ten", "base_squared", "x_squared", "by_two", "by_five"],
            {"x": 2},
        ),
        ("modifiers", ["low", "high", "bounds", "total", "spread", "label"], {"x": 2}),
        ("modifiers_parallel", ["total"], {"count": 5, "offset": 3}),
        ("modifiers_parallel", ["total"], {"count": 0, "offset": 3}),
        ("frames", ["total_revenue", "mean_quantity"], {"n": 6}),
        ("subdags", ["us_total", "eu_total", "us_total.scaled"], {"offset": 100, "bonus": 7}),
    ],
)
def test_ported_module_gives_hamiltons_result(
    name: str, outputs: list[str], inputs: dict[str, Any]
) -> None:
    expected = run_hamilton(name, outputs, inputs)
    assert asyncdag_driver_for(name).execute_sync(outputs, inputs=inputs) == expected


PIPE_OUTPUTS = ["final_result", "final_result.scaled", "final_result.with_sum", "pair"]
PIPE_INPUTS = {"raw": 2, "a": 1, "b": 5}


@pytest.mark.parametrize(
    ("name", "config", "outputs", "inputs"),
    [
        ("modifiers", {"mode": "loud", "region": "uk"}, ["greeting", "market"], {"x": 2}),
        ("modifiers", {"mode": "soft", "region": "us"}, ["greeting", "market"], {"x": 2}),
        ("modifiers", {"region": "fr"}, ["greeting", "market"], {"x": 2}),
        ("pipes", {"extra": "yes"}, [*PIPE_OUTPUTS, "final_result.with_add_one_1"], PIPE_INPUTS),
        ("pipes", {"extra": "no"}, [*PIPE_OUTPUTS, "offset"], PIPE_INPUTS),
    ],
)
def test_ported_module_with_config_gives_hamiltons_result(
    name: str, config: dict[str, Any], outputs: list[str], inputs: dict[str, Any]
) -> None:
    expected = hamilton_driver_for(name, config).execute(outputs, inputs=inputs)
    assert asyncdag_driver_for(name, config).execute_sync(outputs, inputs=inputs) == expected


def _user_node_names(variables: list[Any]) -> set[str]:
    """All names, @check_output's ``x_raw`` and validator nodes included.

    Config keys are listed by both, as external inputs."""
    return {v.name for v in variables}


@pytest.mark.parametrize("name", ["modifiers", "modifiers_parallel", "frames", "pipes", "subdags"])
def test_ported_module_has_hamiltons_node_names(name: str) -> None:
    config = {"mode": "loud", "region": "uk"}
    hamilton_variables = hamilton_driver_for(name, config).list_available_variables()
    expected = _user_node_names(hamilton_variables)
    names = {v.name for v in asyncdag_driver_for(name, config).list_available_variables()}
    assert names == expected


@pytest.mark.parametrize(
    ("name", "tag_filter"),
    [
        ("modifiers", {"owner": "stats"}),
        ("modifiers", {"kind": "sum"}),
        ("modifiers", {"kind": None}),
        ("subdags", {"region": "us"}),
    ],
)
def test_ported_module_tag_filter_finds_hamiltons_nodes(
    name: str, tag_filter: dict[str, Any]
) -> None:
    expected = hamilton_driver_for(name).list_available_variables(tag_filter=tag_filter)
    found = asyncdag_driver_for(name).list_available_variables(tag_filter=tag_filter)
    assert {v.name for v in found} == {v.name for v in expected}
