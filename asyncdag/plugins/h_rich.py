"""Hamilton's ``h_rich`` path: the rich progress bar."""

from ..lifecycle.progress import RichProgressBar as RichProgressBar

__all__ = ["RichProgressBar"]
