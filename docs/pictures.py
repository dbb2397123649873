"""Render the README's pictures with asyncdag itself: ``python docs/pictures.py [FOLDER]``.

Writes ``word_count.svg`` and ``word_count.png`` (the DAG that ``examples/word_count.py`` runs
for its two outputs) into FOLDER, by default this ``docs/`` folder. Needs Graphviz's ``dot``.
"""

import importlib.util
import sys
from pathlib import Path

from asyncdag import Builder

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    """Draw the word-count run into the folder given on the command line (or docs/)."""
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
    spec = importlib.util.spec_from_file_location("word_count", ROOT / "examples/word_count.py")
    assert spec is not None and spec.loader is not None
    word_count = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(word_count)
    dr = Builder().with_modules(word_count).build()
    for suffix in ("svg", "png"):
        target = folder / f"word_count.{suffix}"
        dr.visualize_execution(
            ["per_document", "total_words"],
            str(target),
            inputs={"text_dir": "examples/texts"},
            graphviz_kwargs={"graph_attr": {"dpi": "96"}},
        )
        print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")


if __name__ == "__main__":
    main()
