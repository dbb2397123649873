"""A Hamilton module using caching, materializers and modifiers (``@dataloader``,
``@load_from``, ``@save_to``, ``@pipe_output``, ``@does``, ``@cache``) runs after the import
change with Hamilton's results, node names and cache decisions."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest
from test_hamilton_parity import port

from asyncdag import Builder, executors

pytest.importorskip("hamilton")

from hamilton import driver as hamilton_driver

OUTPUTS = ["report", "saved_report", "count"]


def _inputs(root: Path) -> dict[str, str]:
    root.mkdir()
    (root / "settings.json").write_text(json.dumps({"scale": 3}))
    (root / "numbers.json").write_text(json.dumps({"values": [1, 2, 3]}))
    return {
        "settings_path": str(root / "settings.json"),
        "numbers_path": str(root / "numbers.json"),
        "report_path": str(root / "report.json"),
    }


def _comparable(result: dict[str, Any]) -> dict[str, Any]:
    """The results without the file metadata that differs by path and time."""
    metadata = result["saved_report"]["file_metadata"]
    return {**result, "saved_report": sorted(k for k in metadata if k not in ("path",))}


def _hamilton_runs(root: Path) -> tuple[list[dict[str, Any]], Any]:
    inputs = _inputs(root)
    module = importlib.import_module("hamilton_modules.cached_io")
    dr = hamilton_driver.Builder().with_modules(module).with_cache(path=str(root / "c")).build()
    runs = [dr.execute(OUTPUTS, inputs=inputs) for _ in range(2)]
    return runs, dr


def _asyncdag_runs(root: Path) -> tuple[list[dict[str, Any]], Any]:
    inputs = _inputs(root)
    # The module's def nodes read and write files: on threads, as a service would run them
    # (the tests fail a call that blocks the loop); the cache's store I/O stays off the loop.
    dr = (
        Builder()
        .with_modules(port("cached_io"))
        .with_local_executor(executors.ThreadExecutor())
        .with_cache(path=str(root / "c"))
        .build()
    )
    runs = [dr.execute_sync(OUTPUTS, inputs=inputs) for _ in range(2)]
    return runs, dr


def test_cached_module_with_materializers_gives_hamiltons_results(tmp_path: Path) -> None:
    theirs, _ = _hamilton_runs(tmp_path / "hamilton")
    ours, _ = _asyncdag_runs(tmp_path / "asyncdag")
    assert [_comparable(r) for r in ours] == [_comparable(r) for r in theirs]
    saved = json.loads((tmp_path / "asyncdag" / "report.json").read_text())
    assert saved == json.loads((tmp_path / "hamilton" / "report.json").read_text())


def test_cached_module_caches_hamiltons_nodes(tmp_path: Path) -> None:
    _, theirs = _hamilton_runs(tmp_path / "hamilton")
    _, ours = _asyncdag_runs(tmp_path / "asyncdag")
    inputs = {"settings_path", "numbers_path", "report_path"}
    hamilton_nodes = set(theirs.cache.data_versions[theirs.cache.last_run_id]) - inputs
    assert set(ours.cache.hits()) | set(ours.cache.misses()) == hamilton_nodes


def test_cached_module_rerun_recomputes_only_the_recompute_node(tmp_path: Path) -> None:
    _, ours = _asyncdag_runs(tmp_path / "asyncdag")
    assert ours.cache.misses() == ["stamp"]  # @cache(behavior="recompute"); the rest are hits
