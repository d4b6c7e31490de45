"""Shared helpers for the benchmarks: bounded drivers, percentiles and the figure table.

Every benchmark prints one table whose rows are ``figure, value, unit, baseline,
ratio``: the baseline is measured in the same run (never a number from another
machine or another day), and ``ratio`` is ``value / baseline``.
"""

from __future__ import annotations

import asyncio
import math
import statistics
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Row:
    """One line of a result table."""

    figure: str
    value: float
    unit: str
    baseline: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


@dataclass
class Report:
    """A benchmark's table plus the sentences needed to read it."""

    title: str
    baseline: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: str, value: float, unit: str, baseline: float | None = None) -> None:
        self.rows.append(Row(figure, value, unit, baseline))

    def render(self) -> str:
        header = ("figure", "value", "unit", "baseline", "ratio")
        cells = [
            (
                r.figure,
                fmt(r.value),
                r.unit,
                "-" if r.baseline is None else fmt(r.baseline),
                "-" if r.ratio is None else f"{r.ratio:.2f}x",
            )
            for r in self.rows
        ]
        widths = [max(len(line[i]) for line in [header, *cells]) for i in range(len(header))]

        align = ("<", ">", "<", ">", ">")  # text left, numbers right

        def line(values: Sequence[str]) -> str:
            cells = zip(values, align, widths, strict=True)
            return "  ".join(f"{v:{a}{w}}" for v, a, w in cells).rstrip()

        out = [f"== {self.title} ==", f"baseline: {self.baseline}", line(header)]
        out.append("  ".join("-" * w for w in widths))
        out += [line(c) for c in cells]
        out += [f"note: {n}" for n in self.notes]
        return "\n".join(out)


def fmt(value: float) -> str:
    """Format a figure with about three significant digits."""
    if value == 0:
        return "0"
    if math.isinf(value) or math.isnan(value):
        return str(value)
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1:
        return f"{value:.2f}"
    return f"{value:#.3g}"


def percentile(samples: Sequence[float], pct: float) -> float:
    """Return the ``pct`` percentile (0-100) by linear interpolation."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class LoadResult:
    """What a bounded closed-loop run measured."""

    latencies: list[float]  # seconds, one per completed call
    wall: float  # seconds from the first call to the last completion
    concurrency: int

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        return self.count / self.wall if self.wall > 0 else math.nan

    def ms(self, pct: float) -> float:
        return percentile(self.latencies, pct) * 1000

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.latencies) * 1000 if self.latencies else math.nan

    def __add__(self, other: LoadResult) -> LoadResult:
        """Pool two segments of the same load (samples joined, wall times summed)."""
        return LoadResult(
            self.latencies + other.latencies, self.wall + other.wall, self.concurrency
        )


async def closed_loop(
    op: Callable[[int], Awaitable[object]],
    *,
    count: int,
    concurrency: int,
    budget: float,
    first: int = 0,
) -> LoadResult:
    """Run ``op(i)`` for ``i`` in ``first .. first + count - 1`` from ``concurrency`` workers.

    Each worker starts its next call as soon as its previous one returns (a closed
    loop), so at ``concurrency`` N there are always N calls in progress. The run stops
    early, with fewer samples, if the time budget runs out; a hard timeout of twice
    the budget guards against a hang.
    """
    latencies: list[float] = []
    issued = 0
    start = time.perf_counter()
    stop_at = start + budget

    async def worker() -> None:
        nonlocal issued
        while issued < count and time.perf_counter() < stop_at:
            index = first + issued
            issued += 1
            began = time.perf_counter()
            await op(index)
            latencies.append(time.perf_counter() - began)

    async with asyncio.timeout(budget * 2 + 5):
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return LoadResult(latencies, time.perf_counter() - start, concurrency)
