"""Run Apache Hamilton's own tests against asyncdag, after the mechanical port of a user.

The tests come from the source distribution of ``sf-hamilton`` on the package registry,
downloaded at test time into a cache (``.venv/hamilton-peer`` by default) and never copied
into this repository. Each file is ported as a user would port a module: ``hamilton`` ->
``asyncdag`` on import lines and in ``hamilton.x`` references, ``.execute(`` ->
``.execute_sync(`` (and so ``raw_execute`` and ``materialize``) where it is not awaited.
The chosen files then run with pytest in a subprocess in which ``import hamilton`` fails,
so a pass is asyncdag's.

    python tests/peer/hamilton_suite.py            # per file pass/fail, then the total
    python tests/peer/hamilton_suite.py --json     # the same as one JSON object
    python tests/peer/hamilton_suite.py --mode reference  # unported, on the installed Hamilton
    python tests/peer/hamilton_suite.py --missing  # per file, the asyncdag names it lacks

A file whose imports name something asyncdag lacks fails as a whole, as it would for a user;
``--missing`` lists every such name of each selected file and of the resources it imports.

Exit status: 0 when the run happened (whatever passed), 2 when the tests could not be got.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

VERSION = "1.88.0"
SDIST = f"sf_hamilton-{VERSION}.tar.gz"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CACHE = ROOT / ".venv" / "hamilton-peer"

# The public-behaviour files: they build a driver and execute it. Each other file of the
# sdist's tests/ is left out for the reason beside it (see EXCLUDED).
SELECTED = {
    "tests/execution/test_executors.py": "dynamic execution on every executor",
    "tests/test_end_to_end.py": "drivers end to end: data quality, overrides, materializers",
    "tests/test_hamilton_driver.py": "the driver API: variables, final vars, builder, validate",
    "tests/test_ad_hoc_utils.py": "create_temporary_module, used to build drivers in tests",
    "tests/test_parallel_graceful.py": "GracefulErrorAdapter inside parallel blocks",
    "tests/function_modifiers/test_macros.py": "@does, @pipe_input/@pipe_output, @mutate",
    "tests/function_modifiers/test_recursive.py": "@subdag and @parameterized_subdag end to end",
    "tests/lifecycle/test_lifecycle_adapters_end_to_end.py": "lifecycle hooks on a run",
    "tests/test_async_driver.py": "Hamilton's AsyncDriver, built and executed with await",
}
# Tests of each file that pass unported on apache-hamilton 1.90 (``--mode reference``); the
# others fail there too (resource modules missing from the sdist, telemetry internals moved).
REFERENCE = {
    "tests/execution/test_executors.py": 29,
    "tests/test_end_to_end.py": 30,
    "tests/test_hamilton_driver.py": 46,
    "tests/test_ad_hoc_utils.py": 5,
    "tests/test_parallel_graceful.py": 0,
    "tests/function_modifiers/test_macros.py": 81,
    "tests/function_modifiers/test_recursive.py": 33,
    "tests/lifecycle/test_lifecycle_adapters_end_to_end.py": 22,
    "tests/test_async_driver.py": 10,
}
EXCLUDED = {
    "tests/test_base.py": (
        "does not import with pandas >= 2.2 (PeriodIndex(year=...) at module level), under "
        "Hamilton too; asyncdag's tests/test_parity_idioms.py covers PandasDataFrameResult"
    ),
    "tests/test_caching.py": "hamilton.experimental.h_cache, an old experimental API",
    "tests/lifecycle/test_cache_adapter.py": "internals of Hamilton's cache adapter",
    "tests/lifecycle/test_lifecycle_adapters_end_to_end_task_based.py": (
        "hooks on Hamilton's task objects (TaskExecutionHook), no asyncdag equivalent"
    ),
    "tests/lifecycle/test_lifecycle_base.py": "Hamilton's adapter class registry internals",
    "tests/execution/test_graph_functions.py": "internal graph execution functions",
    "tests/execution/test_node_grouping.py": "Hamilton's task grouping internals",
    "tests/test_graph.py": "hamilton.graph internals (FunctionGraph, create_function_graph)",
    "tests/test_node.py": "hamilton.node.Node internals",
    "tests/test_graph_types.py": "hamilton.graph_types internals",
    "tests/test_type_utils.py": "htypes internals (types_match is pinned by asyncdag's own tests)",
    "tests/test_common.py": "hamilton.common helpers",
    "tests/test_default_data_quality.py": "hamilton.data_quality internals",
    "tests/test_dev_utils.py": "hamilton.dev_utils",
    "tests/test_driver_export.py": "Hamilton's graph export JSON",
    "tests/test_registry.py": "Hamilton's plugin registry",
    "tests/test_settings.py": "Hamilton's settings module",
    "tests/test_telemetry.py": "Hamilton's telemetry",
    "tests/test_function_modifiers.py": "empty",
    "tests/function_modifiers/": "the other files test modifier internals (resolve/expand/"
    "transform of hamilton.node.Node objects), not runs; test_macros/test_recursive are in",
    "tests/cli/": "Hamilton's CLI",
    "tests/plugins/": "integrations with third-party libraries (polars, kedro, xgboost...)",
}

_IMPORT = re.compile(r"^\s*(from|import)\s+hamilton\b")
_HAMILTON = re.compile(r"\bhamilton\b")
# Hamilton's reserved tag and config names stay: asyncdag keeps them, as a careful port does.
_RESERVED = r"data_quality\.(?:contains_dq_results|source_node)|error_sentinel"
_RESERVED += r"|enable_power_user_mode"
_QUALIFIED = re.compile(rf"\bhamilton\.(?!(?:{_RESERVED})\b)(?=[A-Za-z_])")

# Some resource modules the tests import are missing from the sdist; they become empty
# modules so the rest of their file runs (the tests using them fail, under Hamilton too).
# ``import hamilton`` is refused when ported, so nothing can pass by running Hamilton itself.
_CONFTEST = """
import importlib.abc
import importlib.machinery
import sys
from pathlib import Path

