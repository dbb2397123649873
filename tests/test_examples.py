"""The word-count example runs as a script and as a module, and counts every word."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from asyncdag import Builder

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
TEXTS = EXAMPLES / "texts"


def _expected_counts() -> dict[str, int]:
    """Word counts computed here, independently of asyncdag, keyed by file name."""
    return {
        path.name: len(path.read_text(encoding="utf-8").split())
        for path in sorted(TEXTS.glob("*.txt"))
    }


@pytest.fixture(scope="module")
def expected() -> dict[str, int]:
    return _expected_counts()


@pytest.fixture(scope="module")
def word_count() -> ModuleType:
    """The example imported as a module (loaded here, outside the event loop)."""
    spec = importlib.util.spec_from_file_location("word_count_example", EXAMPLES / "word_count.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script_output() -> str:
    """What ``python examples/word_count.py`` prints."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "word_count.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_example_ships_four_or_five_short_texts(expected: dict[str, int]) -> None:
    assert 4 <= len(expected) <= 5
    assert all(150 <= n <= 600 for n in expected.values()), expected


@pytest.mark.allow_blocking
def test_script_prints_the_total_of_every_word(
    script_output: str, expected: dict[str, int]
) -> None:
    totals = re.findall(r"^total\s+(\d+)\s*$", script_output, flags=re.MULTILINE)
    assert totals == [str(sum(expected.values()))], script_output


@pytest.mark.allow_blocking
def test_script_prints_each_document_with_its_count_in_name_order(
    script_output: str, expected: dict[str, int]
) -> None:
    rows = re.findall(r"^(\S+\.txt)\s+(\d+)\s*$", script_output, flags=re.MULTILINE)
    assert rows == [(name, str(n)) for name, n in expected.items()], script_output


async def test_module_total_words_matches_an_independent_count(
    word_count: ModuleType, expected: dict[str, int]
) -> None:
    dr = Builder().with_modules(word_count).build()
    out = await dr.execute(["total_words"], inputs={"text_dir": str(TEXTS)})
    assert out == {"total_words": sum(expected.values())}


async def test_module_per_document_aligns_names_and_counts_in_yield_order(
    word_count: ModuleType, expected: dict[str, int]
) -> None:
    dr = Builder().with_modules(word_count).build()
    out = await dr.execute(["per_document", "total_words"], inputs={"text_dir": str(TEXTS)})
    assert list(out["per_document"].items()) == list(expected.items())
    assert out["total_words"] == sum(expected.values())


def _primes_below(limit: int) -> int:
    sieve = bytearray([1]) * limit
    sieve[:2] = b"\x00\x00"
    for n in range(2, int(limit**0.5) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytearray(len(sieve[n * n :: n]))
    return sum(sieve)


@pytest.mark.allow_blocking
def test_cpu_bound_example_counts_primes_and_reports_both_timings() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / "cpu_bound.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    match = re.search(r"primes below ([\d,]+): ([\d,]+)", done.stdout)
    assert match is not None, done.stdout
    limit, count = (int(g.replace(",", "")) for g in match.groups())
    assert count == _primes_below(limit)
    assert "InlineExecutor" in done.stdout and "ProcessExecutor" in done.stdout
    assert re.search(r"speed-up \d+\.\d+x on \d+ cores", done.stdout)
