"""A DAG whose second branch raises, for the CLI's error line."""

from asyncdag import Collect, Parallelizable


def item(items: list[str]) -> Parallelizable[str]:
    yield from items


def checked(item: str) -> str:
    if item == "bad":
        raise ValueError(f"cannot check {item!r}")
    return item


def checked_all(checked: Collect[str]) -> list[str]:
    return checked
