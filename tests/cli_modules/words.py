"""A small word-count DAG for the CLI tests: each text is one branch."""

from asyncdag import Collect, Parallelizable


def text(texts: list[str]) -> Parallelizable[str]:
    """One branch per text."""
    yield from texts


def words(text: str) -> int:
    return len(text.split())


def total(words: Collect[int]) -> int:
    return sum(words)


def scaled(total: int, factor: float) -> float:
    return total * factor


def repeated(total: int, n: int) -> list[int]:
    return [total] * n


def shout(label: str, loud: bool) -> str:
    return label.upper() if loud else label


def described(raw) -> str:  # no annotation: the value stays text
    return f"{type(raw).__name__}:{raw}"


def limited(total: int, limit: int | None = None) -> int:
    return total if limit is None else min(total, limit)
