"""Shared fixtures: async tests run on asyncio and on uvloop, and nothing may block the loop."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from typing import Any

import psutil
import pytest
from blockbuster import blockbuster_ctx
from hypothesis import HealthCheck, settings

# Apache Hamilton (a test-only peer) must not try to send telemetry from tests.
os.environ.setdefault("HAMILTON_TELEMETRY_ENABLED", "false")

# Property tests: "ci" (the default) keeps the suite short; `--hypothesis-profile=long` or
# ASYNCDAG_HYPOTHESIS_PROFILE=long searches much longer. Registered here, before the hypothesis
# plugin reads the command line.
_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]
settings.register_profile("ci", max_examples=40, deadline=None, suppress_health_check=_QUIET)
settings.register_profile("long", max_examples=1000, deadline=None, suppress_health_check=_QUIET)
settings.load_profile(os.environ.get("ASYNCDAG_HYPOTHESIS_PROFILE", "ci"))

# How long a test waits for something that should happen soon (a branch starting, a worker
# dying) before its own assertions judge the outcome; and the bound on a whole execute whose
# wrong behaviour would be to hang forever. Generous: CI machines are shared and slow.
PATIENCE = 5.0
HANG_GUARD = 20.0

try:
    import uvloop
except ImportError:  # the asyncio run still happens
    uvloop = None


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    factories: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
        "asyncio": asyncio.new_event_loop
    }
    if uvloop is not None:
        factories["uvloop"] = uvloop.new_event_loop
    return factories


@pytest.fixture(autouse=True)
def blockbuster(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Fail any test whose code blocks the event loop, unless it is marked ``allow_blocking``."""
    if request.node.get_closest_marker("allow_blocking") is not None:
        yield None
        return
    with blockbuster_ctx() as bb:
        yield bb


def make_module(*functions: Callable[..., Any], name: str = "dag") -> Any:
    """Build a throwaway module holding ``functions``, as if they were defined in it."""
    import types

    module = types.ModuleType(f"{name}_{next(_module_ids)}")
    for fn in functions:
        fn.__module__ = module.__name__
        setattr(module, fn.__name__, fn)
    return module


_module_ids = itertools.count()


def build(
    *functions: Callable[..., Any], remote: Any = None, local: Any = None, **named: Any
) -> Any:
    """A Driver over ``functions``; ``remote``/``local`` executors, and named ones by keyword."""
    from asyncdag import Builder

    builder = Builder().with_modules(make_module(*functions))
    if remote is not None:
        builder = builder.with_remote_executor(remote)
    if local is not None:
        builder = builder.with_local_executor(local)
    for name, executor in named.items():
        builder = builder.with_executor(name, executor)
    return builder.build()


def notes_of(exc: BaseException) -> str:
    """All PEP 678 notes of ``exc``, one per line."""
    return "\n".join(getattr(exc, "__notes__", []))


def children() -> list[psutil.Process]:
    """Live child processes of this test process (psutil reads /proc: call it off the loop)."""
    return [c for c in psutil.Process().children(recursive=True) if c.status() != "zombie"]


async def wait_patiently(event: asyncio.Event, patience: float = PATIENCE) -> None:
    """Wait for ``event`` at most ``patience`` seconds; the caller judges the outcome."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(patience):
            await event.wait()
