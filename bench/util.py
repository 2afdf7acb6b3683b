"""Shared helpers: timing, repeats, medians and aligned result lines."""

from __future__ import annotations

import gc
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple

LABEL_WIDTH = 70
VALUE_WIDTH = 12

now = time.perf_counter


class Result(NamedTuple):
    """One printed number: ``(label, value, unit)`` plus the best repeat and a goal."""

    label: str
    value: float
    unit: str
    best: float | None = None
    goal: float | None = None
    higher_is_better: bool = True

    @property
    def goal_met(self) -> bool | None:
        if self.goal is None:
            return None
        if self.higher_is_better:
            return self.value >= self.goal
        return self.value <= self.goal


def fmt(value: float) -> str:
    """Thousands separators for big numbers, a few decimals for small ones."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    return f"{value:,.2f}"


def line(result: Result) -> str:
    text = f"{result.label:<{LABEL_WIDTH}} {fmt(result.value):>{VALUE_WIDTH}}"
    if result.unit:
        text += f" {result.unit}"
    notes = []
    if result.best is not None:
        notes.append(f"best {fmt(result.best)}")
    if result.goal is not None:
        sign = ">=" if result.higher_is_better else "<="
        verdict = "met" if result.goal_met else "NOT met"
        notes.append(f"goal {sign} {fmt(result.goal)}: {verdict}")
    if notes:
        text += "  (" + "; ".join(notes) + ")"
    return text


def report(
    label: str,
    value: float,
    unit: str = "",
    *,
    best: float | None = None,
    goal: float | None = None,
    higher_is_better: bool = True,
) -> Result:
    """Print one aligned result line (as soon as it is known) and return it."""
    result = Result(label, value, unit, best, goal, higher_is_better)
    print(line(result), flush=True)
    return result


def note(text: str) -> None:
    """An indented detail line under the results (not a measured goal)."""
    print(f"    {text}", flush=True)


def section(title: str) -> None:
    print(f"\n== {title} ==", flush=True)


async def repeat(
    measure: Callable[[], Awaitable[float]], times: int, *, warmup: int = 0
) -> list[float]:
    """Run ``measure`` (which returns the seconds it timed) ``warmup + times`` times."""
    for _ in range(warmup):
        gc.collect()
        await measure()
    samples = []
    for _ in range(times):
        gc.collect()
        samples.append(await measure())
    return samples


def rates(count: float, seconds: list[float]) -> tuple[float, float]:
    """(median, best) of ``count / seconds`` over the repeats."""
    per_second = [count / s for s in seconds]
    return statistics.median(per_second), max(per_second)


def median_best(values: list[float], *, lower_is_better: bool = True) -> tuple[float, float]:
    return statistics.median(values), (min(values) if lower_is_better else max(values))


def tempdir() -> tempfile.TemporaryDirectory[str]:
    """A scratch folder for a database; ``BENCH_TMPDIR`` picks the disk it lives on."""
    return tempfile.TemporaryDirectory(
        prefix="agentroom-bench-", dir=os.environ.get("BENCH_TMPDIR")
    )
