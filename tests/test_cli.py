"""The ``asyncdag`` command, run for real: the console script and ``python -m asyncdag``."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

MODULES = Path(__file__).resolve().parent / "cli_modules"
WORDS = MODULES / "words.py"
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPT = Path(sys.executable).with_name("asyncdag")
TEXTS = '--input=texts=["a b c", "d e"]'

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


def asyncdag(*args: str, cwd: Path = MODULES) -> subprocess.CompletedProcess[str]:
    """Run the installed console script with ``args``."""
    return subprocess.run(
        [str(SCRIPT), *args], capture_output=True, text=True, timeout=60, cwd=cwd, check=False
    )


def ok(*args: str, cwd: Path = MODULES) -> str:
    done = asyncdag(*args, cwd=cwd)
    assert done.returncode == 0, done.stderr
    return done.stdout


def fails(*args: str, cwd: Path = MODULES) -> str:
    """The one error line of a failing command (exit code 1, no traceback)."""
    done = asyncdag(*args, cwd=cwd)
    assert done.returncode == 1, done
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("asyncdag: error: ")
    return lines[0]


def run_json(*args: str) -> dict[str, object]:
    result: dict[str, object] = json.loads(ok("run", str(WORDS), *args, "--json"))
    return result


# -- entry points and modules -------------------------------------------------------------


def test_console_script_runs_a_module_file_and_prints_each_output() -> None:
    out = ok("run", str(WORDS), "total", "shout", TEXTS, "--input", "label=hi", "--input=loud=no")
    assert out.splitlines() == ["total: 5", "shout: hi"]


def test_python_dash_m_asyncdag_is_the_same_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asyncdag", "run", str(WORDS), "total", TEXTS, "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=MODULES,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"total": 5}


def test_a_module_name_is_imported_from_the_current_directory() -> None:
    assert json.loads(ok("run", "words", "total", TEXTS, "--json")) == {"total": 5}


def test_the_word_count_example_runs_from_the_command_line() -> None:
    out = ok("run", "word_count.py", "total_words", "--input", "text_dir=texts", cwd=EXAMPLES)
    expected = sum(len(p.read_text(encoding="utf-8").split()) for p in EXAMPLES.glob("texts/*"))
    assert out == f"total_words: {expected}\n"


def test_list_shows_nodes_inputs_and_config_with_their_types() -> None:
    rows = [line.split() for line in ok("list", "configured", "--config", "mode=fast").splitlines()]
    assert rows[0] == ["name", "type", "kind"]
    assert ["speed", "str", "node"] in rows
    assert ["threshold", "int", "input"] in rows
    assert ["mode", "config"] in rows


# -- inputs and config --------------------------------------------------------------------


def test_an_int_input_reaches_an_int_parameter_as_an_int() -> None:
    assert run_json("repeated", TEXTS, "--input", "n=3") == {"repeated": [5, 5, 5]}


def test_float_bool_and_json_list_inputs_are_converted_by_their_annotation() -> None:
    args = (TEXTS, "--input", "factor=0.5", "--input", "label=hi", "--input", "loud=true")
    assert run_json("scaled", "shout", *args) == {"scaled": 2.5, "shout": "HI"}


def test_an_optional_int_input_is_converted_too() -> None:
    assert run_json("limited", TEXTS, "--input", "limit=2") == {"limited": 2}


def test_an_unannotated_input_stays_text() -> None:
    assert run_json("described", "--input", "raw=5") == {"described": "str:5"}


def test_an_input_that_does_not_fit_its_annotation_is_one_clear_line() -> None:
    line = fails("run", str(WORDS), "repeated", TEXTS, "--input", "n=three")
    assert (
        "--input n=three" in line
        and "'n' is annotated int" in line
        and "cannot be read as int" in line
    )


def test_an_input_that_is_not_name_equals_value_is_one_clear_line() -> None:
    line = fails("run", str(WORDS), "total", "--input", "texts")
    assert "--input 'texts': expected NAME=VALUE" in line


def test_config_picks_an_alternative_and_a_config_value_read_as_int_is_an_int() -> None:
    args = ("run", "configured", "speed", "doubled", "--json")
    out = json.loads(ok(*args, "--config", "mode=slow", "--config", "threshold=4"))
    assert out == {"speed": "slow", "doubled": 8}


# -- executors ----------------------------------------------------------------------------


@pytest.mark.parametrize("executor", ["inline", "thread", "process"])
def test_every_executor_gives_the_same_result(executor: str) -> None:
    assert run_json("total", TEXTS, "--executor", executor) == {"total": 5}


def test_progress_flag_reports_the_run_on_stderr_as_plain_lines_off_a_terminal() -> None:
    done = asyncdag("run", str(WORDS), "total", TEXTS, "--progress")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["total: 5"]
    assert "complete in" in done.stderr and "\r" not in done.stderr


def test_no_progress_off_a_terminal_unless_asked() -> None:
    done = asyncdag("run", str(WORDS), "total", TEXTS)
    assert done.returncode == 0 and done.stderr == ""


def test_an_unknown_executor_is_refused_by_the_parser() -> None:
    done = asyncdag("run", str(WORDS), "total", "--executor", "gpu")
    assert done.returncode == 2 and "invalid choice: 'gpu'" in done.stderr


# -- errors -------------------------------------------------------------------------------


def test_an_unknown_output_is_one_line_with_the_close_match() -> None:
    line = fails("run", str(WORDS), "totl", TEXTS)
    assert "UnknownNodeError: 'totl' is not a node" in line and "'total'" in line


def test_a_missing_input_is_one_line_naming_it_and_who_needs_it() -> None:
    line = fails("run", str(WORDS), "total")
    assert "missing input(s): 'texts' (needed by text)" in line and "--input" in line


def test_a_node_raising_is_one_line_naming_the_node_and_the_branch() -> None:
    line = fails("run", "failing", "checked_all", '--input=items=["ok", "bad", "ok"]')
    assert "ValueError: cannot check 'bad'" in line
    assert "node 'checked' in branch item[1]" in line


@pytest.mark.parametrize("executor", ["thread", "process"])
def test_a_node_raising_on_a_worker_is_still_one_line(executor: str) -> None:
    line = fails("run", "failing", "checked_all", '--input=items=["bad"]', "--executor", executor)
    assert "ValueError: cannot check 'bad'" in line and "item[0]" in line


def test_traceback_flag_shows_the_whole_traceback() -> None:
    done = asyncdag("run", "failing", "checked_all", '--input=items=["bad"]', "--traceback")
    assert done.returncode == 1
    assert "Traceback (most recent call last)" in done.stderr
    assert "raise ValueError" in done.stderr


def test_a_module_that_does_not_exist_is_one_line() -> None:
    assert "No module named 'nowhere'" in fails("list", "nowhere")
    assert "no such file" in fails("list", "nowhere/dag.py")


# -- viz ----------------------------------------------------------------------------------


@needs_dot
def test_viz_writes_a_png_of_every_function(tmp_path: Path) -> None:
    target = tmp_path / "dag.png"
    assert ok("viz", str(WORDS), "-o", str(target)) == f"wrote {target}\n"
    assert target.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


@needs_dot
def test_viz_with_outputs_draws_only_what_they_run(tmp_path: Path) -> None:
    target = tmp_path / "dag.svg"
    ok("viz", str(WORDS), "-o", str(target), "--output", "total")
    svg = "{http://www.w3.org/2000/svg}"
    titles = {
        g.findtext(f"{svg}title")
        for g in ET.parse(target).getroot().iter(f"{svg}g")
        if g.get("class") == "node"
    }
    assert {"text", "words", "total"} <= titles
    assert not titles & {"scaled", "repeated", "shout", "described", "limited"}


def test_viz_to_an_unknown_format_is_one_line(tmp_path: Path) -> None:
    line = fails("viz", str(WORDS), "-o", str(tmp_path / "dag.dgm"))
    assert "'dgm' is not an output format" in line
