"""Hamilton's ``lifecycle.default``: the ready-made adapters asyncdag has."""

from .graceful import GracefulErrorAdapter as GracefulErrorAdapter
from .graceful import accept_error_sentinels as accept_error_sentinels

__all__ = ["GracefulErrorAdapter", "accept_error_sentinels"]
