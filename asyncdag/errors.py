"""Exceptions raised by asyncdag.

AsyncDagError
 ├── GraphError            the functions do not form a valid DAG (raised by ``build()``)
 ├── MissingInputError     ``execute`` was not given every input the requested outputs need
 ├── UnknownNodeError      a requested name is neither a node nor an input
 ├── InputTypeError        an input's value does not match a parameter reading it (a TypeError)
 ├── DataValidationError   a ``@check_output(importance="fail")`` check rejected a node's value
 ├── NodeCancelledError    a node raised ``CancelledError`` although its run was not cancelled
 ├── BranchFailuresError   an ``@on_branch_error("skip")`` block failed past ``max_failures``
 └── ExecutorError         infrastructure failed while running a node
      ├── SerializationError   a value could not be pickled for another process
      ├── WorkerCrashedError   a worker process died while running a node
      ├── NodeTimeoutError     a node ran past its ``@timeout``
      └── RemoteError          a worker's exception that could not be rebuilt as itself

An exception raised by a user's node is never wrapped: it propagates as itself, with a
PEP 678 note naming the node and the branch index path.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "AsyncDagError",
    "BranchFailuresError",
    "DataValidationError",
    "ExecutorError",
    "GraphError",
    "InputTypeError",
    "MissingInputError",
    "NodeCancelledError",
    "NodeTimeoutError",
    "RemoteError",
    "SerializationError",
    "UnknownNodeError",
    "WorkerCrashedError",
]


class AsyncDagError(Exception):
    """Base class of every error asyncdag raises itself."""

    _fields: tuple[object, ...] = ()

    def __reduce__(self) -> str | tuple[Any, ...]:
        # Errors cross process boundaries: rebuild them from their fields, keep their notes.
        if not self._fields:
            return super().__reduce__()
        return (_rebuild, (type(self), self._fields, self.__dict__))


def _rebuild(
    cls: type[AsyncDagError], fields: tuple[object, ...], state: dict[str, object]
) -> AsyncDagError:
    error = cls(*fields)
    error.__dict__.update(state)
    return error


class GraphError(AsyncDagError):
    """The functions do not form a valid DAG; the message names the functions and the fix.

    ``function`` is the ``module.qualname`` of the function at fault and ``node`` the node it
    makes, when the fault is one function's (None for a cycle, a clash of several...).
    """

    def __init__(
        self, message: str, *, function: str | None = None, node: str | None = None
    ) -> None:
        self._fields = (message,)
        self.function, self.node = function, node
        super().__init__(message)


class MissingInputError(AsyncDagError, ValueError):
    """Inputs needed by the requested outputs were not given; nothing has run."""

    def __init__(self, missing: Mapping[str, Sequence[str]]) -> None:
        self._fields = (missing,)
        self.missing: dict[str, list[str]] = {k: list(v) for k, v in missing.items()}
        lines = [
            f"  - {name!r}, needed by {', '.join(repr(n) for n in needers)}"
            for name, needers in sorted(self.missing.items())
        ]
        super().__init__(
            f"{len(self.missing)} input(s) missing; nothing was run:\n"
            + "\n".join(lines)
            + "\nPass them in `inputs=`, in `with_config(...)`, or give the node as `overrides=`."
        )


class UnknownNodeError(AsyncDagError, ValueError):
    """A requested output is not a node or an input of this graph."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        known = list(known)
        self._fields = (name, known)
        self.name = name
        self.suggestions: list[str] = difflib.get_close_matches(name, list(known), n=3)
        hint = (
            f" Did you mean {' or '.join(repr(s) for s in self.suggestions)}?"
            if self.suggestions
            else " See `Driver.list_available_variables()` for the names."
        )
        super().__init__(f"{name!r} is not a node or an input of this graph.{hint}")


class DataValidationError(AsyncDagError):
    """A ``@check_output`` check with ``importance="fail"`` rejected the value a node returned."""

    def __init__(self, node: str, failures: Sequence[tuple[str, str]]) -> None:
        self._fields = (node, list(failures))
        self.node = node
        self.failures: list[tuple[str, str]] = list(failures)  # (check name, its message)
        checks = "; ".join(f"{check}: {message}" for check, message in self.failures)
        super().__init__(
            f"node {node!r} failed {len(self.failures)} data check(s): {checks}. Fix the data "
            'upstream, or relax the check (importance="warn" only logs it).'
        )


class NodeCancelledError(AsyncDagError):
    """A node raised ``CancelledError`` while its execution was not being cancelled."""

    def __init__(self, node: str, branch: str) -> None:
        self._fields = (node, branch)
        self.node, self.branch = node, branch
        where = f" in branch {branch}" if branch else ""
        super().__init__(
            f"node {node!r}{where} raised CancelledError, but its execution was not cancelled "
            "(it may have awaited a task or future that something else cancelled). Catch it in "
            "the node, or raise another exception, so that its result does not go missing."
        )


