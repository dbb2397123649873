"""Branch index paths: where in the nesting of blocks a node runs (``url[3].page[0]``)."""

from __future__ import annotations

from typing import Any

# ((expander, index, item), ...), outermost first; () outside every block.
Path = tuple[tuple[str, int, Any], ...]


def format_path(path: Path) -> str:
    """``url[3].page[0]`` for a path."""
    return ".".join(f"{name}[{index}]" for name, index, _ in path)
