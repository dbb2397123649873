"""Hamilton's ``h_tqdm`` path: the tqdm progress bar."""

from ..lifecycle.progress import ProgressBar as ProgressBar

__all__ = ["ProgressBar"]
