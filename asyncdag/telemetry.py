"""Hamilton's telemetry switches. asyncdag sends no telemetry: there is nothing to turn off.

Hamilton code that disables telemetry (``telemetry.disable_telemetry()``, the
``HAMILTON_TELEMETRY_ENABLED`` variable) or reads its flags keeps working; the functions that
would send an event in Hamilton exist so that such code can refer to them, and raise if called.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "MAX_COUNT_SESSION",
    "disable_telemetry",
    "g_telemetry_enabled",
    "get_adapter_name",
    "is_telemetry_enabled",
    "send_event_json",
]

g_telemetry_enabled = False
"""Always False: asyncdag collects nothing (Hamilton's flag name)."""

MAX_COUNT_SESSION = 0
"""Hamilton's per-session event cap; asyncdag sends no events, so it bounds nothing."""


def disable_telemetry() -> None:
    """Hamilton's switch; asyncdag never sends telemetry, so this changes nothing."""


def is_telemetry_enabled() -> bool:
    """Always False: asyncdag sends no telemetry."""
    return False


def send_event_json(event_json: Any) -> None:
    """Hamilton sends a usage event here; asyncdag never does, and no code of it calls this.

    Raises:
        NotImplementedError: always.
    """
    raise NotImplementedError("asyncdag sends no telemetry, so it has no event to send")


def get_adapter_name(adapter: Any) -> str:
    """Hamilton names adapters for its usage events; asyncdag sends none.

    Raises:
        NotImplementedError: always.
    """
    raise NotImplementedError("asyncdag sends no telemetry, so it names no adapter for it")
