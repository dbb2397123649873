"""Benchmarks: asyncdag against the raw asyncio floor and Apache Hamilton.

Run with ``make bench`` (``BENCH_ARGS=--quick`` for a run under a minute) or
``python -m benchmarks``. Results go to ``benchmarks/results/``.
"""