_HERE = Path(__file__).parent
_BLOCK = {block!r}


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        if _BLOCK and (name == "hamilton" or name.startswith("hamilton.")):
            raise ImportError(f"{{name}}: the peer suite runs without Hamilton")
        if name.startswith("tests.resources.") or name.startswith("tests.nodes"):
            where = _HERE.joinpath(*name.split("."))
            if not where.with_suffix(".py").exists() and not where.is_dir():
                return importlib.machinery.ModuleSpec(name, self)
        return None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__doc__ = "missing from the sdist"


sys.meta_path.insert(0, _Finder())
"""


def port_line(line: str) -> str:
    """One line of a Hamilton test, ported as a user ports a module.

    A sync call of a Driver's run methods (``execute``, ``raw_execute``, ``materialize``)
    becomes its ``_sync`` twin; an awaited one (Hamilton's ``AsyncDriver``) stays.
    """
    if _IMPORT.match(line):
        line = _HAMILTON.sub("asyncdag", line)
    else:
        line = _QUALIFIED.sub("asyncdag.", line)
    return _RUN_CALL.sub(_sync_call, line)


_RUN_CALL = re.compile(r"(\bawait\s+[\w.]+)?\.(execute|raw_execute|materialize)\(")


def _sync_call(match: re.Match[str]) -> str:
    if match.group(1):  # awaited: asyncdag's run methods are coroutines too
        return match.group(0)
    return f".{match.group(2)}_sync("


def port(text: str) -> str:
    """A Hamilton test file, ported line by line."""
    return "".join(port_line(line) for line in text.splitlines(keepends=True))


def missing_names(text: str) -> list[str]:
    """The ``asyncdag`` modules and names that ported ``text`` imports and asyncdag lacks."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    missing: list[str] = []
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.ImportFrom) and stmt.level == 0:
            module = stmt.module or ""
            if module == "asyncdag" or module.startswith("asyncdag."):
                missing += [w for a in stmt.names if (w := _lacks(module, a.name))]
        elif isinstance(stmt, ast.Import):
            missing += [w for a in stmt.names if (w := _lacks(a.name, None))]
    return list(dict.fromkeys(missing))


def missing_by_file(cache: Path) -> dict[str, list[str]]:
    """Per selected file, what asyncdag lacks among the names it and its resources import."""
    sdist = download(cache)
    with tempfile.TemporaryDirectory(prefix="hamilton-peer-") as tmp:
        work = Path(tmp)
        prepare(sdist, work, "ported")
        found: dict[str, list[str]] = {}
        for file in SELECTED:
            names = missing_names((work / file).read_text())
            for resource in _resources_of(work / file, work):
                names += missing_names(resource.read_text())
            found[file] = list(dict.fromkeys(names))
        return found


def _resources_of(path: Path, work: Path) -> list[Path]:
    """The ``tests/resources`` (and sibling) modules that ``path`` imports."""
    tree = ast.parse(path.read_text())
    package = ".".join(path.relative_to(work).parent.parts)
    modules: list[str] = []
    for stmt in ast.walk(tree):
        if isinstance(stmt, ast.Import):
            modules += [a.name for a in stmt.names if a.name.startswith("tests.")]
        elif isinstance(stmt, ast.ImportFrom):
            base = stmt.module or ""
            if stmt.level:
                parent = package.split(".")[: len(package.split(".")) - stmt.level + 1]
                base = ".".join([*parent, base] if base else parent)
            if base.startswith("tests"):
                modules += [base, *(f"{base}.{a.name}" for a in stmt.names)]
    paths = [work.joinpath(*m.split(".")).with_suffix(".py") for m in modules]
    return [p for p in dict.fromkeys(paths) if p.exists() and p != path]


def _lacks(module: str, name: str | None) -> str | None:
    """``module`` or ``module.name`` when asyncdag cannot provide it, else None."""
    if module != "asyncdag" and not module.startswith("asyncdag."):
        return None
    try:
        found = importlib.import_module(module)
    except ImportError:
        return module
    if name is None or name == "*" or hasattr(found, name):
        return None
    try:
        importlib.import_module(f"{module}.{name}")
    except ImportError:
        return f"{module}.{name}"
    return None


