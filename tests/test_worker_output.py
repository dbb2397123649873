"""What a node in a worker process writes at the descriptor level (``os.write``, libc stdio, a
subprocess inheriting its stdout) reaches the parent's ``sys.stdout`` / ``sys.stderr`` in order
with its prints and before its result; ``sys.stdout.buffer`` works; nothing is lost or leaks."""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import HANG_GUARD, build, children

from asyncdag import Collect, Parallelizable, executors, tag
from asyncdag.errors import WorkerCrashedError
from asyncdag.execution.executors import _logs

pytestmark = pytest.mark.timeout(60)


async def no_worker_left() -> None:
    assert await asyncio.to_thread(children) == []


async def run_alone(fn: Any, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """Run ``fn`` as a node on a one-worker ProcessExecutor; what the parent's streams got."""
    node = tag(executor="cpu")(fn)
    dr = build(node, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr, asyncio.timeout(HANG_GUARD):
        await dr.execute([fn.__name__])
        captured = capsys.readouterr()  # before the worker stops: nothing may arrive late
    await no_worker_left()
    return captured.out, captured.err


async def test_raw_writes_to_fd_1_reach_the_parents_stdout_in_order_with_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def mixed() -> int:
        for k in range(20):
            print(f"print {k}")
            os.write(1, f"raw {k}\n".encode())
        return 1

    out, _ = await run_alone(mixed, capsys)
    assert out.splitlines() == [f"{kind} {k}" for k in range(20) for kind in ("print", "raw")]


async def test_raw_writes_to_fd_2_reach_the_parents_stderr_in_order_with_prints(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def mixed() -> int:
        for k in range(20):
            print(f"print {k}", file=sys.stderr)
            os.write(2, f"raw {k}\n".encode())
        return 1

    out, err = await run_alone(mixed, capsys)
    assert (out, err.splitlines()) == (
        "",
        [f"{s} {k}" for k in range(20) for s in ("print", "raw")],
    )


async def test_what_c_code_prints_through_libc_stdio_arrives_before_the_nodes_result(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def from_c() -> int:
        import ctypes

        print("before")
        ctypes.CDLL(None).puts(b"from libc")  # buffered by libc: fd 1 is a pipe
        return 1

    out, _ = await run_alone(from_c, capsys)
    assert out == "before\nfrom libc\n"


async def test_a_partial_line_written_to_fd_1_arrives_before_the_nodes_result(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def progress() -> int:
        os.write(1, b"working")
        print("...", end="")
        os.write(1, b" done")
        return 1

    out, _ = await run_alone(progress, capsys)
    assert out == "working... done"


async def test_a_subprocess_started_by_a_node_writes_to_the_parents_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def shell() -> int:
        import subprocess

        subprocess.run(["echo", "from echo"], check=True)
        subprocess.run(["sh", "-c", "echo to stderr >&2"], check=True)
        return 1

    out, err = await run_alone(shell, capsys)
    assert (out, err) == ("from echo\n", "to stderr\n")


async def test_a_node_writing_more_than_a_pipe_buffer_to_fd_1_does_not_block(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def chatty() -> int:
        line = b"x" * 99 + b"\n"
        for _ in range(10):
            os.write(1, line * 1000)  # 100 KB a write, more than a pipe holds
        return 1

    out, _ = await run_alone(chatty, capsys)
    assert out == ("x" * 99 + "\n") * 10_000


async def test_bytes_written_to_sys_stdout_buffer_reach_the_parent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def binary() -> int:
        sys.stdout.write("text, ")
        sys.stdout.buffer.write(b"bytes\n")
        sys.stdout.buffer.flush()
        sys.stderr.buffer.write("d\u00e9j\u00e0 vu\n".encode())
        sys.stdout.writelines(["a\n", "b\n"])
        sys.stdout.flush()
        return 1

    out, err = await run_alone(binary, capsys)
    assert (out, err) == ("text, bytes\na\nb\n", "d\u00e9j\u00e0 vu\n")


async def test_a_workers_stdout_looks_like_a_real_stream(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @tag(executor="cpu")
    def looks() -> tuple[Any, ...]:
        out, err = sys.stdout, sys.stderr
        return (
            out.fileno(), err.fileno(), out.buffer.fileno(), out.isatty(), out.buffer.isatty(),
            out.encoding, out.writable(), err.writable(),
        )  # fmt: skip

    dr = build(looks, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr, asyncio.timeout(HANG_GUARD):
        result = await dr.execute(["looks"])
    assert result["looks"] == (1, 2, 1, False, False, "utf-8", True, True)
    await no_worker_left()


async def test_output_of_a_branch_carries_its_node_and_branch(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    seen: list[tuple[str, str, str]] = []
    reemit = _logs.reemit

    def recording(body: bytes) -> None:
        fields = pickle.loads(body)
        if "stream" in fields:
            seen.append((fields["text"], fields["node"], fields["branch"]))
        reemit(body)

    monkeypatch.setattr(_logs, "reemit", recording)

    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int) -> int:
        print(f"print {item}")
        os.write(1, f"raw {item}\n".encode())
        return item

    def results(work: Collect[int]) -> list[int]:
        return list(work)

    dr = build(item, work, results, remote=executors.ProcessExecutor(max_tasks=1, batch_size=1))
    async with dr, asyncio.timeout(HANG_GUARD):
        await dr.execute(["results"], inputs={"n": 3})
    lines = [(line, node, branch) for text, node, branch in seen for line in text.splitlines()]
    assert lines == [
        (f"{kind} {k}", "work", f"item[{k}]") for k in range(3) for kind in ("print", "raw")
    ]
    await no_worker_left()


async def test_what_a_module_prints_when_a_worker_imports_it_reaches_the_parent(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    source = (
        "import os, sys\n"
        "print('imported', 'in worker' if 'asyncdag.execution.executors.worker' in sys.modules"
        " else 'here')\n"
        "os.write(1, b'raw at import\\n')\n"
        "def loud() -> int:\n"
        "    return 1\n"
    )
    await asyncio.to_thread((tmp_path / "loud_plugin.py").write_text, source)
    monkeypatch.syspath_prepend(str(tmp_path))
    loud_plugin = await asyncio.to_thread(importlib.import_module, "loud_plugin")
    capsys.readouterr()
    from asyncdag import Builder

    dr = (
        Builder()
        .with_modules(loud_plugin)
        .with_local_executor(executors.ProcessExecutor(max_tasks=1))
        .build()
    )
    async with dr, asyncio.timeout(HANG_GUARD):
        assert await dr.execute(["loud"]) == {"loud": 1}
        out = capsys.readouterr().out
    assert out == "imported in worker\nraw at import\n"
    await no_worker_left()


async def test_a_partial_line_written_just_before_a_worker_dies_reaches_the_parent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @tag(executor="cpu")
    def dying() -> int:
        os.write(1, b"half a ")
        sys.stdout.write("line")
        os.write(2, b"no newline")
        os._exit(3)

    dr = build(dying, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr, asyncio.timeout(HANG_GUARD):
        with pytest.raises(WorkerCrashedError):
            await dr.execute(["dying"])
        captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("half a line", "no newline")
    await no_worker_left()


async def test_a_grandchild_holding_the_workers_stdout_does_not_keep_the_worker_alive(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @tag(executor="cpu")
    def spawner() -> int:
        import subprocess

        return subprocess.Popen(["sleep", "30"]).pid  # inherits fd 1 and 2, never writes

    dr = build(spawner, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr, asyncio.timeout(HANG_GUARD):
        pid = (await dr.execute(["spawner"]))["spawner"]
    try:
        living = [c for c in await asyncio.to_thread(children) if c.pid != pid]
        assert living == []
    finally:
        os.kill(pid, 9)


async def test_log_records_and_raw_writes_of_a_node_keep_their_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import logging

    def logs_and_writes() -> int:
        log = logging.getLogger("asyncdag_test_output_order")
        for k in range(10):
            log.warning("record %s", k)
            os.write(1, f"raw {k}\n".encode())
        return 1

    handler = logging.StreamHandler(sys.stdout)  # capsys's stdout: one stream holds both
    logger = logging.getLogger("asyncdag_test_output_order")
    logger.addHandler(handler)
    try:
        out, _ = await run_alone(logs_and_writes, capsys)
    finally:
        logger.removeHandler(handler)
    assert out.splitlines() == [f"{kind} {k}" for k in range(10) for kind in ("record", "raw")]


async def test_what_a_process_forked_by_a_node_prints_or_logs_reaches_the_parent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def forks() -> int:
        import logging
        import multiprocessing

        print("before fork")
        child = multiprocessing.get_context("fork").Process(target=print, args=("in child",))
        child.start()
        child.join()
        logger = logging.getLogger("asyncdag_test_forked")
        child = multiprocessing.get_context("fork").Process(
            target=logger.warning, args=("logged in child",)
        )
        child.start()
        child.join()
        print("after fork")
        return child.exitcode or 0

    out, err = await run_alone(forks, capsys)
    assert (out, err) == ("before fork\nin child\nafter fork\n", "logged in child\n")


async def test_what_a_failing_branch_wrote_to_fd_2_reaches_the_parent_before_its_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def item(n: int) -> Parallelizable[int]:
        yield from range(n)

    def work(item: int) -> int:
        os.write(2, f"raw {item}\n".encode())
        if item == 2:
            raise ValueError(f"bad item {item}")
        return item

    def results(work: Collect[int]) -> list[int]:
        return list(work)

    dr = build(item, work, results, remote=executors.ProcessExecutor(max_tasks=1, batch_size=4))
    async with dr, asyncio.timeout(HANG_GUARD):
        with pytest.raises(ValueError, match="bad item 2"):
            await dr.execute(["results"], inputs={"n": 4})
        lines = capsys.readouterr().err.splitlines()
    assert lines[:3] == ["raw 0", "raw 1", "raw 2"]
    await no_worker_left()


async def test_threads_of_a_node_printing_and_writing_at_once_lose_no_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def crowd() -> int:
        import threading

        def chatter(t: int) -> None:
            for k in range(500):
                sys.stdout.write(f"print {t} {k}\n")  # print() writes the end apart
                os.write(1, f"raw {t} {k}\n".encode())

        threads = [threading.Thread(target=chatter, args=(t,)) for t in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return 1

    out, _ = await run_alone(crowd, capsys)
    expected = [
        f"{kind} {t} {k}" for t in range(4) for k in range(500) for kind in ("print", "raw")
    ]
    assert sorted(out.splitlines()) == sorted(expected)


async def test_a_line_written_to_fd_2_just_before_a_worker_is_killed_reaches_the_parent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    @tag(executor="cpu")
    def killed() -> int:
        import signal

        os.write(2, b"last words\n")  # then gone at once, as after abort() or the OOM killer
        os.kill(os.getpid(), signal.SIGKILL)
        return 1

    dr = build(killed, cpu=executors.ProcessExecutor(max_tasks=1))
    async with dr, asyncio.timeout(HANG_GUARD):
        with pytest.raises(WorkerCrashedError):
            await dr.execute(["killed"])
        assert capsys.readouterr().err == "last words\n"
    await no_worker_left()


def open_pipes() -> int:
    """How many pipes this process holds open (Linux)."""
    return sum(1 for name in os.listdir("/proc/self/fd") if _is_pipe(name))


def _is_pipe(name: str) -> bool:
    try:
        return os.readlink(f"/proc/self/fd/{name}").startswith("pipe:")
    except OSError:  # closed meanwhile (the listing's own descriptor)
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/fd")
async def test_the_parent_keeps_no_pipe_of_a_worker_that_stopped_or_died() -> None:
    @tag(executor="cpu")
    def dies(crash: bool) -> int:
        if crash:
            os._exit(5)
        return 1

    before = await asyncio.to_thread(open_pipes)
    for crash in (False, True, False, True):
        dr = build(dies, cpu=executors.ProcessExecutor(max_tasks=2))
        async with dr, asyncio.timeout(HANG_GUARD):
            if crash:
                with pytest.raises(WorkerCrashedError):
                    await dr.execute(["dies"], inputs={"crash": True})
            else:
                await dr.execute(["dies"], inputs={"crash": False})
    await no_worker_left()
    assert await asyncio.to_thread(open_pipes) <= before
