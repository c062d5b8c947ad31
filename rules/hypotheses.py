"""Hypotheses of the weekly meeting and their measured effect: pure arithmetic, no I/O (docs/metrics.md).

A hypothesis says a metric of a segment (one channel or all leads) should go up or down from a start date on.
Its effect is the metric over the N days after the start against the N days before it, N = whole days elapsed
since the start as of the report, capped at `MAX_WINDOW_DAYS`.

* Proportions (% qualified = qualified / classified, conversion = won / leads): the difference after − before
  with Newcombe's hybrid Wilson score 95% interval (Newcombe 1998, method 10), and a Wilson interval per side.
* Costs (CPL = spend / leads, CPQL = spend / qualified): spend of a window is taken as known and the count of
  leads as Poisson, so log(cost) has a standard error of 1/sqrt(count); the ratio after / before gets the 95%
  interval exp(log ratio ± 1.96·sqrt(1/n_before + 1/n_after)). The change is shown as that ratio − 1.

Verdict, with the interval of the change ("up" means the interval lies above 0, i.e. above a ratio of 1):
* "confirmed": the interval lies entirely on the expected side;
* "refuted": the interval lies entirely on the other side, or it contains 0 while both windows have at least
  `MIN_SAMPLE` units (classified leads, leads, or for costs leads / qualified leads);
* "too_early": anything else (fewer than `MIN_SAMPLE` on a side and the interval contains 0, no spend, no data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Metric = Literal["qualified_pct", "conversion", "cpl", "cpql"]
Direction = Literal["up", "down"]
Verdict = Literal["confirmed", "refuted", "too_early"]

METRICS: tuple[Metric, ...] = ("qualified_pct", "conversion", "cpl", "cpql")
PROPORTIONS: frozenset[str] = frozenset({"qualified_pct", "conversion"})
MAX_WINDOW_DAYS = 28
MIN_SAMPLE = 30
Z95 = 1.959963984540054


def window_days(elapsed_days: int) -> int:
    """N: the days in each of the before and after windows (0: the hypothesis has not started yet)."""
    return max(0, min(elapsed_days, MAX_WINDOW_DAYS))


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (0, 1) when there is no observation."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    denominator = 1 + z * z / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(0.0, (centre - spread) / denominator), min(1.0, (centre + spread) / denominator))


def newcombe(x1: int, n1: int, x2: int, n2: int, z: float = Z95) -> tuple[float, float, float]:
    """Difference p1 − p2 and its hybrid Wilson score interval (Newcombe 1998, method 10)."""
    p1 = x1 / n1 if n1 else 0.0
    p2 = x2 / n2 if n2 else 0.0
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    difference = p1 - p2
    lower = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return difference, lower, upper


@dataclass(frozen=True, slots=True)
class Side:
    """One window's figures: `units` is the sample (denominator of a share, or the count a cost is spread on)."""

    units: int
    successes: int = 0  # proportions: qualified or won among `units`
    spend: float | None = None  # costs: money spent in the window (None: no spend entered)

    @property
    def value(self) -> float | None:
        if self.spend is not None:
            return self.spend / self.units if self.units and self.spend > 0 else None
        return self.successes / self.units if self.units else None


@dataclass(frozen=True, slots=True)
class Effect:
    metric: Metric
    direction: Direction
    days: int
    before: Side
    after: Side
    change: float | None  # proportions: after − before; costs: after / before − 1
    interval: tuple[float, float] | None  # of `change`
    before_interval: tuple[float, float] | None  # Wilson, proportions only
    after_interval: tuple[float, float] | None
    verdict: Verdict


def verdict_of(
    interval: tuple[float, float] | None, direction: Direction, before_n: int, after_n: int, min_sample: int
) -> Verdict:
    if interval is None:
        return "too_early"
    lower, upper = interval
    if (direction == "up" and lower > 0) or (direction == "down" and upper < 0):
        return "confirmed"
    if (direction == "up" and upper < 0) or (direction == "down" and lower > 0):
        return "refuted"
    if before_n >= min_sample and after_n >= min_sample:
        return "refuted"
    return "too_early"


def measure(
    metric: Metric,
    direction: Direction,
    days: int,
    before: Side,
    after: Side,
    *,
    min_sample: int = MIN_SAMPLE,
) -> Effect:
    """The effect of a hypothesis from its two windows (see the module's docstring for the method)."""
    change: float | None = None
    interval: tuple[float, float] | None = None
    before_ci = after_ci = None
    if metric in PROPORTIONS:
        if before.units and after.units and days:
            change, lower, upper = newcombe(after.successes, after.units, before.successes, before.units)
            interval = (lower, upper)
        before_ci = wilson(before.successes, before.units) if before.units else None
        after_ci = wilson(after.successes, after.units) if after.units else None
    elif before.spend and after.spend and before.units and after.units and days:
        log_ratio = math.log((after.spend / after.units) / (before.spend / before.units))
        error = Z95 * math.sqrt(1 / before.units + 1 / after.units)
        change = math.exp(log_ratio) - 1
        interval = (math.exp(log_ratio - error) - 1, math.exp(log_ratio + error) - 1)
    verdict = verdict_of(interval, direction, before.units, after.units, min_sample)
    return Effect(metric, direction, days, before, after, change, interval, before_ci, after_ci, verdict)
