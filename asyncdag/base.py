"""Result builders: turn the requested outputs into what ``execute`` returns."""

from __future__ import annotations

from typing import Any

__all__ = ["DictResult"]


class DictResult:
    """Return the outputs as a ``dict`` of name to value (the default)."""

    @staticmethod
    def build_result(**outputs: Any) -> dict[str, Any]:
        """The outputs, as a dict."""
        return outputs
