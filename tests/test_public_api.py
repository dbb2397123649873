"""The public API of DESIGN section 1 is importable and pinned: each module's ``__all__`` equals
its contract names delivered so far.

Contract names of later issues are listed in ``NOT_YET`` and must be absent (DESIGN: no
placeholders); delivering one fails ``test_contract_name_not_yet_delivered_is_absent`` until it is
moved out of ``NOT_YET``. A name exported beyond DESIGN's text fails the equality test until it is
added to DESIGN (and to ``PROPOSED`` here) or made private.
"""

import ast
import importlib
import importlib.metadata
import importlib.util
from pathlib import Path

import pytest

import asyncdag
from asyncdag.errors import AsyncDagError

EXECUTORS = ["InlineExecutor", "ThreadExecutor", "ProcessExecutor", "DaskExecutor", "RayExecutor"]
EXECUTORS += ["SynchronousLocalTaskExecutor", "MultiThreadingExecutor", "MultiProcessingExecutor"]

MODIFIERS = ["config", "tag", "parameterize", "value", "source", "extract_fields", "check_output"]
MODIFIERS += ["timeout", "retry", "window", "on_branch_error"]
# DESIGN "Hamilton parity": more modifiers in asyncdag.function_modifiers.
PARITY_MODIFIERS = ["does", "mutate", "pipe_output", "parameterized_subdag", "cache"]
PARITY_MODIFIERS += ["InvalidDecoratorException", "load_from", "save_to", "dataloader", "datasaver"]

ERRORS = ["AsyncDagError", "GraphError", "MissingInputError", "UnknownNodeError", "InputTypeError"]
ERRORS += ["NodeCancelledError", "RemoteError", "BranchFailuresError", "ExecutorError"]
ERRORS += ["SerializationError", "WorkerCrashedError", "NodeTimeoutError"]

# DESIGN section 1, module by module.
CONTRACT: dict[str, list[str]] = {
    "asyncdag": [
        "Builder",
        "Driver",
        "Event",
        "Parallelizable",
        "Collect",
        *MODIFIERS,
        "cache",
        "executors",
        "__version__",
    ],
    "asyncdag.driver": ["Builder", "Driver"],
    "asyncdag.htypes": ["Parallelizable", "Collect"],
    "asyncdag.function_modifiers": [*MODIFIERS, *PARITY_MODIFIERS],
    "asyncdag.execution.executors": EXECUTORS,
    "asyncdag.executors": EXECUTORS,
    "asyncdag.base": ["DictResult", "DefaultAdapter", "PandasDataFrameResult"],
    "asyncdag.errors": ERRORS,
    "asyncdag.ad_hoc_utils": ["create_temporary_module"],
    "asyncdag.io.materialization": ["to", "from_"],
    # Hamilton's lifecycle hooks and the progress bar; GracefulErrorAdapter and
    # accept_error_sentinels come with the parity issue (listed in NOT_YET).
    "asyncdag.lifecycle": [
        "NodeExecutionHook",
        "GraphExecutionHook",
        "ProgressBar",
        "GracefulErrorAdapter",
        "accept_error_sentinels",
    ],
    "asyncdag.plugins.h_tqdm": ["ProgressBar"],
    "asyncdag.plugins.h_rich": ["RichProgressBar"],
    "asyncdag.plugins.h_opentelemetry": ["OpenTelemetryTracer"],
    "asyncdag.plugins.h_dask": ["DaskExecutor"],
    "asyncdag.plugins.h_ray": ["RayTaskExecutor"],
    "asyncdag.execution.grouping": ["GroupByRepeatableBlocks", "GroupNodesIndividually"],
}

