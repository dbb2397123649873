"""Hamilton modules, ported by changing their imports, give Apache Hamilton's results."""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from asyncdag import Builder

pytest.importorskip("hamilton")

from hamilton import driver as hamilton_driver
from hamilton.execution import executors as hamilton_executors

HERE = Path(__file__).parent / "hamilton_modules"


def port(name: str) -> types.ModuleType:
    """Load ``hamilton_modules/<name>.py`` with ``hamilton`` replaced by ``asyncdag``."""
    source = (HERE / f"{name}.py").read_text().replace("hamilton", "asyncdag")
    module = types.ModuleType(f"ported_{name}")
    sys.modules[module.__name__] = module
    exec(compile(source, str(HERE / f"{name}.py"), "exec"), module.__dict__)
    return module


def run_hamilton(name: str, outputs: list[str], inputs: dict[str, Any]) -> dict[str, Any]:
    module = importlib.import_module(f"hamilton_modules.{name}")
    dr = (
        hamilton_driver.Builder()
        .with_modules(module)
        .enable_dynamic_execution(allow_experimental_mode=True)
        .with_remote_executor(hamilton_executors.SynchronousLocalTaskExecutor())
        .build()
    )
    result: dict[str, Any] = dr.execute(outputs, inputs=inputs)
    return result


@pytest.mark.parametrize(
    ("name", "outputs", "inputs"),
    [
        ("word_count", ["total_words"], {"names": ["a.txt", "b.txt", "c.txt", "d.txt"]}),
        ("features", ["report", "combined", "offset"], {"x": 3}),
        ("features", ["combined"], {"x": 3, "shift": 1}),
    ],
)
def test_ported_module_gives_hamiltons_result(
    name: str, outputs: list[str], inputs: dict[str, Any]
) -> None:
    expected = run_hamilton(name, outputs, inputs)
    dr = (
        Builder()
        .with_modules(port(name))
        .enable_dynamic_execution(allow_experimental_mode=True)
        .build()
    )
    assert dr.execute_sync(outputs, inputs=inputs) == expected
