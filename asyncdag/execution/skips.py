"""``@on_branch_error("skip")``: a failed branch is reported and left out, the run goes on.

A skipping branch holds its first failure in ``HELD`` (a context variable its tasks inherit)
instead of making it the run's first error, so a skipped failure never becomes what
``execute`` raises.
"""

from __future__ import annotations

import logging
import reprlib
import traceback
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..errors import BranchFailuresError
from ..graph.modifiers.streams import OnBranchError
from ..graph.node import Node
from .paths import Path, format_path

if TYPE_CHECKING:
    from .scheduler import Run

log = logging.getLogger("asyncdag")

_short = reprlib.Repr()
_short.maxstring = _short.maxother = 60

# The first failure of the skipping branch this task runs in: (node, exception).
HELD: ContextVar[list[tuple[str, BaseException]] | None] = ContextVar("asyncdag_held", default=None)


@dataclass(frozen=True, slots=True)
class BranchFailed:
    """A branch's row, from a worker, when the branch failed under the skip policy."""

    node: str
    error: BaseException


def first_leaf(error: BaseException) -> BaseException:
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    return error


def failure_of(
    held: list[tuple[str, BaseException]], expander: str, exc: BaseException
) -> tuple[str, BaseException]:
    """The failing node and its exception for a skipped branch that raised ``exc``."""
    return held[0] if held else (expander, first_leaf(exc))


def with_traceback(error: BaseException) -> BaseException:
    """``error`` with its traceback text as a note (a worker's traceback does not travel)."""
    text = "".join(traceback.format_exception(error)).rstrip()
    error.add_note(f"asyncdag: traceback in worker process:\n{text}")
    return error


class Skips:
    """One skipping block's failures: each logged and reported; too many fail the run."""

    def __init__(self, run: Run, expander: Node, policy: OnBranchError) -> None:
        self.run, self.expander, self.policy = run, expander, policy
        self.failures: list[tuple[str, str, str]] = []  # kept only up to max_failures + 1

    async def skipped(self, node: str, path: Path, error: BaseException) -> None:
        """Branch ``path`` failed in ``node`` with ``error``: leave it out, or end the run."""
        branch = format_path(path)
        item = _short.repr(path[-1][2])
        most = self.policy.max_failures
        if most is not None:  # an endless stream without a bound keeps nothing per failure
            self.failures.append((node, branch, f"{type(error).__name__}: {error}"))
        log.warning(
            "asyncdag: skipped branch %s (item %s): node %r raised %s: %s",
            branch,
            item,
            node,
            type(error).__name__,
            error,
        )
        run = self.run
        if run.observer is not None:
            assert run.info is not None
            await run.observer.branch_skipped(run.info, self.expander, node, path, error)
        if most is not None and len(self.failures) > most:
            HELD.set(None)  # this error is the run's own
            too_many = BranchFailuresError(self.expander.name, most, self.failures)
            run.fail(too_many, None, ())
            raise too_many from error
