"""One worker process as the parent sees it: spawned, spoken to, and stopped.

Requests go in on the worker's stdin, answers come back on its stdout through an asyncio
subprocess protocol, each to the future (or the stream's queue) awaiting it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import mmap
import os
import pickle
import subprocess
import sys
from collections.abc import Callable
from typing import Any, cast

import aiologic

from . import _logs
from ._pickling import SharedKeys
from ._wire import (
    ANSWER,
    HEADER,
    LOG,
    MARKER_FD,
    MARKER_SIZE,
    PARENT_PID,
    POSITION,
    read_marker,
    read_position,
)
from .base import uninterrupted

DIED = -1  # the status a stream gets when its worker's answer pipe closes


# How long a worker gets to exit after SIGTERM before it is killed, and how long a cancelled
# unit on a worker shared with other work gets to stop before that worker is replaced.
TERMINATE_GRACE = 2.0
COPIED_MOST = 1 << 16  # a frame body this small is copied into its request's one write

# One worker spawn at a time in this process, whatever the loop or thread: uvloop refuses
# two at once from two loops ("Racing with another loop to spawn a process"). A lock that
# any loop in any thread can await, so it is process-wide by nature.
_SPAWNING = aiologic.Lock()


class Died(Exception):
    """The worker's answer pipe closed: it died (or is dying) with this request unanswered."""


