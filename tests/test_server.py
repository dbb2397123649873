"""asyncdag inside a real ASGI server (uvicorn on 127.0.0.1), as a FastAPI handler would use it."""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from conftest import make_module

from asyncdag import Builder, Collect, Parallelizable, executors

pytestmark = [pytest.mark.slow, pytest.mark.timeout(60)]

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def word_stats_module() -> Any:
    def word(text: str) -> Parallelizable[str]:
        yield from text.split()

    async def looked_up(word: str) -> int:
        await asyncio.sleep(0.001)  # an awaited lookup per word
        return len(word)

    def crunched(looked_up: int, spin: int) -> int:
        total = 0
        for i in range(spin):  # CPU work, in a worker process
            total += (i * looked_up) % 7
        return looked_up

    def letters(crunched: Collect[int]) -> int:
        return sum(crunched)

    return make_module(word, looked_up, crunched, letters)


def make_app(dr: Any) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """A plain ASGI app: GET /health, POST /letters {"text": ..., "spin": ...}."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await dr.aclose()  # the driver's worker processes stop with the server
            await send({"type": "lifespan.shutdown.complete"})
            return
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["path"] == "/health":
            payload: dict[str, Any] = {"ok": True}
        else:
            request = json.loads(body)
            out = await dr.execute(["letters"], inputs=request)
            payload = {"letters": out["letters"]}
        data = json.dumps(payload).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": data})

    return app


async def serve(app: Any) -> AsyncIterator[str]:
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def base_url() -> AsyncIterator[str]:
    dr = (
        Builder()
        .with_modules(word_stats_module())
        .with_remote_executor(executors.ProcessExecutor(max_tasks=2))
        .build()
    )
    async for url in serve(make_app(dr)):
        yield url


async def test_concurrent_requests_each_get_their_own_result(base_url: str) -> None:
    texts = [" ".join(["w" * (1 + (i + j) % 5) for j in range(1 + i % 7)]) for i in range(40)]
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        responses = await asyncio.gather(
            *(client.post("/letters", json={"text": t, "spin": 100}) for t in texts)
        )
    assert [r.json()["letters"] for r in responses] == [len(t.replace(" ", "")) for t in texts]


async def test_server_answers_health_checks_while_a_heavy_request_runs(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await client.post("/letters", json={"text": "warm up", "spin": 10})  # workers started
        heavy = asyncio.create_task(
            client.post("/letters", json={"text": "a b c d", "spin": 3_000_000})
        )
        answered = 0
        started = time.monotonic()
        while not heavy.done() and time.monotonic() - started < 30:
            assert (await client.get("/health")).json() == {"ok": True}
            answered += 1
        assert (await heavy).json() == {"letters": 4}
    assert answered >= 5, "health checks were answered while the heavy request ran"


async def test_stopping_the_server_stops_the_drivers_worker_processes() -> None:
    import psutil

    dr = (
        Builder()
        .with_modules(word_stats_module())
        .with_remote_executor(executors.ProcessExecutor(max_tasks=2))
        .build()
    )
    async for url in serve(make_app(dr)):
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            response = await client.post("/letters", json={"text": "one two", "spin": 10})
            assert response.json() == {"letters": 6}

    def live_children() -> list[psutil.Process]:
        me = psutil.Process(os.getpid())
        return [c for c in me.children(recursive=True) if c.status() != "zombie"]

    assert await asyncio.to_thread(live_children) == []
