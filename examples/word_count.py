"""Count the words of every text in a folder: a streaming map-reduce over files.

Run it with ``python examples/word_count.py``. Each function is a node; its parameter names
are its dependencies. ``url`` fans out (one branch per file), ``total_words`` and
``per_document`` fan back in. Nothing blocks the event loop: the folder is listed and the
files are read on worker threads through anyio.
"""

import sys
from pathlib import Path, PurePath

import anyio

from asyncdag import Builder, Collect, Parallelizable


async def text_files(text_dir: str) -> list[str]:
    """The paths of the ``*.txt`` files in ``text_dir``, sorted by name."""
    return sorted([str(path) async for path in anyio.Path(text_dir).glob("*.txt")])


def url(text_files: list[str]) -> Parallelizable[str]:
    """Start one branch per text file."""
    yield from text_files


async def url_loaded(url: str) -> str:
    """The text of one file, read on a worker thread."""
    return await anyio.Path(url).read_text(encoding="utf-8")


def counts(url_loaded: str) -> int:
    """The number of whitespace-separated words in one text."""
    return len(url_loaded.split())


def doc_name(url: str) -> str:
    """The file name of one text, used as its label."""
    return PurePath(url).name


def total_words(counts: Collect[int]) -> int:
    """The words of every text together."""
    return sum(counts)


def per_document(doc_name: Collect[str], counts: Collect[int]) -> dict[str, int]:
    """Each text's word count; both lists come from one block, so they align by index."""
    return dict(zip(doc_name, counts, strict=True))


def main() -> None:
    """Count the texts beside this file and print a table."""
    dr = Builder().with_modules(sys.modules[__name__]).build()
    text_dir = Path(__file__).resolve().parent / "texts"
    out = dr.execute_sync(["per_document", "total_words"], inputs={"text_dir": str(text_dir)})
    per_doc: dict[str, int] = out["per_document"]
    width = max(len("document"), *(len(name) for name in per_doc))
    print(f"{'document':<{width}}  {'words':>6}")
    print(f"{'-' * width}  {'-' * 6}")
    for name, n in per_doc.items():
        print(f"{name:<{width}}  {n:>6}")
    print(f"{'-' * width}  {'-' * 6}")
    print(f"{'total':<{width}}  {out['total_words']:>6}")


if __name__ == "__main__":
    main()
