"""The FastAPI and aiohttp examples in real servers on 127.0.0.1, driven by httpx."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import uvicorn
from aiohttp import web
from conftest import HANG_GUARD, PATIENCE, children, make_module, wait_patiently

from asyncdag import Builder, Driver, executors

pytestmark = [pytest.mark.timeout(120)]  # blockbuster watches the servers' loops too

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
FRAMEWORKS = ("fastapi", "aiohttp")


def _load(framework: str) -> ModuleType:
    path = EXAMPLES / f"{framework}_app" / "app.py"
    spec = importlib.util.spec_from_file_location(f"{framework}_example_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # puts examples/ on sys.path, as when run as a script
    return module


@pytest.fixture(scope="module")
def apps() -> dict[str, ModuleType]:
    return {framework: _load(framework) for framework in FRAMEWORKS}


@contextlib.asynccontextmanager
async def serving(framework: str, app_module: ModuleType, dr: Driver) -> AsyncIterator[str]:
    """The example app around ``dr`` in a real server on a free port; its base URL."""
    if framework == "aiohttp":
        runner = web.AppRunner(app_module.create_app(dr), handler_cancellation=True)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            host, port = runner.addresses[0][:2]
            yield f"http://{host}:{port}"
        finally:
            await runner.cleanup()
        return
    async with uvicorn_serving(app_module.create_app(dr)) as url:
        yield url


@contextlib.asynccontextmanager
async def uvicorn_serving(app: Any) -> AsyncIterator[str]:
    """``app`` in a uvicorn server on a free port, lifespan on; its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(HANG_GUARD):
            while not server.started:
                assert not task.done(), "uvicorn stopped while starting"
                await asyncio.sleep(0.01)
        host, port = server.servers[0].sockets[0].getsockname()[:2]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        await task


def example_driver(app_module: ModuleType, *extra: ModuleType) -> Driver:
    """The example's DAG on its executors; ``extra`` modules replace some of its nodes."""
    cpu = executors.ProcessExecutor(max_tasks=2)
    builder = Builder().with_modules(app_module.text_stats, *extra).with_executor("cpu", cpu)
    return (builder.allow_module_overrides() if extra else builder).build()


def expected(text: str, rounds: int) -> dict[str, Any]:
    """The stats computed here, without asyncdag."""
    data = text.encode()
    for _ in range(rounds):
        data = hashlib.sha256(data).digest()
    return {"words": text.split(), "letters": len(text.replace(" ", "")), "digest": data.hex()}


