"""Nodes for the web examples: a branch per word, each with an awaited lookup."""

import asyncio

from asyncdag import Collect, Parallelizable


def word(text: str) -> Parallelizable[str]:
    """One branch per word of the text."""
    yield from text.split()


async def looked_up(word: str, delay: float = 0.02) -> int:
    """Stands in for an awaited call per word (a database, an HTTP API); long words take longer."""
    await asyncio.sleep(delay * len(word))
    return len(word)


def letters(looked_up: Collect[int]) -> int:
    """All the letters, once every word is looked up."""
    return sum(looked_up)
