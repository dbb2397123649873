"""The seed's map-reduce, exactly as a Hamilton user writes it."""

from hamilton.htypes import Collect, Parallelizable

DOCS = {
    "a.txt": "the quick brown fox jumps over the lazy dog",
    "b.txt": "it was the best of times it was the worst of times",
    "c.txt": "call me ishmael",
    "d.txt": "",
}


def url(names: list[str]) -> Parallelizable[str]:
    yield from names


def url_loaded(url: str) -> str:
    return DOCS[url]


def counts(url_loaded: str) -> int:
    return len(url_loaded.split())


def total_words(counts: Collect[int]) -> int:
    return sum(counts)
