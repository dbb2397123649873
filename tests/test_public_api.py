"""The public API of DESIGN section 1 (the part delivered so far) is importable and pinned.

Names of later issues (timeout, retry, Event, ProcessExecutor, DaskExecutor, RayExecutor,
lifecycle, PandasDataFrameResult) are added here when they are delivered.
"""

import ast
import importlib
import importlib.metadata
from pathlib import Path

import pytest

import asyncdag
from asyncdag.errors import AsyncDagError

EXECUTORS = ["InlineExecutor", "ThreadExecutor", "SynchronousLocalTaskExecutor"]
EXECUTORS += ["MultiThreadingExecutor", "ProcessExecutor", "MultiProcessingExecutor"]

MODIFIERS = ["config", "tag", "parameterize", "value", "source", "extract_fields", "check_output"]
MODIFIERS += ["timeout", "retry"]
# Hamilton modifiers beyond the DESIGN table, importable from asyncdag.function_modifiers.
MORE_MODIFIERS = [
    "tag_outputs",
    "parameterize_sources",
    "parameterize_values",
    "extract_columns",
    "check_output_custom",
    "pipe_input",
    "step",
    "subdag",
]

ERRORS = [
    "AsyncDagError",
    "DataValidationError",
    "GraphError",
    "MissingInputError",
    "UnknownNodeError",
    "ExecutorError",
    "SerializationError",
    "WorkerCrashedError",
    "NodeTimeoutError",
]

CONTRACT: dict[str, list[str]] = {
    "asyncdag": [
        "Builder",
        "Driver",
        "Parallelizable",
        "Collect",
        "config",
        "tag",
        "parameterize",
        "value",
        "source",
        "extract_fields",
        "check_output",
        "timeout",
        "retry",
        "executors",
        "__version__",
    ],
    "asyncdag.driver": ["Builder", "Driver"],
    "asyncdag.htypes": ["Parallelizable", "Collect"],
    "asyncdag.execution.executors": EXECUTORS,
    "asyncdag.executors": EXECUTORS,
    "asyncdag.base": ["DictResult"],
    "asyncdag.errors": ERRORS,
    "asyncdag.function_modifiers": [*MODIFIERS, *MORE_MODIFIERS],
}

PUBLIC_MODULES = list(CONTRACT)

CONTRACT_NAMES = [(module, name) for module, names in CONTRACT.items() for name in names]

# The same object reachable from two public doors: (module, name, canonical module).
REEXPORTS = [
    ("asyncdag", "Builder", "asyncdag.driver"),
    ("asyncdag", "Driver", "asyncdag.driver"),
    ("asyncdag", "Parallelizable", "asyncdag.htypes"),
    ("asyncdag", "Collect", "asyncdag.htypes"),
    *[("asyncdag", name, "asyncdag.function_modifiers") for name in MODIFIERS],
    *[("asyncdag.executors", name, "asyncdag.execution.executors") for name in EXECUTORS],
]

HAMILTON_ALIASES = [
    (module, alias, target)
    for module in ("asyncdag.execution.executors", "asyncdag.executors")
    for alias, target in [
        ("SynchronousLocalTaskExecutor", "InlineExecutor"),
        ("MultiThreadingExecutor", "ThreadExecutor"),
        ("MultiProcessingExecutor", "ProcessExecutor"),
    ]
]


def _literal_all(module_name: str) -> list[str] | None:
    """The value of a top-level ``__all__ = [...]`` written as literal strings, else None."""
    source_file = importlib.import_module(module_name).__file__
    assert source_file is not None
    tree = ast.parse(Path(source_file).read_text(encoding="utf-8"))
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                try:
                    value = ast.literal_eval(stmt.value) if stmt.value is not None else None
                except ValueError:
                    return None
                if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
                    return list(value)
                return None
    return None


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_module_is_importable(module_name: str) -> None:
    importlib.import_module(module_name)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_public_module_declares_a_literal_all(module_name: str) -> None:
    literal = _literal_all(module_name)
    assert literal is not None, f"{module_name} has no literal __all__ of strings"
    assert list(importlib.import_module(module_name).__all__) == literal


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_every_name_in_all_resolves(module_name: str) -> None:
    module = importlib.import_module(module_name)
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_has_no_duplicates(module_name: str) -> None:
    names = list(importlib.import_module(module_name).__all__)
    assert len(names) == len(set(names))


@pytest.mark.parametrize(("module_name", "name"), CONTRACT_NAMES)
def test_contract_name_is_listed_in_all(module_name: str, name: str) -> None:
    assert name in importlib.import_module(module_name).__all__


@pytest.mark.parametrize(("module_name", "name"), CONTRACT_NAMES)
def test_contract_name_resolves(module_name: str, name: str) -> None:
    assert getattr(importlib.import_module(module_name), name) is not None


@pytest.mark.parametrize(("module_name", "name", "canonical"), REEXPORTS)
def test_reexport_is_the_same_object(module_name: str, name: str, canonical: str) -> None:
    exported = getattr(importlib.import_module(module_name), name)
    assert exported is getattr(importlib.import_module(canonical), name)


@pytest.mark.parametrize(("module_name", "alias", "target"), HAMILTON_ALIASES)
def test_hamilton_executor_alias_is_the_same_object(
    module_name: str, alias: str, target: str
) -> None:
    module = importlib.import_module(module_name)
    assert getattr(module, alias) is getattr(module, target)


def test_top_level_executors_name_is_the_importable_module() -> None:
    assert asyncdag.executors is importlib.import_module("asyncdag.executors")


@pytest.mark.parametrize("name", ERRORS)
def test_error_subclasses_async_dag_error(name: str) -> None:
    error = getattr(importlib.import_module("asyncdag.errors"), name)
    assert issubclass(error, AsyncDagError)


@pytest.mark.parametrize("method", ["when", "when_not", "when_in", "when_not_in"])
def test_config_offers_hamilton_conditions(method: str) -> None:
    assert callable(getattr(asyncdag.config, method))


def test_version_matches_the_installed_package() -> None:
    assert asyncdag.__version__ == importlib.metadata.version("asyncdag")
