"""Progress bars: one for the nodes outside blocks and one per parallel block.

A block's bar counts branches done, with the items yielded so far and the branches in
flight beside it (a stream's length is not known in advance). In a terminal or a notebook
the bars are tqdm's (or rich's); written to a file or a pipe they become plain lines, at
most one per ``interval`` seconds and one when each block closes, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from ..execution.observe import Observer, RunInfo
from ..execution.paths import Path
from ..graph.node import Node

__all__ = ["ProgressBar", "RichProgressBar"]

Backend = Literal["tqdm", "rich"]


@dataclass
class _Block:
    yielded: int = 0
    done: int = 0
    bar: Any = None

    def line(self, name: str) -> str:
        flight = self.yielded - self.done
        return f"{name}: {self.done} branches done, {self.yielded} yielded, {flight} in flight"


@dataclass
class _RunState:
    started: float
    total: int
    done: int = 0
    bar: Any = None
    blocks: dict[str, _Block] = field(default_factory=dict)
    last_line: float = 0.0


class ProgressBar(Observer):
    """Show a run's progress; pass it to ``Builder.with_adapters``.

    Args:
        desc: the label of the run's bar (Hamilton's ``desc``).
        backend: ``"tqdm"`` (default) or ``"rich"``; both are optional extras
            (``pip install 'asyncdag[progress]'``).
        file: where to draw (default: stderr). Not a terminal: plain lines instead of bars.
        interval: seconds between two plain lines for one run.
        kwargs: passed on to ``tqdm.tqdm`` or ``rich.progress.Progress``.
    """

    def __init__(
        self,
        desc: str = "Graph execution",
        *,
        backend: Backend = "tqdm",
        file: IO[str] | None = None,
        interval: float = 1.0,
        **kwargs: Any,
    ) -> None:
        if backend not in ("tqdm", "rich"):
            raise ValueError(f"backend must be 'tqdm' or 'rich', not {backend!r}")
        self.desc, self.backend, self.interval, self.kwargs = desc, backend, interval, kwargs
        self._file = file
        self._runs: dict[str, _RunState] = {}  # one ProgressBar may watch concurrent runs
        self._rich: Any = None
        _require(backend)

    @property
    def file(self) -> IO[str]:
        return self._file if self._file is not None else sys.stderr

    @property
    def drawing(self) -> bool:
        """Whether bars are drawn (a terminal or a notebook) rather than plain lines."""
        isatty = getattr(self.file, "isatty", None)
        return bool(isatty and isatty()) or _in_notebook()

    # -- observer ---------------------------------------------------------------------------

    async def run_started(self, run: RunInfo) -> None:
        scopes = run.graph.analysis.scopes
        total = sum(1 for n in run.execution_path if not scopes.get(n))
        state = self._runs[run.run_id] = _RunState(time.monotonic(), total)
        if self.drawing:
            state.bar = self._open_bar(self.desc, total, "nodes", 0)

    async def node_finished(
        self,
        run: RunInfo,
        node: Node,
        path: Path,
        kwargs: Any,
        result: Any,
        error: BaseException | None,
    ) -> None:
        state = self._runs.get(run.run_id)
        if state is None or path:
            return
        state.done += 1
        if state.bar is not None:
            self._advance(state.bar, 1, f"{self.desc} -> {node.name}")
        else:
            self._maybe_line(state, force=False)

    async def item_yielded(self, run: RunInfo, expander: Node, path: Path) -> None:
        state = self._runs.get(run.run_id)
        if state is None:
            return
        block = state.blocks.get(expander.name)
        if block is None:
            block = state.blocks[expander.name] = _Block()
            if state.bar is not None:
                block.bar = self._open_bar(expander.name, None, "branches", len(state.blocks))
        block.yielded += 1

    async def branch_finished(
        self, run: RunInfo, expander: Node, path: Path, error: BaseException | None
    ) -> None:
        state = self._runs.get(run.run_id)
        block = state.blocks.get(expander.name) if state is not None else None
        if state is None or block is None:
            return
        block.done += 1
        if block.bar is not None:
            self._advance(block.bar, 1, None, yielded=block.yielded)
        else:
            self._maybe_line(state, force=False)

    async def block_finished(self, run: RunInfo, expander: Node, path: Path, branches: int) -> None:
        state = self._runs.get(run.run_id)
        if state is None:
            return
        if not path:  # the expander is one of the nodes outside blocks
            state.done += 1
            if state.bar is not None:
                self._advance(state.bar, 1, f"{self.desc} -> {expander.name}")
        if state.bar is None:
            self._maybe_line(state, force=True)

    async def run_finished(
        self, run: RunInfo, results: Mapping[str, Any] | None, error: BaseException | None
    ) -> None:
        state = self._runs.pop(run.run_id, None)
        if state is None:
            return
        outcome = "failed" if error is not None else "complete"
        if state.bar is None:
            seconds = time.monotonic() - state.started
            self._write(f"{self.desc}: {outcome} in {seconds:.2f}s; {self._summary(state)}")
            return
        self._advance(state.bar, 0, f"{self.desc} -> execution {outcome}")
        self._close_bar(state.bar)  # tqdm: the top bar first, or the lower ones overwrite it
        for block in state.blocks.values():
            self._close_bar(block.bar)

    # -- drawing ----------------------------------------------------------------------------

    def _summary(self, state: _RunState) -> str:
        parts = [f"{state.done}/{state.total} nodes"]
        parts += [b.line(name) for name, b in state.blocks.items()]
        return "; ".join(parts)

    def _maybe_line(self, state: _RunState, *, force: bool) -> None:
        now = time.monotonic()
        if force or now - state.last_line >= self.interval:
            state.last_line = now
            self._write(f"{self.desc}: {self._summary(state)}")

    def _write(self, line: str) -> None:
        self.file.write(line + "\n")
        self.file.flush()

    def _open_bar(self, desc: str, total: int | None, unit: str, line: int) -> Any:
        if self.backend == "tqdm":
            from tqdm.auto import tqdm

            options = {"position": line, "leave": True, "file": self.file, **self.kwargs}
            return tqdm(desc=desc, total=total, unit=" " + unit, **options)
        progress = self._progress()
        return (progress, progress.add_task(desc, total=total))

    def _advance(self, bar: Any, steps: int, desc: str | None, **postfix: int) -> None:
        if self.backend == "tqdm":
            if desc is not None:
                bar.set_description_str(desc, refresh=False)
            if postfix:
                bar.set_postfix(postfix, refresh=False)
            bar.update(steps)
            return
        progress, task = bar
        fields = {"description": desc} if desc is not None else {}
        progress.update(task, advance=steps, **fields)

    def _close_bar(self, bar: Any) -> None:
        if bar is None:
            return
        if self.backend == "tqdm":
            bar.close()
            return
        progress, task = bar
        progress.stop_task(task)
        if all(t.finished or not t.started for t in progress.tasks) and not self._runs:
            progress.stop()
            self._rich = None

    def _progress(self) -> Any:
        if self._rich is None:
            from rich.console import Console
            from rich.progress import Progress

            self._rich = Progress(console=Console(file=self.file), **self.kwargs)
            self._rich.start()
        return self._rich


class RichProgressBar(ProgressBar):
    """The ``rich`` progress bar (Hamilton's ``h_rich.RichProgressBar``)."""

    def __init__(self, run_desc: str = "", collect_desc: str = "", **kwargs: Any) -> None:
        super().__init__(run_desc or "Graph execution", backend="rich", **kwargs)
        self.collect_desc = collect_desc


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    return get is not None and type(get()).__name__ == "ZMQInteractiveShell"


def _require(backend: Backend) -> None:
    """Import the backend now (not first inside a run, where importing would block the loop)."""
    try:
        if backend == "tqdm":
            import tqdm.auto

            tqdm.auto.tqdm.get_lock()  # its first call creates a multiprocessing lock: blocking
        else:
            import rich.console
            import rich.progress  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"ProgressBar(backend={backend!r}) needs {backend}: pip install 'asyncdag[progress]'"
        ) from exc
