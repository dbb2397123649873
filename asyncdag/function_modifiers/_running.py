"""asyncdag's own modifiers of how a node runs: ``@timeout``, ``@retry``, ``@window``,
``@on_branch_error``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from ..graph.modifiers.meta import (
    Policy,
    Retry,
    record,
)
from ..graph.modifiers.streams import OnBranchError, Window, set_on_error, set_window
from .base import _F

__all__ = ["on_branch_error", "retry", "timeout", "window"]


def timeout(seconds: float) -> Callable[[_F], _F]:
    """Fail the node with ``NodeTimeoutError`` if one run of it takes longer than ``seconds``.

    ``async def`` nodes are cancelled at the deadline, and process jobs stop their worker. A
    thread cannot be stopped: a sync node running on a thread (inline sync nodes with a
    timeout run on one) is left to finish in the background, its result dropped.

    Raises:
        ValueError: ``seconds`` is not positive.
    """
    if not isinstance(seconds, int | float) or seconds <= 0:
        raise ValueError(f"@timeout seconds must be a positive number, not {seconds!r}")

    def decorate(fn: _F) -> _F:
        modifiers = record(fn)
        modifiers.policy = dataclasses.replace(modifiers.policy or Policy(), timeout=seconds)
        return fn

    return decorate


def retry(
    attempts: int,
    backoff: float = 0.1,
    on: tuple[type[BaseException], ...] | type[BaseException] = (Exception,),
) -> Callable[[_F], _F]:
    """Run the node up to ``attempts`` times while it raises one of ``on``.

    The wait before the second attempt is ``backoff`` seconds and doubles after each failure
    (built on tenacity). The last exception propagates as itself.

    Raises:
        ValueError: ``attempts`` is below 1 or ``backoff`` is negative.
    """
    if not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"@retry attempts must be a positive int, not {attempts!r}")
    if backoff < 0:
        raise ValueError(f"@retry backoff must be zero or more seconds, not {backoff!r}")
    kinds = on if isinstance(on, tuple) else (on,)

    def decorate(fn: _F) -> _F:
        modifiers = record(fn)
        policy = Retry(attempts, float(backoff), kinds)
        modifiers.policy = dataclasses.replace(modifiers.policy or Policy(), retry=policy)
        return fn

    return decorate


def window(size: int | None = None, seconds: float | None = None) -> Callable[[_F], _F]:
    """Run a function with ``Collect`` parameters once per window of consecutive branches.

    A window closes when ``size`` branches are in it or ``seconds`` have passed since its
    first item, whichever comes first; it runs once all its branches are done, after the
    window before it has run (a window whose branches were all skipped runs with empty
    lists). Its value (for ``execute`` and for nodes downstream) is the
    list of per-window results; ``stream()`` gives each as a ``"node"`` event, index ``(k,)``.

    Raises:
        ValueError: neither ``size`` nor ``seconds`` is given, or one is not positive.
    """
    if size is None and seconds is None:
        raise ValueError("@window needs size= (branches) or seconds= (or both)")
    if size is not None and (not isinstance(size, int) or size < 1):
        raise ValueError(f"@window size must be a positive int, not {size!r}")
    if seconds is not None and (not isinstance(seconds, int | float) or seconds <= 0):
        raise ValueError(f"@window seconds must be a positive number, not {seconds!r}")
    spec = Window(size, None if seconds is None else float(seconds))

    def decorate(fn: _F) -> _F:
        set_window(fn, spec)
        return fn

    return decorate


def on_branch_error(policy: str = "raise", max_failures: int | None = None) -> Callable[[_F], _F]:
    """On a ``Parallelizable``: ``"skip"`` leaves a failed branch out of its block's Collects.

    Each failure is logged on the ``asyncdag`` logger, reported to hooks and streams as an
    error; past ``max_failures`` failures the run fails with ``BranchFailuresError``.
    ``"raise"`` (the default) fails fast.

    Raises:
        ValueError: ``policy`` is not ``"skip"`` or ``"raise"``, or ``max_failures`` < 0.
    """
    if policy not in ("skip", "raise"):
        raise ValueError(f'@on_branch_error policy must be "skip" or "raise", not {policy!r}')
    if max_failures is not None and (not isinstance(max_failures, int) or max_failures < 0):
        raise ValueError(f"@on_branch_error max_failures must be an int >= 0, not {max_failures!r}")
    spec = OnBranchError(policy, max_failures)

    def decorate(fn: _F) -> _F:
        set_on_error(fn, spec)
        return fn

    return decorate
