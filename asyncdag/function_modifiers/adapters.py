"""Hamilton's ``function_modifiers.adapters``: ``@load_from``, ``@save_to``, ``@dataloader``,
``@datasaver`` (made in ``asyncdag.io``).
"""

from __future__ import annotations

from ..io._decorators import dataloader as dataloader
from ..io._decorators import datasaver as datasaver
from ..io._decorators import load_from as load_from
from ..io._decorators import save_to as save_to

__all__ = ["dataloader", "datasaver", "load_from", "save_to"]
