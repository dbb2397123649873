"""What the cache does, in Hamilton's terms: behaviors of nodes and events of a run."""

from __future__ import annotations

import dataclasses
import enum
from datetime import UTC, datetime
from typing import Any, Literal, Protocol


class CachingBehavior(enum.Enum):
    """Hamilton's behaviors: DEFAULT reads and stores; RECOMPUTE always computes (and stores);
    DISABLE computes as if there were no cache; IGNORE is DISABLE whose value downstream keys
    leave out (clients, connections)."""

    DEFAULT = 1
    RECOMPUTE = 2
    DISABLE = 3
    IGNORE = 4

    @classmethod
    def from_string(cls, string: str) -> CachingBehavior:
        try:
            return cls[string.upper()]
        except KeyError as exc:
            raise ValueError(
                f"{string!r} is not a caching behavior: use one of {[b.name.lower() for b in cls]}"
            ) from exc


class CachingEventType(enum.Enum):
    """What the cache did for a node (``dr.cache.logs(level="debug")`` shows all of them)."""

    GET_RESULT = "get_result"  # a hit: the result came from the cache
    EXECUTE_NODE = "execute_node"  # the node ran
    SET_RESULT = "set_result"
    UNHASHABLE_DATA_VERSION = "unhashable_data_version"
    FAILED_STORAGE = "failed_storage"
    FAILED_EXECUTION = "failed_execution"


Actor = Literal["adapter", "metadata_store", "result_store"]


@dataclasses.dataclass(frozen=True)
class CachingEvent:
    """One thing the cache did, for one node (and one branch: ``task_id``)."""

    run_id: str
    actor: Actor
    event_type: CachingEventType
    node_name: str
    task_id: str | None = None
    msg: str | None = None
    value: Any = None
    timestamp: float = dataclasses.field(default_factory=lambda: datetime.now(UTC).timestamp())

    def __str__(self) -> str:
        parts = [self.node_name, *([self.task_id] if self.task_id else [])]
        parts += [self.actor, self.event_type.value, *([self.msg] if self.msg else [])]
        return "::".join(parts)


class Deferred(Protocol):
    """Many events logged as one (a block hit's), made when the logs are read."""

    def events(self) -> list[CachingEvent]: ...