def download(cache: Path) -> Path:
    """The sdist in ``cache``, downloaded with pip the first time.

    Raises:
        RuntimeError: pip could not download it (no network, no registry); the message says why.
    """
    target = cache / SDIST
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    cmd += ["--no-binary", ":all:", f"sf-hamilton=={VERSION}", "-d", str(cache)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=240, check=False)
    if done.returncode != 0 or not target.exists():
        reason = (done.stderr.strip().splitlines() or ["pip gave no reason"])[-1]
        raise RuntimeError(
            f"could not download sf-hamilton=={VERSION} from the package registry: {reason}"
        )
    return target


MODES = ("ported", "reference")


def prepare(sdist: Path, work: Path, mode: str) -> None:
    """Extract the sdist's ``tests/`` into ``work`` for ``mode``, with the run's conftest."""
    prefix = f"sf_hamilton-{VERSION}/"
    with tarfile.open(sdist) as tar:
        for member in tar.getmembers():
            if not member.isfile() or not member.name.startswith(prefix + "tests/"):
                continue
            rel = member.name[len(prefix) :]
            extracted = tar.extractfile(member)
            assert extracted is not None
            data = extracted.read()
            if mode != "reference" and rel.endswith(".py"):
                data = port(data.decode()).encode()
            dest = work / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(data)
    (work / "tests" / "__init__.py").touch()  # the sdist lacks it; files import relatively
    (work / "conftest.py").write_text(_CONFTEST.format(block=mode != "reference"))
    (work / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")


def run(cache: Path, mode: str = "ported", timeout: float = 150) -> dict[str, Any]:
    """Run the selected files in ``mode``; per file the tests that passed and failed.

    Raises:
        RuntimeError: the sdist could not be downloaded, or pytest wrote no report.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    sdist = download(cache)
    with tempfile.TemporaryDirectory(prefix="hamilton-peer-") as tmp:
        work = Path(tmp)
        prepare(sdist, work, mode)
        report = work / "report.xml"
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", f"--junitxml={report}"]
        cmd += ["-o", "junit_family=xunit1", "--timeout=60", "--continue-on-collection-errors"]
        cmd += list(SELECTED)
        env = {**os.environ, "HAMILTON_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(work)}
        done = subprocess.run(
            cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if not report.exists():
            raise RuntimeError(f"pytest wrote no report:\n{done.stdout[-3000:]}{done.stderr}")
        files: dict[str, dict[str, Any]] = {
            f: {"passed": [], "failed": [], "import_error": None} for f in SELECTED
        }
        for case in ET.parse(report).getroot().iter("testcase"):
            file = case.get("file") or _file_of(case.get("classname", ""))
            entry = files.setdefault(file, {"passed": [], "failed": [], "import_error": None})
            problems = [c for c in case if c.tag in ("failure", "error")]
            if any(c.tag == "skipped" for c in case):
                continue
            if not problems:
                entry["passed"].append(case.get("name", "?"))
            elif problems[0].get("message") == "collection failure":
                entry["import_error"] = _reason(problems[0])
            else:
                entry["failed"].append(f"{case.get('name', '?')}: {_reason(problems[0])}")
    passed = sum(len(f["passed"]) for f in files.values())
    return {"version": VERSION, "mode": mode, "passed": passed, "files": files}


def _reason(problem: ET.Element) -> str:
    """The line saying why: the last ``E   `` line of the traceback, else the message."""
    text = problem.text or ""
    last = [line[1:].strip() for line in text.splitlines() if line.startswith("E ")]
    reason = last[-1] if last else (problem.get("message") or "?").splitlines()[0]
    return re.sub(r" \(/[^)]*\)", "", reason)[:200]  # drop "(/path/to/module.py)"


def _file_of(classname: str) -> str:
    parts = classname.split(".")
    while parts and not parts[-1].startswith("test_"):
        parts.pop()
    return "/".join(parts) + ".py"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    cache = Path(os.environ.get("ASYNCDAG_PEER_CACHE", DEFAULT_CACHE))
    parser.add_argument("--cache", type=Path, default=cache, help="where the sdist is kept")
    parser.add_argument("--mode", choices=MODES, default="ported")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--missing", action="store_true", help="list what asyncdag lacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="name every failing test")
    args = parser.parse_args()
    try:
        if args.missing:
            for file, names in missing_by_file(args.cache).items():
                print(f"{file}: {', '.join(names) or 'nothing missing'}")
            return 0
        result = run(args.cache, args.mode)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"SKIP: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    for file, entry in result["files"].items():
        status = f"{len(entry['passed'])} passed, {len(entry['failed'])} failed"
        if entry["import_error"]:
            status = f"does not import ({entry['import_error']})"
        print(f"{file}: {status}; {REFERENCE[file]} pass on Hamilton")
        for name in entry["failed"] if args.verbose else ():
            print(f"    FAIL {name}")
    total = sum(REFERENCE.values())
    print(f"total ({args.mode}): {result['passed']} passed; {total} pass on Hamilton")
    return 0


if __name__ == "__main__":
    sys.exit(main())
