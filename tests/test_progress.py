"""ProgressBar: bars in a terminal, plain lines in a log file, one per parallel block."""

from __future__ import annotations

import io
from typing import Any

import pytest
import rich.progress  # noqa: F401  (imported here: importing inside a run would block)
import tqdm.auto
from conftest import make_module

from asyncdag import Builder, Collect, Parallelizable
from asyncdag.lifecycle import ProgressBar
from asyncdag.plugins import h_rich, h_tqdm

# What a ProgressBar does once when built (imports, tqdm's lock) blocks briefly: do it here,
# before any loop runs, as an app builds its adapters at start-up.
tqdm.auto.tqdm.get_lock()


class Terminal(io.StringIO):
    """A text file that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def two_blocks() -> Any:
    def url(n: int) -> Parallelizable[int]:
        yield from range(n)

    def page(url: int) -> int:
        return url

    def pages(page: Collect[int]) -> int:
        return sum(page)

    def word(n: int) -> Parallelizable[str]:
        yield from ("a", "b")

    def upper(word: str) -> str:
        return word.upper()

    def words(upper: Collect[str]) -> str:
        return "".join(upper)

    def report(pages: int, words: str) -> str:
        return f"{pages} {words}"

    return make_module(url, page, pages, word, upper, words, report)


async def run_with(bar: ProgressBar) -> Any:
    dr = Builder().with_modules(two_blocks()).with_adapters(bar).build()
    return await dr.execute(["report"], inputs={"n": 5})


async def test_progress_to_a_log_file_is_plain_lines_without_cursor_codes() -> None:
    log = io.StringIO()
    assert await run_with(ProgressBar(file=log)) == {"report": "10 AB"}
    text = log.getvalue()
    assert "\r" not in text and "\x1b" not in text
    assert text.splitlines()[-1].startswith("Graph execution: complete in ")


async def test_progress_lines_count_each_block_and_the_nodes_outside_blocks() -> None:
    log = io.StringIO()
    await run_with(ProgressBar(file=log, interval=0.0))
    last = log.getvalue().splitlines()[-1]
    assert "5/5 nodes" in last
    assert "url: 5 branches done, 5 yielded, 0 in flight" in last
    assert "word: 2 branches done, 2 yielded, 0 in flight" in last


async def test_progress_in_a_terminal_draws_a_tqdm_bar_per_block() -> None:
    term = Terminal()
    await run_with(ProgressBar("words", file=term))
    text = term.getvalue()
    assert "\r" in text  # drawn in place
    assert "execution complete" in text
    for label in ("url", "word"):
        assert f"{label}: " in text and "branches" in text


async def test_rich_progress_bar_draws_the_run_and_its_blocks() -> None:
    term = Terminal()
    await run_with(h_rich.RichProgressBar(file=term))
    text = term.getvalue()
    assert "url" in text and "word" in text


async def test_a_failed_run_ends_its_progress_saying_so() -> None:
    def boom(x: int) -> int:
        raise ValueError("no")

    log = io.StringIO()
    dr = Builder().with_modules(make_module(boom)).with_adapters(ProgressBar(file=log)).build()
    with pytest.raises(ValueError):
        await dr.execute(["boom"], inputs={"x": 1})
    assert "failed" in log.getvalue().splitlines()[-1]


def test_hamiltons_plugin_path_gives_the_same_progress_bar() -> None:
    assert h_tqdm.ProgressBar is ProgressBar
    assert issubclass(h_rich.RichProgressBar, ProgressBar)


def test_an_unknown_backend_is_refused_naming_the_choices() -> None:
    with pytest.raises(ValueError, match="'tqdm' or 'rich'"):
        ProgressBar(backend="curses")  # type: ignore[arg-type]