class Gate:
    """A ``looked_up`` whose word ``"slow"`` waits until the test opens the gate."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.waiting = asyncio.Event()
        self.cancelled = asyncio.Event()

    def module(self) -> ModuleType:
        gate = self

        async def looked_up(word: str, lookup_ms: int = 1) -> int:
            if word == "slow":
                gate.waiting.set()
                try:
                    await gate.opened.wait()
                except asyncio.CancelledError:
                    gate.cancelled.set()
                    raise
            return len(word)

        return make_module(looked_up, name="gated")


async def sse_events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """(event name, data) of each Server-Sent Event of ``response``."""
    name = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))


@pytest.mark.slow
@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_thousand_requests_fifty_at_a_time_each_get_their_own_result(
    framework: str, apps: dict[str, ModuleType]
) -> None:
    app_module = apps[framework]
    texts = [" ".join(f"w{i}" + "x" * (j % 4) for j in range(1 + i % 6)) for i in range(1_000)]
    limit = asyncio.Semaphore(50)
    async with (
        serving(framework, app_module, example_driver(app_module)) as url,
        httpx.AsyncClient(base_url=url, timeout=HANG_GUARD) as client,
    ):

        async def ask(i: int, text: str) -> dict[str, Any]:
            async with limit:
                body = {"text": text, "rounds": 1 + i % 5}
                response = await client.post("/stats", json=body)
                assert response.status_code == 200, response.text
                result: dict[str, Any] = response.json()
                return result

        results = await asyncio.gather(*(ask(i, t) for i, t in enumerate(texts)))
    assert results == [expected(t, 1 + i % 5) for i, t in enumerate(texts)]


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_the_first_event_arrives_while_a_branch_is_still_running(
    framework: str, apps: dict[str, ModuleType]
) -> None:
    gate = Gate()
    app_module = apps[framework]
    seen: list[tuple[str, Any]] = []
    async with (
        serving(framework, app_module, example_driver(app_module, gate.module())) as url,
        httpx.AsyncClient(base_url=url, timeout=HANG_GUARD) as client,
        asyncio.timeout(HANG_GUARD),  # the slow branch waits for the first event: no hang
        client.stream("POST", "/stats/events", json={"text": "a bb slow"}) as response,
    ):
        assert response.headers["content-type"].startswith("text/event-stream")
        async for name, data in sse_events(response):
            seen.append((name, data))
            gate.opened.set()  # only now may the run finish
    first_name, first = seen[0]
    assert first_name == "node" and first["node"] in ("words", "digest", "looked_up")
    assert ("node", {"node": "looked_up", "index": [2], "value": 4}) in seen
    assert seen[-1] == ("done", {"node": None, "index": [], "value": expected("a bb slow", 200)})


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_client_leaving_mid_stream_cancels_the_run(
    framework: str, apps: dict[str, ModuleType]
) -> None:
    gate = Gate()
    app_module = apps[framework]
    async with (
        serving(framework, app_module, example_driver(app_module, gate.module())) as url,
        httpx.AsyncClient(base_url=url, timeout=HANG_GUARD) as client,
    ):
        async with client.stream("POST", "/stats/events", json={"text": "a slow"}) as response:
            await wait_patiently(gate.waiting)
            assert gate.waiting.is_set(), "the slow branch never started"
            async for _ in sse_events(response):
                break  # one event read, then the client hangs up
        await wait_patiently(gate.cancelled)
        assert gate.cancelled.is_set(), "the run went on after its client left"
        assert not gate.opened.is_set()
        assert (await client.get("/health")).json() == {"ok": True}


# (inputs, outputs, status, error type, words of its message) of requests a client gets wrong
BAD_REQUESTS = {
    "missing input": ({"txt": "a"}, [], 422, "MissingInputError", "'text'"),
    "input of the wrong type": ({"text": 3}, [], 422, "InputTypeError", "'text'"),
    "unknown output": ({"text": "a"}, ["nope"], 422, "UnknownNodeError", "'nope'"),
    "output inside a block": ({"text": "a"}, ["looked_up"], 422, "GraphError", "'letters'"),
    "a node rejects a value": ({"text": "  "}, [], 400, "ValueError", "no words"),
    "a node in a worker process rejects a value": (
        {"text": "a", "rounds": 0},
        ["digest"],
        400,
        "ValueError",
        "at least 1",
    ),
}


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_bad_input_is_answered_with_asyncdags_message_not_a_500(
    framework: str, apps: dict[str, ModuleType]
) -> None:
    app_module = apps[framework]
    answers: dict[str, httpx.Response] = {}
    async with (
        serving(framework, app_module, example_driver(app_module)) as url,
        httpx.AsyncClient(base_url=url, timeout=HANG_GUARD) as client,
    ):
        for case, (inputs, outputs, *_) in BAD_REQUESTS.items():
            answers[case] = await client.post("/stats", json=inputs, params={"output": outputs})
        assert (await client.get("/health")).json() == {"ok": True}
    for case, (_, _, status, error, says) in BAD_REQUESTS.items():
        response = answers[case]
        assert response.status_code == status, (case, response.text)
        body = response.json()
        assert body["error"] == error and says in body["message"], (case, body)
        assert "Traceback" not in response.text, case
    node_notes = answers["a node in a worker process rejects a value"].json()["notes"]
    assert node_notes == ["asyncdag: raised by node 'digest'"]


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_request_refused_before_running_is_refused_before_streaming(
    framework: str, apps: dict[str, ModuleType]
) -> None:
    app_module = apps[framework]
    async with (
        serving(framework, app_module, example_driver(app_module)) as url,
        httpx.AsyncClient(base_url=url, timeout=HANG_GUARD) as client,
    ):
        response = await client.post("/stats/events", json={"text": 3})
    assert response.status_code == 422
    assert response.json()["error"] == "InputTypeError"


@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_a_node_rejecting_a_value_mid_stream_ends_the_stream_with_an_error_event(
    framework: str, apps: dict[str, ModuleType]
) -> None:
    app_module = apps[framework]
    async with (
        serving(framework, app_module, example_driver(app_module)) as url,
        httpx.AsyncClient(base_url=url, timeout=HANG_GUARD) as client,
        client.stream("POST", "/stats/events", json={"text": " "}) as response,
    ):
        assert response.status_code == 200
        events = [event async for event in sse_events(response)]
    name, data = events[-1]
    assert name == "error"
    assert data["error"] == "ValueError" and "no words" in data["message"]
    assert data["notes"] == ["asyncdag: raised by node 'words'"]


@pytest.mark.slow
@pytest.mark.allow_blocking  # psutil reads /proc on the loop: a thread for it would be counted
@pytest.mark.parametrize("framework", FRAMEWORKS)
async def test_stopping_the_server_leaves_no_task_thread_or_process(
    framework: str, apps: dict[str, ModuleType]
) -> None:
    threads_before = set(threading.enumerate())
    app_module = apps[framework]
    dr = example_driver(app_module)
    async with (
        serving(framework, app_module, dr) as url,
        httpx.AsyncClient(base_url=url, timeout=HANG_GUARD) as client,
    ):
        response = await client.post("/stats", json={"text": "a bb"})
        assert response.json() == expected("a bb", 200)
        assert children(), "the digest ran in worker processes"  # (no thread of our own)
        async with client.stream("POST", "/stats/events", json={"text": "a bb"}) as stream:
            async for _ in sse_events(stream):
                break  # a stream left open while the server stops
    assert children() == []
    assert asyncio.all_tasks() == {asyncio.current_task()}
    left = set(threading.enumerate()) - threads_before
    for thread in left:  # asyncio's waitpid threads end a moment after their worker's exit
        thread.join(PATIENCE)
    assert [t for t in left if t.is_alive()] == []


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_example_runs_with_one_command_and_stops_cleanly_on_ctrl_c(framework: str) -> None:
    port = _free_port()
    env = {**os.environ, "PORT": str(port)}
    script = EXAMPLES / f"{framework}_app" / "app.py"
    with subprocess.Popen([sys.executable, str(script)], env=env, stderr=subprocess.PIPE) as app:
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=PATIENCE) as client:
                for _ in range(int(HANG_GUARD / 0.1)):
                    try:
                        client.get("/health")
                        break
                    except httpx.TransportError:
                        assert app.poll() is None, "the example exited while starting"
                        threading.Event().wait(0.1)
                response = client.post("/stats", json={"text": "one two"})
            assert response.json() == expected("one two", 200)
        finally:
            app.send_signal(signal.SIGINT)
            _, err = app.communicate(timeout=HANG_GUARD)
    assert app.returncode in (0, -signal.SIGINT), err
    assert b"Traceback" not in err, err.decode()


def readme_web_snippet() -> str:
    """The Python snippet of the README's "Using asyncdag in a web app" section."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Using asyncdag in a web app", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.slow
async def test_the_readmes_web_snippet_runs_as_written() -> None:
    module = ModuleType("readme_web_app")
    snippet = await asyncio.to_thread(readme_web_snippet)
    sys.path.insert(0, str(EXAMPLES))  # where the README says to save it, beside word_stats
    try:
        code = compile(snippet, "README.md", "exec")
        await asyncio.to_thread(exec, code, module.__dict__)  # its imports read files
        async with (
            uvicorn_serving(module.app) as url,
            httpx.AsyncClient(base_url=url, timeout=HANG_GUARD) as client,
        ):
            response = await client.post("/letters", params={"text": "a bb ccc"})
    finally:
        sys.path.remove(str(EXAMPLES))
    assert response.json() == {"letters": 6}
    assert await asyncio.to_thread(children) == []
