"""Expanders on processes stream: items flow back as yielded, with back-pressure, and the
generator stops when the run fails or is cancelled."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import HANG_GUARD, PATIENCE, build, children

from asyncdag import Collect, Parallelizable, executors

pytestmark = pytest.mark.timeout(60)


def _wait_for(path: Path, patience: float = PATIENCE) -> bool:
    deadline = time.monotonic() + patience
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _count(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def on_processes(*functions: Any, **options: Any) -> Any:
    """The expander and the branches on one ProcessExecutor."""
    executor = executors.ProcessExecutor(**options)
    return build(*functions, remote=executor, local=executor)


async def no_worker_left() -> None:
    assert await asyncio.to_thread(children) == []


async def test_a_process_expanders_first_branch_runs_before_the_generator_ends(
    tmp_path: Path,
) -> None:
    def item(n: int, where: str) -> Parallelizable[int]:
        yield 0
        yield int(_wait_for(Path(where) / "0"))  # 1 when branch 0 ran meanwhile
        yield from range(2, n)

    def work(item: int, where: str) -> int:
        (Path(where) / str(item)).touch()
        return item

    def results(work: Collect[int]) -> list[int]:
        return list(work)

    dr = on_processes(item, work, results, max_tasks=2)
    async with dr, asyncio.timeout(HANG_GUARD):
        out = await dr.execute(["results"], inputs={"n": 4, "where": str(tmp_path)})
    assert out == {"results": [0, 1, 2, 3]}, "branch 0 ran while the generator was running"
    await no_worker_left()


async def test_a_process_expander_pauses_while_the_block_is_at_max_tasks(tmp_path: Path) -> None:
    def item(n: int, where: str) -> Parallelizable[int]:
        for i in range(n):
            done = _count(Path(where) / "done")
            with open(Path(where) / "ahead", "a") as out:
                out.write(f"{i - done}\n")  # items yielded before this one, minus branches done
            yield i

    def work(item: int, where: str) -> int:
        time.sleep(0.02)  # time for a generator that runs ahead to show it
        with open(Path(where) / "done", "a") as out:
            out.write(f"{item}\n")
        return item

    def results(work: Collect[int]) -> list[int]:
        return list(work)

    dr = on_processes(item, work, results, max_tasks=2, batch_size=1)
    async with dr, asyncio.timeout(HANG_GUARD):
        out = await dr.execute(["results"], inputs={"n": 30, "where": str(tmp_path)})
    assert out == {"results": list(range(30))}
    ahead = [
        int(line) for line in (await asyncio.to_thread((tmp_path / "ahead").read_text)).split()
    ]
    # Two branches in flight, one item taken and waiting for a slot, one stepped ahead.
    assert max(ahead) <= 2 + 1 + 1, ahead
    await no_worker_left()


def endless(where: str) -> Any:
    def item(where: str) -> Parallelizable[int]:
        i = 0
        try:
            while True:
                with open(Path(where) / "produced", "a") as out:
                    out.write(f"{i}\n")
                yield i
                i += 1
        finally:
            (Path(where) / "closed").touch()

    return item


async def test_an_endless_process_expander_stops_when_a_branch_fails(tmp_path: Path) -> None:
    def work(item: int) -> int:
        if item == 3:
            raise ValueError("branch 3 fails")
        time.sleep(0.01)
        return item

    def results(work: Collect[int]) -> list[int]:
        return list(work)

    dr = on_processes(endless(str(tmp_path)), work, results, max_tasks=2)
    async with dr:
        with pytest.raises(ValueError, match="branch 3 fails"):
            async with asyncio.timeout(HANG_GUARD):
                await dr.execute(["results"], inputs={"where": str(tmp_path)})
        assert await asyncio.to_thread(_wait_for, tmp_path / "closed"), "generator closed"
        assert await asyncio.to_thread(_count, tmp_path / "produced") < 20
    await no_worker_left()


async def test_cancelling_execute_stops_an_endless_process_expander(tmp_path: Path) -> None:
    def work(item: int) -> int:
        time.sleep(0.01)
        return item

    def results(work: Collect[int]) -> list[int]:
        return list(work)

    dr = on_processes(endless(str(tmp_path)), work, results, max_tasks=2)
    async with dr:
        run = asyncio.ensure_future(dr.execute(["results"], inputs={"where": str(tmp_path)}))
        assert await asyncio.to_thread(_wait_for, tmp_path / "produced")
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            async with asyncio.timeout(HANG_GUARD):
                await run
        produced = await asyncio.to_thread(_count, tmp_path / "produced")
        await asyncio.sleep(0.2)
        assert await asyncio.to_thread(_count, tmp_path / "produced") == produced, "it stopped"
    await no_worker_left()