class WorkerProtocol(asyncio.SubprocessProtocol):
    """Answers read off a worker's stdout as they arrive, each to the future awaiting it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.buffer = bytearray()
        self.waiting: dict[int, asyncio.Future[tuple[int, bytes]]] = {}
        self.streams: dict[int, asyncio.Queue[tuple[int, bytes]]] = {}  # answers of streams
        self.exited = loop.create_future()
        self.drained = loop.create_future()  # its stdout reached its end: every answer is in
        self.open = True
        self.answered = 0  # answers to requests so far (a started worker has answered once)

    def pipe_data_received(self, fd: int, data: bytes | bytearray) -> None:
        buffer = self.buffer
        buffer += data
        head = HEADER.size
        while len(buffer) >= head:
            (size,) = HEADER.unpack_from(buffer)
            if len(buffer) < head + size:
                return
            rid, status = ANSWER.unpack_from(buffer, head)
            body = bytes(buffer[head + ANSWER.size : head + size])
            del buffer[: head + size]
            if status == LOG:
                with contextlib.suppress(Exception):  # a bad record must not break the pool
                    _logs.reemit(body)
                continue
            future = self.waiting.pop(rid, None)
            if future is not None:
                self.answered += 1
                if not future.done():
                    future.set_result((status, body))
            elif (queue := self.streams.get(rid)) is not None:
                queue.put_nowait((status, body))

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        if fd == 1:  # after the last answer was read: whatever is unanswered never will be
            self.lost()

    def process_exited(self) -> None:
        if not self.exited.done():
            self.exited.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost()
        self.process_exited()

    def lost(self) -> None:
        self.open = False
        if not self.drained.done():
            self.drained.set_result(None)
        waiting, self.waiting = self.waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_exception(Died())
        for queue in self.streams.values():
            queue.put_nowait((DIED, b""))


class Worker:
    """One worker process (a fresh interpreter running ``worker.serve``).

    Requests go in on its stdin and answers come back on its stdout, through an asyncio
    subprocess transport: nothing polls, nothing blocks the loop. The user's prints come
    back among the answers (``_output``). A plain subprocess, not a multiprocessing
    one: the worker never re-imports the user's ``__main__``.
    """

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: WorkerProtocol,
        marker: mmap.mmap | None,
        live: Callable[[int], bool],
    ) -> None:
        self.transport, self.protocol, self.marker = transport, protocol, marker
        self.live = live  # whether the parent still keeps a shared part
        self.alive = True
        self.load = 0  # units running here
        self.streams = 0  # expanders stepped here
        self.holds: set[int] = set()  # keys of the shared parts this worker keeps
        self.output: _logs.Leftovers | None = None  # its fd 1 and 2, for after its death

    @classmethod
    async def start(cls, live: Callable[[int], bool]) -> Worker:
        loop = asyncio.get_running_loop()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)  # import what we import
        env[PARENT_PID] = str(os.getpid())
        env[_logs.LOG_LEVEL] = str(_logs.lowest_level())
        marker: mmap.mmap | None = None
        fds: tuple[int, ...] = ()
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("asyncdag-marker")
            os.ftruncate(fd, MARKER_SIZE)
            marker, fds = mmap.mmap(fd, MARKER_SIZE), (fd,)
            POSITION.pack_into(marker, 0, -1, 0)  # no chunk running
            env[MARKER_FD] = str(fd)
        output = _logs.Leftovers()
        env.update(output.env)
        fds = (*fds, *output.passed)
        protocol = WorkerProtocol(loop)
        try:
            async with _SPAWNING:  # cancelled while waiting here: nothing has started yet
                spawn = asyncio.ensure_future(
                    loop.subprocess_exec(
                        lambda: protocol,
                        sys.executable,
                        "-c",
                        "from asyncdag.execution.executors.worker import serve; serve()",
                        stdin=subprocess.PIPE,
                        stdout=subprocess.PIPE,
                        stderr=None,
                        env=env,
                        pass_fds=fds,
                    )
                )
                try:
                    transport, _ = await asyncio.shield(spawn)
                except asyncio.CancelledError:
                    # Cancelled mid-spawn: finish starting it, then stop it: it cannot outlive us.
                    await uninterrupted(_stop_when_started(spawn, protocol))
                    raise
        except BaseException:
            output.close()
            raise
        finally:
            for fd in fds:
                os.close(fd)  # the mapping and the worker keep their own
        worker = cls(transport, protocol, marker, live)
        worker.output = output
        return worker

    @property
    def usable(self) -> bool:
        """Alive as far as the loop knows: not exited, its answer pipe still open."""
        return self.alive and self.protocol.open and self.transport.get_returncode() is None

    @property
    def pid(self) -> int:
        return self.transport.get_pid()

    @property
    def idle(self) -> bool:
        return self.load == 0 and self.streams == 0

    def request(
        self,
        kind: int,
        shared: SharedKeys | None = None,
        payload: bytes | tuple[bytes, ...] | None = None,
        rid: int | None = None,
        queue: asyncio.Queue[tuple[int, bytes]] | None = None,
    ) -> tuple[int, asyncio.Future[tuple[int, bytes]]]:
        """Send a request; its id and the future of its answer (``Died`` if none comes).

        With ``queue``, the request opens a stream: its answers go there, one by one.
        """
        if not self.usable:
            raise Died()
        rid = next(request_ids) if rid is None else rid
        future = self.protocol.loop.create_future()
        if queue is None:
            self.protocol.waiting[rid] = future
        else:
            self.protocol.streams[rid] = queue
        installs = [entry for entry in (shared or {}).values() if entry[0] not in self.holds]
        used = {key for key, _ in (shared or {}).values()}
        drops = [key for key in self.holds if key not in used and not self.live(key)]
        self.holds.difference_update(drops)
        self.holds.update(key for key, _ in installs)
        head = pickle.dumps((kind, rid, [key for key, _ in installs], drops))
        bodies = [head, *(data for _, data in installs)]
        bodies += (payload,) if isinstance(payload, bytes) else payload or ()
        stdin = self._stdin()
        small = bytearray()  # small frames go in one write: one system call, one wake-up
        for data in bodies:
            small += HEADER.pack(len(data))
            if len(data) < COPIED_MOST:
                small += data
            else:  # a large one is written as it is, never copied into one message
                stdin.write(bytes(small))
                small.clear()
                stdin.write(data)
        if small:
            stdin.write(bytes(small))
        return rid, future

    def notify(self, kind: int, rid: int) -> None:
        """Send a request that is not answered (``CLOSE``, ``CANCEL``)."""
        if self.usable:
            head = pickle.dumps((kind, rid, [], []))
            self._stdin().write(HEADER.pack(len(head)) + head)

    def _stdin(self) -> asyncio.WriteTransport:
        return cast(asyncio.WriteTransport, self.transport.get_pipe_transport(0))

    def unload(self, shared: SharedKeys) -> None:
        """The worker failed to load a unit: it keeps none of the parts it was sent with it."""
        self.holds.difference_update(key for key, _ in shared.values())

    def marked(self) -> tuple[str, str]:
        """(node, branch) the worker said it was running, ``("", "")`` if unknown."""
        return read_marker(self.marker) if self.marker is not None else ("", "")

    def position(self) -> tuple[int, int]:
        """(request id, node calls started minus one) of the chunk it ran, ``(-1, 0)`` if none."""
        return read_position(self.marker) if self.marker is not None else (-1, 0)

    async def stop(self, *, force: bool = False) -> None:
        """End the process (SIGTERM when ``force``, else by closing its stdin) and reap it."""
        self.alive = False
        if self.transport.get_returncode() is None:
            stdin = self.transport.get_pipe_transport(0)
            if stdin is not None:
                stdin.close()
            if force:
                with contextlib.suppress(ProcessLookupError):
                    self.transport.terminate()
            try:
                async with asyncio.timeout(TERMINATE_GRACE):
                    await asyncio.shield(self.protocol.exited)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self.transport.kill()
        await asyncio.shield(self.protocol.exited)
        with contextlib.suppress(TimeoutError):  # answers written before it exited still count
            async with asyncio.timeout(TERMINATE_GRACE):
                await asyncio.shield(self.protocol.drained)
        self.transport.close()
        if self.output is not None:  # after every answer: what it left unread comes last
            self.output.collect()
            self.output = None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.transport.kill()
        if self.output is not None:
            self.output.close()
            self.output = None


request_ids = itertools.count()


async def _stop_when_started(spawn: asyncio.Future[Any], protocol: WorkerProtocol) -> None:
    with contextlib.suppress(Exception):
        transport, _ = await spawn
        await Worker(transport, protocol, None, lambda key: False).stop(force=True)
