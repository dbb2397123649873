"""examples/sse_app.py in a real uvicorn server: word counts arrive as Server-Sent Events."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

pytestmark = [pytest.mark.timeout(60), pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def sse_app() -> Any:
    sys.path.insert(0, str(EXAMPLES))  # the example imports word_stats beside it
    try:
        return importlib.import_module("sse_app")
    finally:
        sys.path.remove(str(EXAMPLES))


async def serve(app: Any) -> AsyncIterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        (sock,) = server.servers[0].sockets
        host, port = sock.getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


async def read_events(url: str, text: str) -> list[tuple[float, str, Any]]:
    """(seconds since the request, event name, data) of each Server-Sent Event."""
    events: list[tuple[float, str, Any]] = []
    start = time.perf_counter()
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("GET", f"{url}/letters", params={"text": text}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        name = ""
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
                events.append((time.perf_counter() - start, name, data))
    return events


@pytest.mark.allow_blocking  # uvicorn's start-up reads files; the app itself never blocks
async def test_each_word_arrives_as_an_event_before_the_run_finishes(sse_app: Any) -> None:
    text = "a bb " + "c" * 50  # the last word's lookup takes a second
    async for url in serve(sse_app.app):
        events = await read_events(url, text)
    names = [name for _, name, _ in events]
    assert names == ["word", "word", "word", "done"]
    assert sorted(data["word"] for _, name, data in events if name == "word") == [0, 1, 2]
    assert events[-1][2] == {"letters": 53}
    first, done = events[0][0], events[-1][0]
    assert done - first > 0.5, "the first word should come long before the slow one ends"
