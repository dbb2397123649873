"""A worker's output: fd 1 and fd 2 of a worker are pipes it reads itself (``_Capture``), so
``print``, ``sys.stdout.buffer``, ``os.write(1, ...)``, libc stdio and subprocesses all reach
the parent in the order they were written, a line at a time, and before the answer that
follows them (``drain``). The parent keeps the read ends too (``Leftovers``), to write out
what a worker that died abruptly left unread."""

from __future__ import annotations

import codecs
import contextlib
import faulthandler
import io
import os
import pickle
import select
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

OUTPUT_FDS = "ASYNCDAG_OUTPUT_FDS"  # environment variable: the pipes, "read,write,read,write"
NAMES = ("stdout", "stderr")


class _Stream(io.BufferedIOBase):
    """The binary side of a worker's ``sys.stdout`` or ``sys.stderr`` (its ``.buffer``):
    bytes written here, and those read off its descriptor's pipe, become whole lines sent
    to the parent; a partial line waits for its end, a flush or the next answer."""

    def __init__(self, capture: _Capture, name: str, fd: int) -> None:
        super().__init__()
        self.capture, self.stream, self.fd = capture, name, fd
        self.name = f"<{name}>"
        self.pending = b""
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.fd

    def write(self, data: ReadableBuffer) -> int:
        chunk = bytes(data)
        capture = self.capture
        if capture.forked:  # a child forked by a node: its writes go through the pipe
            os.write(self.fd, chunk)
            return len(chunk)
        with capture.lock:
            capture.read_pipes()  # what was written to the descriptor before this comes first
            self.add(chunk)
        return len(chunk)

    def flush(self) -> None:
        capture = self.capture
        if capture.forked:
            return
        with capture.lock:
            capture.read_pipes()
            self.send_all()

    def add(self, chunk: bytes) -> None:
        """Take ``chunk`` (under the capture's lock): send what ends a line, keep the rest."""
        data = self.pending + chunk
        cut = data.rfind(b"\n") + 1
        self.pending = data[cut:]
        if cut:
            self.send(data[:cut])

    def send_all(self) -> None:
        data, self.pending = self.pending, b""
        if data:
            self.send(data)

    def send(self, data: bytes) -> None:
        text = self.decoder.decode(data)
        if text:
            self.capture.send_text(self.stream, text)


class _Capture:
    """A worker's fd 1 and fd 2 as pipes it reads itself, on a thread (so a node writing more
    than a pipe holds never blocks) and before each answer (so nothing a node wrote arrives
    after its result). Every read and send happens under one lock: the parent gets the
    output in the order it was written."""

    def __init__(self, send: Callable[[bytes], None], where: Callable[[], tuple[str, str]]) -> None:
        self.send, self.where = send, where
        self.lock = threading.RLock()  # reentrant: a signal handler may print mid-write
        self.forked = False
        self.fallback = os.dup(2)  # the inherited stderr, when the parent cannot be told
        self.ended: set[int] = set()  # pipes at their end (fd 1 or 2 closed by the node)
        self.streams: dict[int, _Stream] = {}
        given = os.environ.pop(OUTPUT_FDS, "")  # the parent's pipes, or our own
        ends = [int(fd) for fd in given.split(",")] if given else [*os.pipe(), *os.pipe()]
        for fd, name, read_end, write_end in zip((1, 2), NAMES, ends[::2], ends[1::2], strict=True):
            os.dup2(write_end, fd)  # inheritable: subprocesses of nodes write here too
            os.close(write_end)
            os.set_inheritable(read_end, False)
            os.set_blocking(read_end, False)
            self.streams[read_end] = _Stream(self, name, fd)
        self.ready = select.poll()  # for reads under the lock; the thread has its own
        for read_end in self.streams:
            self.ready.register(read_end, select.POLLIN)
        self.wake_read, self.wake_write = os.pipe()
        self.fflush = _libc_fflush()
        self.thread = threading.Thread(target=self.pump, name="asyncdag-output", daemon=True)
        self.thread.start()

    def pump(self) -> None:
        """The reader thread: forward output as it is written, until ``close``."""
        poller = select.poll()
        for fd in (*self.streams, self.wake_read):
            poller.register(fd, select.POLLIN)
        dropped: set[int] = set()
        while True:
            ready = {fd for fd, _ in poller.poll()}
            if self.wake_read in ready:
                return
            with self.lock:
                self.read_pipes()
                for fd in self.ended - dropped:  # nobody can write to it any more
                    poller.unregister(fd)
                    dropped.add(fd)

    def forked_child(self) -> None:
        self.forked = True  # a child forked by a node has no reader thread: it writes to fds

    def read_pipes(self) -> None:
        """Read (under the lock) what the pipes hold now."""
        for fd, _ in self.ready.poll(0):
            stream = self.streams[fd]
            while True:
                try:
                    chunk = os.read(fd, 1 << 16)
                except BlockingIOError:
                    break
                except OSError:  # closed under us (a node closing every descriptor)
                    chunk = b""
                if not chunk:
                    self.ended.add(fd)
                    self.ready.unregister(fd)
                    break
                stream.add(chunk)

    def drain(self, timeout: float = -1) -> None:
        """Send everything written so far, partial lines included."""
        if self.forked:
            return
        self.fflush()  # what C code printed through libc stdio, into the pipes
        if not self.lock.acquire(timeout=timeout):
            return  # stuck elsewhere (a dying worker): better than hanging its exit
        try:
            self.read_pipes()
            for stream in self.streams.values():
                stream.send_all()
        finally:
            self.lock.release()

    def send_text(self, stream: str, text: str) -> None:
        node, branch = self.where()
        try:
            self.send(
                pickle.dumps({"stream": stream, "text": text, "node": node, "branch": branch})
            )
        except Exception:  # no parent to send to (the pipe closed): keep it on stderr
            with contextlib.suppress(OSError):
                os.write(self.fallback, text.encode(errors="replace"))

    def close(self) -> None:
        """The worker is exiting: send the rest, stop the thread, give fd 1 and 2 back."""
        self.drain()
        with contextlib.suppress(OSError):
            os.write(self.wake_write, b"\0")
        self.thread.join(timeout=2.0)  # stuck sending to a parent that stopped reading: go
        os.dup2(self.fallback, 1)  # later writes (interpreter shutdown) go to stderr
        os.dup2(self.fallback, 2)
        self.drain()  # what was written between the two


