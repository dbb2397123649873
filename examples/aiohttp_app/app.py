"""asyncdag in an aiohttp app: the FastAPI example's DAG and endpoints, on aiohttp.web.

    pip install asyncdag aiohttp
    python examples/aiohttp_app/app.py
    curl -X POST localhost:8080/stats -d '{"text": "a bb ccc"}'
    curl -N -X POST localhost:8080/stats/events -d '{"text": "a bb ccc", "lookup_ms": 300}'

``POST /stats`` answers the request's outputs as JSON; ``POST /stats/events`` streams each
node's value as it finishes as Server-Sent Events, then ``done`` with the result. The JSON
body is the DAG's inputs; ``?output=`` picks the outputs. Bad input is answered 422 (or 400
for a value a node rejects) with asyncdag's message. The server cancels a handler whose
client went away (``handler_cancellation=True``), which cancels its run.
"""

import gc
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from asyncdag import Builder, Driver, executors
from asyncdag.errors import GraphError, InputTypeError, MissingInputError, UnknownNodeError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/, for the DAG
import text_stats

log = logging.getLogger(__name__)

OUTPUTS = ["words", "letters", "digest"]
# Mistakes in the request itself: asyncdag raises them before anything runs.
REQUEST_ERRORS = (MissingInputError, InputTypeError, UnknownNodeError, GraphError)
DRIVER = web.AppKey("driver", Driver)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_driver() -> Driver:
    """The DAG, with the CPU-bound ``digest`` node on two worker processes."""
    cpu = executors.ProcessExecutor(max_tasks=2)
    return Builder().with_modules(text_stats).with_executor("cpu", cpu).build()


def error_body(exc: Exception) -> dict[str, Any]:
    """What the client sees: the error's type, message and notes (never a traceback)."""
    notes = [n for n in getattr(exc, "__notes__", []) if "Traceback" not in n]
    return {"error": type(exc).__name__, "message": str(exc), "notes": notes}


@web.middleware
async def rejections(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A refused request is 422, a value a node rejected is 400: the caller's, not a 500."""
    try:
        return await handler(request)
    except REQUEST_ERRORS as exc:
        status = 422
        error: Exception = exc
    except ValueError as exc:
        status, error = 400, exc
    log.info("rejected %s: %s", request.path, error)
    return web.json_response(error_body(error), status=status)


async def parsed(request: web.Request) -> tuple[list[str], dict[str, Any]]:
    """The outputs (``?output=``) and the inputs (the JSON body) of a request."""
    inputs = await request.json()  # not JSON: a ValueError, so a 400
    if not isinstance(inputs, dict):
        body = {"error": "BadRequest", "message": "the body must be a JSON object of inputs"}
        raise web.HTTPUnprocessableEntity(text=json.dumps(body), content_type="application/json")
    return request.query.getall("output", OUTPUTS), inputs


async def stats(request: web.Request) -> web.Response:
    outputs, inputs = await parsed(request)
    # execute refuses a bad request before running anything; the middleware answers it
    result = await request.app[DRIVER].execute(outputs, inputs=inputs)
    return web.json_response(result)


def sse(kind: str, data: Any) -> bytes:
    """One Server-Sent Event (``data`` as one line of JSON)."""
    return f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode()


async def stats_events(request: web.Request) -> web.StreamResponse:
    outputs, inputs = await parsed(request)
    request.app[DRIVER].validate_execution(outputs, inputs=inputs)  # before the stream starts
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    try:
        # A client that disconnects cancels this handler, which cancels the run.
        async for event in request.app[DRIVER].stream(outputs, inputs=inputs):
            if event.kind in ("node", "done"):
                data = {"node": event.node, "index": list(event.index), "value": event.value}
                await response.write(sse(event.kind, data))
    except ValueError as exc:  # the response has started: the error is the last event
        await response.write(sse("error", error_body(exc)))
    await response.write_eof()
    return response


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


def create_app(dr: Driver | None = None) -> web.Application:
    """The app around ``dr`` (by default ``build_driver()``); the app's lifetime owns it."""
    app = web.Application(middlewares=[rejections])
    app[DRIVER] = dr if dr is not None else build_driver()

    async def driver_running(app: web.Application) -> AsyncIterator[None]:
        async with app[DRIVER]:  # starts the worker processes; stops them, and every run
            yield

    app.cleanup_ctx.append(driver_running)
    app.router.add_post("/stats", stats)
    app.router.add_post("/stats/events", stats_events)
    app.router.add_get("/health", health)
    return app


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    gc.freeze()  # what is loaded by now lives as long as the server: short full collections
    web.run_app(create_app(), host="127.0.0.1", port=port, handler_cancellation=True)
