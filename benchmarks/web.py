"""The FastAPI example under load, against the same handler written with plain asyncio.

One uvicorn server process serves ``examples/fastapi_app`` (``POST /stats``: asyncdag, the
CPU-bound digest on a ``ProcessExecutor`` of 2) and ``POST /plain``: the same node functions
called by hand, the lookups with ``asyncio.gather`` and the digest on a
``concurrent.futures.ProcessPoolExecutor`` of 2. Clients in this process (aiohttp, on
uvloop, over loopback) send a bounded number of requests at 10, 50 and 200 at a time; the
two handlers take turns, so drift on a shared machine hits both, and each one's best repeat
counts (other load on the machine only ever slows a repeat down).

Run alone: ``python -m benchmarks --only web`` (``--quick`` for fewer requests).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import importlib.util
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from .session import LoopSession, uvloop_loop

Row = dict[str, Any]
ROOT = Path(__file__).resolve().parent.parent
ASYNCDAG, PLAIN = "asyncdag (FastAPI example)", "plain asyncio.gather"
PATHS = {ASYNCDAG: "/stats", PLAIN: "/plain"}
CONCURRENCY = (10, 50, 200)
TARGET = 0.9  # asyncdag's requests per second >= 90% of the plain handler's
TEXT = "the quick brown fox jumps over the lazy dog"


def available() -> bool:
    """Whether FastAPI, uvicorn and aiohttp are installed (``pip install -e '.[bench]'``)."""
    return all(importlib.util.find_spec(m) is not None for m in ("fastapi", "uvicorn", "aiohttp"))


def body(i: int) -> dict[str, Any]:
    """Request ``i``: ten words (about 4 ms of lookups each) and 200 SHA-256 rounds."""
    return {"text": f"{TEXT} {i}", "lookup_ms": 1, "rounds": 200}


def _example() -> Any:
    path = ROOT / "examples" / "fastapi_app" / "app.py"
    spec = importlib.util.spec_from_file_location("fastapi_example_app", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def serve(port: int) -> None:
    """The server process: the example app plus the plain handler, until SIGINT/SIGTERM."""
    import uvicorn
    from fastapi import Body

    example = _example()
    stats = example.text_stats
    app = example.create_app()
    # spawn, as asyncdag's workers: forking a process that runs threads and a loop is unsafe
    spawn = multiprocessing.get_context("spawn")
    pool = concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn)
    example_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        async with example_lifespan(app):
            try:
                yield
            finally:  # here, not after uvicorn.run: uvicorn ends on the SIGTERM it caught
                await asyncio.to_thread(pool.shutdown, cancel_futures=True)

    app.router.lifespan_context = lifespan

    @app.post("/plain")
    async def plain(inputs: dict[str, Any] = Body()) -> dict[str, Any]:  # noqa: B008
        text, lookup_ms, rounds = inputs["text"], inputs["lookup_ms"], inputs["rounds"]
        words = stats.words(text)
        loop = asyncio.get_running_loop()
        digest = loop.run_in_executor(pool, stats.digest, text, rounds)
        counts = asyncio.gather(*(stats.looked_up(w, lookup_ms) for w in words))
        found, hexdigest = await asyncio.gather(counts, digest)
        return {"words": words, "letters": sum(found), "digest": hexdigest}

    gc.freeze()  # as the example does when run as a server: short full collections
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _server() -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "benchmarks.web", str(port)]
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def _ready(url: str, timeout_s: float = 60) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession() as session:
        while True:  # bounded: the server has timeout_s to answer
            try:
                async with session.get(f"{url}/health") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientConnectionError:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(0.05)


async def _load(url: str, path: str, concurrency: int, total: int) -> tuple[float, list[float]]:
    """Seconds for ``total`` requests sent ``concurrency`` at a time; each one's latency."""
    import aiohttp

    latencies: list[float] = []
    numbers = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)  # a request that hangs is an error, not a wait
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def client() -> None:
            for i in numbers:  # shared: the clients take the next request number
                start = time.perf_counter()
                async with session.post(f"{url}{path}", json=body(i)) as response:
                    data = await response.json()
                latencies.append(time.perf_counter() - start)
                if response.status != 200 or data["letters"] != len(TEXT) - 8 + len(str(i)):
                    raise AssertionError(f"{path} answered {response.status}: {data}")

        start = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        return time.perf_counter() - start, latencies


def _quantile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def run(requests: int, repeats: int) -> list[Row]:
    """Requests per second and p50/p99 latency of both handlers at each concurrency."""
    rows: list[Row] = []
    session = LoopSession(uvloop_loop)
    try:
        with _server() as url:
            session.run_coro(_ready(url))
            for path in PATHS.values():  # warm up: worker processes, plans, connections
                session.run_coro(_load(url, path, 10, 200))
            for concurrency in CONCURRENCY:
                seconds: dict[str, list[float]] = {name: [] for name in PATHS}
                latencies: dict[str, list[float]] = {name: [] for name in PATHS}
                for _ in range(repeats):
                    for name, path in PATHS.items():
                        took, each = session.run_coro(_load(url, path, concurrency, requests))
                        seconds[name].append(took)
                        latencies[name] += each
                for name in PATHS:
                    rows.append(_row(name, concurrency, requests, seconds[name], latencies[name]))
    finally:
        session.close()
    for plain in (r for r in rows if r["system"] == PLAIN):
        ours = next(r for r in rows if r["system"] == ASYNCDAG and r["clients"] == plain["clients"])
        ours["ratio"] = ours["rps"] / plain["rps"]
    for row in rows:
        ratio = f"  {row['ratio']:.2f}x of plain" if "ratio" in row else ""
        print(
            f"  web  {row['system']:28} {row['clients']:4} clients: {row['rps']:7.0f} req/s, "
            f"p50 {row['p50_ms']:6.1f} ms, p99 {row['p99_ms']:6.1f} ms{ratio}"
        )
    found = verdict(rows)
    if found is not None:
        print(f"  {found['target']}: {'met' if found['met'] else 'not met'}. {found['detail']}")
    return rows


def _row(name: str, clients: int, requests: int, seconds: list[float], lat: list[float]) -> Row:
    ms = [s * 1e3 for s in lat]
    return {
        "system": name,
        "clients": clients,
        "requests": requests,
        "repeats": len(seconds),
        "rps": requests / min(seconds),  # best of the repeats: other load only slows a run
        "p50_ms": _quantile(ms, 50),
        "p99_ms": _quantile(ms, 99),
    }


def verdict(rows: list[Row]) -> Row | None:
    """Target: the example's requests per second within 10% of the plain handler's."""
    ours = [r for r in rows if "ratio" in r]
    if not ours:
        return None
    worst = min(ours, key=lambda r: r["ratio"])
    return {
        "target": f"FastAPI example >= {TARGET:.0%} of plain asyncio.gather's requests/s",
        "met": worst["ratio"] >= TARGET,
        "detail": "; ".join(
            f"{r['clients']} clients: {r['ratio']:.2f}x ({r['rps']:.0f} req/s)" for r in ours
        ),
    }


if __name__ == "__main__":
    serve(int(sys.argv[1]))