# Exported beyond DESIGN section 1's text; proposed for it (the lead edits DESIGN).
PROPOSED: dict[str, list[str]] = {
    # Hamilton's hamilton.driver.Variable, what list_available_variables() returns; Hamilton's
    # driver names a ported module imports (never raised / dr.graph_executor's class).
    "asyncdag.driver": ["Variable", "InvalidExecutorException", "TaskBasedGraphExecutor"],
    # The seam's base class, for executors of one's own; Hamilton's execution manager.
    "asyncdag.execution.executors": ["Executor", "DefaultExecutionManager"],
    "asyncdag.executors": ["Executor"],
    # Hamilton's name for a failed @check_output(importance="fail").
    "asyncdag.errors": ["DataValidationError"],
    # Hamilton's result-builder base and its legacy adapters, which ported modules import.
    "asyncdag.base": [
        "ResultMixin",
        "SimplePythonGraphAdapter",
        "SimplePythonDataFrameGraphAdapter",
    ],
    # Hamilton's other grouping strategies (accepted, change nothing, like the two above).
    "asyncdag.execution.grouping": [
        "GroupNodesAllAsOne",
        "GroupNodesByLevel",
        "NodeGroupPurpose",
        "TaskImplementation",
    ],
    # Hamilton modifiers asyncdag supports ("everything Hamilton has and asyncdag supports").
    "asyncdag.function_modifiers": [
        "tag_outputs",
        "parameterize_sources",
        "parameterize_values",
        "extract_columns",
        "check_output_custom",
        "pipe_input",
        "step",
        "subdag",
        # Hamilton's companions of the parity modifiers: mutate's apply_to, @resolve's names.
        "apply_to",
        "resolve",
        "resolve_from_config",
        "ResolveAt",
    ],
    # Hamilton's module paths that ported code imports (issue 15): new modules, pinned below.
    "asyncdag.settings": ["ENABLE_POWER_USER_MODE"],
    "asyncdag.async_driver": ["AsyncDriver", "Builder", "await_dict_of_tasks", "process_value"],
    "asyncdag.node": ["DependencyType", "Node", "NodeType"],
    "asyncdag.models": ["BaseModel", "DynamicTransformBase"],
    "asyncdag.telemetry": [
        "MAX_COUNT_SESSION",
        "disable_telemetry",
        "g_telemetry_enabled",
        "get_adapter_name",
        "is_telemetry_enabled",
        "send_event_json",
    ],
    "asyncdag.data_quality.base": [
        "BaseDefaultValidator",
        "DataValidationError",
        "DataValidationLevel",
        "DataValidator",
        "ValidationResult",
    ],
    "asyncdag.lifecycle.default": ["GracefulErrorAdapter", "accept_error_sentinels"],
    "asyncdag.lifecycle.base": [
        *(f"Base{step}" for step in ["DoBuildResult", "DoCheckEdgeTypesMatch", "DoNodeExecute"]),
        *(f"Base{step}" for step in ["DoRemoteExecute", "DoValidateInput", "PostGraphConstruct"]),
        "BasePostGraphConstructAsync",
        *(f"Base{step}" for step in ["PostGraphExecute", "PostGraphExecuteAsync"]),
        *(f"Base{step}" for step in ["PostNodeExecute", "PostNodeExecuteAsync"]),
        *(f"Base{step}" for step in ["PostTaskExecute", "PostTaskExpand", "PostTaskGroup"]),
        *(f"Base{step}" for step in ["PostTaskReturn", "PreDoAnythingHook", "PreGraphExecute"]),
        *(f"Base{step}" for step in ["PreGraphExecuteAsync", "PreNodeExecute"]),
        *(f"Base{step}" for step in ["PreNodeExecuteAsync", "PreTaskExecute"]),
        *(f"Base{step}" for step in ["PreTaskSubmission", "ValidateGraph", "ValidateNode"]),
        "LifecycleAdapterSet",
        "ValidationException",
    ],
}
NEW_MODULES = [m for m in PROPOSED if m not in CONTRACT]

DELIVERED_PARITY = ["InvalidDecoratorException", "load_from", "save_to", "dataloader", "datasaver"]
DELIVERED_PARITY += ["does", "mutate", "pipe_output", "parameterized_subdag", "cache"]

# Contract names of later issues: absent until delivered (then delete them here).
NOT_YET: dict[str, list[str]] = {
    "asyncdag": [],
    "asyncdag.function_modifiers": [
        *(m for m in PARITY_MODIFIERS if m not in DELIVERED_PARITY),
    ],
}