def _libc_fflush() -> Callable[[], None]:
    """``fflush(NULL)``: libc's buffered output, into the descriptors."""
    try:
        import ctypes

        fflush = ctypes.CDLL(None).fflush
    except (OSError, AttributeError):  # no libc to reach: nothing buffered there either
        return lambda: None
    fflush.argtypes = [ctypes.c_void_p]

    def flush() -> None:
        fflush(None)

    return flush


_capture: list[_Capture] = []  # the worker's capture, once ``capture`` installed it


def capture(send: Callable[[bytes], None], where: Callable[[], tuple[str, str]]) -> None:
    """In a worker: send what is written to ``sys.stdout`` and ``sys.stderr``, or to fd 1 and
    fd 2 themselves, to the parent, tagged with the node ``where`` names."""
    state = _Capture(send, where)
    if faulthandler.is_enabled():  # crash dumps go where they went, not into a dying pipe
        faulthandler.enable(file=state.fallback)
    _capture[:] = [state]
    out, err = state.streams.values()
    sys.stdout, sys.stderr = _text(out), _text(err)
    os.register_at_fork(after_in_child=state.forked_child)
    real_exit = os._exit

    def exit_after_drain(status: int) -> NoReturn:
        state.drain(timeout=1.0)  # a node ending its worker: what it wrote still arrives
        real_exit(status)

    os._exit = exit_after_drain


def _text(stream: _Stream) -> io.TextIOWrapper:
    text = io.TextIOWrapper(stream, encoding="utf-8", errors="backslashreplace", write_through=True)
    text.mode = "w"  # type: ignore[misc]  # as open() sets it
    return text


def drain() -> None:
    """In a worker, before an answer: what its units wrote reaches the parent first."""
    for state in _capture:
        state.drain()


def forked() -> bool:
    """In a process a node forked from a worker (it shares the worker's answer pipe)."""
    return any(state.forked for state in _capture)


def settle() -> None:
    """In a worker, before a logging record: output written before it goes first."""
    for state in _capture:
        if not state.forked:
            with state.lock:
                state.read_pipes()


def close() -> None:
    """In a worker that is exiting: send the rest of its output, stop reading it."""
    for state in _capture:
        state.close()


class Leftovers:
    """The parent's side of a worker's fd 1 and fd 2: the pipes, made here and passed to the
    worker, which reads them; the parent keeps their read ends, and once the worker has
    exited, writes what it left unread (a line written just before ``SIGKILL`` or
    ``abort()``) to its own ``sys.stdout`` and ``sys.stderr``."""

    def __init__(self) -> None:
        out, err = os.pipe(), os.pipe()
        self.passed = (*out, *err)  # to the worker (``pass_fds``), closed here once it started
        self.env = {OUTPUT_FDS: ",".join(map(str, self.passed))}
        self.kept = [(os.dup(out[0]), "stdout"), (os.dup(err[0]), "stderr")]
        for fd, _ in self.kept:
            os.set_blocking(fd, False)

    def collect(self) -> None:
        """The worker has exited: write out what it left in its pipes, and close them."""
        kept, self.kept = self.kept, []
        for fd, name in kept:
            chunks = []
            with contextlib.suppress(OSError):  # BlockingIOError: all read
                while chunk := os.read(fd, 1 << 16):
                    chunks.append(chunk)
            os.close(fd)
            stream = sys.stdout if name == "stdout" else sys.stderr
            if chunks and stream is not None:
                stream.write(b"".join(chunks).decode(errors="replace"))
                stream.flush()

    def close(self) -> None:
        """The worker never started, or its output is abandoned."""
        kept, self.kept = self.kept, []
        for fd, _ in kept:
            os.close(fd)
