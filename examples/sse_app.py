"""Push partial results to the browser as Server-Sent Events while the DAG runs.

    pip install asyncdag fastapi uvicorn
    python examples/sse_app.py        # then: curl -N 'http://127.0.0.1:8000/letters?text=a+bb+ccc'

Each word's count is sent as soon as its branch finishes; the total comes last. A client that
disconnects cancels the run (leaving ``async for`` over ``dr.stream`` does that).
"""

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import word_stats
from fastapi import FastAPI
from fastapi.responses import StreamingResponse

from asyncdag import Builder

dr = Builder().with_modules(word_stats).build()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with dr:  # whatever the executors started stops with the app
        yield


app = FastAPI(lifespan=lifespan)


@app.get("/letters")
async def letters(text: str) -> StreamingResponse:
    async def events() -> AsyncIterator[str]:
        async for event in dr.stream(["letters"], inputs={"text": text}):
            if event.kind == "node" and event.node == "looked_up":
                data = {"word": event.index[0], "letters": event.value}
                yield f"event: word\ndata: {json.dumps(data)}\n\n"
            elif event.kind == "done":
                yield f"event: done\ndata: {json.dumps(event.value)}\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=8000)