# DESIGN section 1 modules of later issues: not importable until delivered.
MODULES_NOT_YET: list[str] = []

PUBLIC_MODULES = list(CONTRACT)


def delivered(module: str) -> list[str]:
    """The names ``module`` must export today: its contract names minus those not yet built."""
    names = [*CONTRACT[module], *PROPOSED.get(module, [])]
    return [n for n in dict.fromkeys(names) if n not in NOT_YET.get(module, [])]


CONTRACT_NAMES = [(module, name) for module in CONTRACT for name in delivered(module)]
NOT_YET_NAMES = [(module, name) for module, names in NOT_YET.items() for name in names]
DELIVERED_ERRORS = delivered("asyncdag.errors")

# The same object reachable from two public doors: (module, name, canonical module).
REEXPORTS = [
    ("asyncdag", "Builder", "asyncdag.driver"),
    ("asyncdag.plugins.h_tqdm", "ProgressBar", "asyncdag.lifecycle"),
    ("asyncdag.plugins.h_dask", "DaskExecutor", "asyncdag.execution.executors"),
    ("asyncdag", "Driver", "asyncdag.driver"),
    ("asyncdag", "Parallelizable", "asyncdag.htypes"),
    ("asyncdag", "Collect", "asyncdag.htypes"),
    *[
        ("asyncdag", name, "asyncdag.function_modifiers")
        for name in MODIFIERS
        if name not in NOT_YET["asyncdag"]
    ],
    *[
        ("asyncdag.executors", name, "asyncdag.execution.executors")
        for name in delivered("asyncdag.executors")
    ],
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


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_all_equals_the_contract_names_delivered_so_far(module_name: str) -> None:
    exported = set(importlib.import_module(module_name).__all__)
    wanted = set(delivered(module_name))
    assert (sorted(exported - wanted), sorted(wanted - exported)) == ([], [])


@pytest.mark.parametrize("module_name", NEW_MODULES)
def test_proposed_module_exports_exactly_its_proposed_names(module_name: str) -> None:
    assert _literal_all(module_name) == list(importlib.import_module(module_name).__all__)
    assert sorted(importlib.import_module(module_name).__all__) == sorted(PROPOSED[module_name])


@pytest.mark.parametrize(("module_name", "name"), NOT_YET_NAMES)
def test_contract_name_not_yet_delivered_is_absent(module_name: str, name: str) -> None:
    module = importlib.import_module(module_name)
    assert name in CONTRACT[module_name], "NOT_YET lists only contract names"
    assert name not in module.__all__ and not hasattr(module, name), (
        f"{module_name}.{name} is delivered: delete it from NOT_YET in this test"
    )


@pytest.mark.parametrize("module_name", MODULES_NOT_YET)
def test_contract_module_not_yet_delivered_is_absent(module_name: str) -> None:
    try:
        spec = importlib.util.find_spec(module_name)
    except ModuleNotFoundError:  # its parent package is absent too
        spec = None
    assert spec is None, f"{module_name} is delivered: add it to CONTRACT in this test"


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


def test_hamiltons_ray_task_executor_is_the_ray_executor() -> None:
    from asyncdag.execution.executors import RayExecutor
    from asyncdag.plugins.h_ray import RayTaskExecutor

    assert RayTaskExecutor is RayExecutor


def test_top_level_executors_name_is_the_importable_module() -> None:
    assert asyncdag.executors is importlib.import_module("asyncdag.executors")


@pytest.mark.parametrize("name", DELIVERED_ERRORS)
def test_error_subclasses_async_dag_error(name: str) -> None:
    error = getattr(importlib.import_module("asyncdag.errors"), name)
    assert issubclass(error, AsyncDagError)


@pytest.mark.parametrize("method", ["when", "when_not", "when_in", "when_not_in"])
def test_config_offers_hamilton_conditions(method: str) -> None:
    assert callable(getattr(asyncdag.config, method))


def test_version_matches_the_installed_package() -> None:
    assert asyncdag.__version__ == importlib.metadata.version("asyncdag")
