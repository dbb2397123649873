"""The DAG behind the web app examples: an awaited lookup per word, CPU work in processes.

``word`` fans out one branch per word; each branch awaits ``looked_up`` (standing in for a
database or HTTP call) on the event loop; ``letters`` collects them. ``digest`` is CPU-bound
pure Python, tagged ``executor="cpu"`` so that an app can run it in worker processes while
the loop serves other requests.
"""

import asyncio
import hashlib

from asyncdag import Collect, Parallelizable, tag


def words(text: str, max_words: int = 1_000) -> list[str]:
    """The words of ``text``; none, or more than ``max_words``, is the caller's mistake."""
    found = text.split()
    if not found:
        raise ValueError("text has no words: send at least one word")
    if len(found) > max_words:
        raise ValueError(f"text has {len(found)} words, more than max_words={max_words}")
    return found


def word(words: list[str]) -> Parallelizable[str]:
    """One branch per word, in order."""
    yield from words


async def looked_up(word: str, lookup_ms: int = 1) -> int:
    """Stands in for an awaited call per word; a word takes ``lookup_ms`` per letter."""
    await asyncio.sleep(lookup_ms * len(word) / 1_000)
    return len(word)


def letters(looked_up: Collect[int]) -> int:
    """All the letters, once every word is looked up."""
    return sum(looked_up)


@tag(executor="cpu")
def digest(text: str, rounds: int = 200) -> str:
    """``rounds`` of SHA-256 over the text: CPU work, run off the loop."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    data = text.encode()
    for _ in range(rounds):
        data = hashlib.sha256(data).digest()
    return data.hex()
