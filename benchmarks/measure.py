"""Repeat a run, summarise it, and decide from earlier sizes whether a size is worth running."""

from __future__ import annotations

import gc
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SHORT_RUN_S = 0.01  # a run estimated shorter than this gets SHORT_RUN_FACTOR times the repeats
SHORT_RUN_FACTOR = 5


@dataclass(frozen=True)
class Budget:
    """How long one run may take, and how many repeats a run of a given length gets."""

    max_run_s: float  # skip a size whose single run is estimated to pass this
    repeats: int  # repeats for short runs
    warmup_below_s: float = 0.5  # a run estimated shorter than this gets one unmeasured warm-up
    single_above_s: float = 10.0  # a run estimated longer than this is measured once

    def repeats_for(self, estimate_s: float) -> int:
        """Fewer repeats for long runs: at most ~3 x max(estimate, 1 s) per measured point;
        more for runs of a few milliseconds, whose median one repeat of noise moves."""
        if estimate_s > self.single_above_s:
            return 1
        if estimate_s > 2:
            return min(self.repeats, 3)
        if estimate_s < SHORT_RUN_S:
            return self.repeats * SHORT_RUN_FACTOR
        return self.repeats


@dataclass(frozen=True)
class Timing:
    """Seconds per run over the repeats of one point."""

    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def spread(self) -> float:
        """The interquartile range over the median (the full range under 4 repeats).

        0.1 means the middle half of the repeats spans 10% of the median.
        """
        if not self.median:
            return 0.0
        if len(self.runs) < 4:
            return (max(self.runs) - min(self.runs)) / self.median
        q1, _, q3 = statistics.quantiles(self.runs, n=4)
        return (q3 - q1) / self.median


def estimate(history: Sequence[tuple[int, float]], n: int) -> float:
    """Seconds for one run at ``n``, from (size, seconds) points measured before.

    A power law through the last two points (exponent at least 1: cost never shrinks
    with size); linear from a single point; 0 when nothing is known.
    """
    if not history:
        return 0.0
    n1, t1 = history[-1]
    exponent = 1.0
    if len(history) >= 2:
        n0, t0 = history[-2]
        if t0 > 0 and t1 > 0 and n1 != n0:
            exponent = max(1.0, math.log(t1 / t0) / math.log(n1 / n0))
    return float(t1 * (n / n1) ** exponent)


def repeat(run: Callable[[], float], times: int, warmup: bool) -> Timing:
    """Call ``run`` (which returns its own elapsed seconds) ``times`` times."""
    if warmup:
        run()
    runs = []
    for _ in range(times):
        gc.collect()
        runs.append(run())
    return Timing(tuple(runs))
