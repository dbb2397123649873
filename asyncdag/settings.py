"""Hamilton's ``settings``: the config keys that switch on optional behaviour."""

from __future__ import annotations

from .graph.meta import POWER_USER_MODE

__all__ = ["ENABLE_POWER_USER_MODE"]

ENABLE_POWER_USER_MODE = POWER_USER_MODE
"""``{settings.ENABLE_POWER_USER_MODE: True}`` in the config lets ``@resolve`` run, as in
Hamilton (the key is Hamilton's, ``"hamilton.enable_power_user_mode"``)."""