class ExecutorError(AsyncDagError):
    """Infrastructure failed while running a node (serialization, a worker, a timeout)."""


class SerializationError(ExecutorError):
    """A value could not be serialized to cross into another process."""

    def __init__(self, node: str, what: str, type_name: str, path: str, reason: str) -> None:
        self._fields = (node, what, type_name, path, reason)
        self.node, self.what, self.type_name, self.path = node, what, type_name, path
        where = f" at {path}" if path else ""
        super().__init__(
            f"node {node!r}: {what} of type {type_name}{where} cannot be pickled ({reason}). "
            "Return or pass plain data, or run this node on a thread or inline executor."
        )


class WorkerCrashedError(ExecutorError):
    """A worker process died while it was running a node.

    On a cluster, ``worker`` names the worker that died and ``cluster`` says what the
    cluster did (its retries) and what to do; the exit code is then unknown (``None``).
    """

    def __init__(
        self,
        node: str,
        branch: str,
        exitcode: int | None,
        worker: str | None = None,
        cluster: str = "",
    ) -> None:
        self._fields = (node, branch, exitcode, worker, cluster)
        self.node, self.branch, self.exitcode = node, branch, exitcode
        self.worker, self.cluster = worker, cluster
        if worker is not None:
            of = f" of branch {branch}" if branch else ""
            # The parent cannot see inside a cluster's worker: the branch ran or waited there.
            super().__init__(
                f"node {node!r}{of} was running or queued on {worker} when it died. {cluster}"
            )
            return
        where = f" in branch {branch}" if branch else ""
        super().__init__(
            f"the worker process running node {node!r}{where} died (exit code {exitcode}). "
            "It may have run out of memory or crashed in native code; the pool was replaced."
        )


class NodeTimeoutError(ExecutorError):
    """A node ran longer than its ``@timeout``."""

    def __init__(self, node: str, branch: str, seconds: float) -> None:
        self._fields = (node, branch, seconds)
        self.node, self.branch, self.seconds = node, branch, seconds
        where = f" in branch {branch}" if branch else ""
        super().__init__(
            f"node {node!r}{where} did not finish within {seconds:g} s. "
            "Raise its @timeout or make it faster."
        )


class InputTypeError(AsyncDagError, TypeError):
    """An input's value does not match the annotation of the parameters reading it; nothing ran.

    Hamilton's rules: ``None`` and ``Any`` pass, a generic checks its container only
    (``list[int]`` accepts any list or tuple), a ``Union`` accepts any member.
    """

    def __init__(self, name: str, value_type: type, expected: Any, readers: Sequence[str]) -> None:
        self._fields = (name, value_type, expected, list(readers))
        self.name, self.value_type, self.expected = name, value_type, expected
        self.readers: list[str] = list(readers)
        by = ", ".join(repr(r) for r in self.readers)
        super().__init__(
            f"input {name!r} is a {_type_name(value_type)}, but {by} "
            f"{'reads' if len(self.readers) == 1 else 'read'} it as {name}: "
            f"{_type_name(expected)}; nothing was run. Pass a value of that "
            "type in `inputs=` (or `with_config(...)`), or change the annotation."
        )


def _type_name(tp: Any) -> str:
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__qualname__
    return repr(tp).replace("typing.", "")


class BranchFailuresError(AsyncDagError):
    """An ``@on_branch_error("skip")`` block had more than ``max_failures`` failed branches.

    ``failures`` lists them as ``(node, branch, error)``: the failing node, the branch index
    path and ``"Type: message"`` of its exception (plain strings, so the error pickles).
    """

    def __init__(
        self, expander: str, max_failures: int, failures: Sequence[tuple[str, str, str]]
    ) -> None:
        self._fields = (expander, max_failures, [tuple(f) for f in failures])
        self.expander, self.max_failures = expander, max_failures
        self.failures: list[tuple[str, str, str]] = [
            (str(n), str(b), str(e)) for n, b, e in failures
        ]
        listed = "; ".join(f"{b} ({n!r}: {e})" for n, b, e in self.failures[:5])
        more = f"; and {len(self.failures) - 5} more" if len(self.failures) > 5 else ""
        super().__init__(
            f"{len(self.failures)} branches of {expander!r} failed, more than its "
            f"@on_branch_error max_failures={max_failures}: {listed}{more}. Fix the failing "
            "items or raise max_failures."
        )


class RemoteError(ExecutorError):
    """An exception raised in a worker process that could not be rebuilt in this one."""

    def __init__(self, type_name: str, message: str, remote_traceback: str) -> None:
        self._fields = (type_name, message, remote_traceback)
        self.type_name, self.message, self.remote_traceback = type_name, message, remote_traceback
        super().__init__(
            f"{type_name}: {message} (raised in a worker process; it could not be rebuilt "
            "here, so it arrives as a RemoteError with its type name, message and traceback)"
        )
