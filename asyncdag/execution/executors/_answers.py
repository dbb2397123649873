"""What a worker's answer means in the parent: a result, an error rebuilt with the worker's
traceback, or, when the worker died, the node and branch it was running."""

from __future__ import annotations

import pickle
from typing import Any

from ...errors import ExecutorError
from ..chunks import BranchChunk
from ..paths import format_path
from ._pickling import SharedKeys, loads_error
from ._wire import OK, UNLOADED
from ._workers import Worker
from .base import Unit


def crash_site(worker: Worker, unit: Unit, rid: int) -> tuple[str, str]:
    """(node, branch) the dead ``worker`` was running (``""`` where unknown): for a chunk of
    plain calls, worked out from the count of node calls it had started."""
    node, branch = worker.marked()
    running, at = worker.position()
    steps = unit.frame.steps if isinstance(unit, BranchChunk) else ()
    if isinstance(unit, BranchChunk) and steps and rid >= 0 and running == rid:
        position, step = divmod(at, len(steps))
        if position < len(unit.items):
            node, branch = steps[step].node.name, format_path(unit.where(position))
    return node, branch


def loads_result(unit: Unit, body: bytes) -> Any:
    try:
        return pickle.loads(body)
    except Exception as exc:
        where = f" in branch {unit.branch}" if unit.branch else ""
        raise ExecutorError(
            f"the result of node {unit.node!r}{where} could not be unpickled in the parent "
            f"process ({type(exc).__name__}: {exc}). Return values whose types and modules "
            "this process can import too."
        ) from exc


def outcome(worker: Worker, unit: Unit, shared: SharedKeys, status: int, body: bytes) -> Any:
    """The unit's result, or its error raised with the worker's traceback as a note."""
    if status == OK:
        return loads_result(unit, body)
    error, remote_traceback = loads_error(body)
    if remote_traceback:
        error.add_note(f"asyncdag: traceback in worker process {worker.pid}:\n{remote_traceback}")
    if status == UNLOADED:
        worker.unload(shared)
        where = f" in branch {unit.branch}" if unit.branch else ""
        error.add_note(
            f"asyncdag: a worker process could not load the work of node {unit.node!r}{where}: "
            "a module or a value it needs cannot be imported there. Make it importable from "
            "the parent's sys.path, or define it in a module loaded by file path."
        )
    raise error


def closed_error(unit: Unit | None) -> ExecutorError:
    if unit is None:
        return ExecutorError("this ProcessExecutor's aclose() stopped its workers meanwhile")
    where = f" in branch {unit.branch}" if unit.branch else ""
    return ExecutorError(
        f"node {unit.node!r}{where} was sent to a ProcessExecutor whose aclose() had already "
        "stopped the workers of this event loop. Close the executor (or the Driver) only "
        "after the executes using it have finished."
    )
