"""The usage report of ``/imagemod usage``: a window's spend, and its chart.

The chart is a PNG drawn by matplotlib with the Agg backend, in a worker thread (a
drawing takes tens of milliseconds: never on the event loop). Its only text is dates
and dollar amounts, so it needs no font beyond matplotlib's own for any language.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections import Counter
from collections.abc import Sequence

from bot.quota import window_reset, window_start
from bot.store import DailySpend, SpendRow, UsageReport

TOP = 10  # members and models listed by name; the rest are summed


def usage_report(
    rows: Sequence[SpendRow],
    period: str,
    now: float,
    budget: int | None = None,
    left: int | None = None,
) -> UsageReport:
    """Return the report of ``rows`` (one window's settled costs), per member, model, day."""
    since, until = window_start(now, period), window_reset(now, period)
    by_member: Counter[int] = Counter()
    by_model: Counter[str] = Counter()
    by_day: Counter[str] = Counter()
    images: Counter[str] = Counter()
    daily: dict[tuple[str, int, str], tuple[int, int]] = {}
    for row in rows:
        by_member[row.user_id] += row.cost
        by_model[row.model] += row.cost
        day = dt.datetime.fromtimestamp(row.created_at, dt.UTC).date().isoformat()
        by_day[day] += row.cost
        images[day] += row.images
        cost, count = daily.get((day, row.user_id, row.model), (0, 0))
        daily[day, row.user_id, row.model] = (cost + row.cost, count + row.images)
    first = dt.datetime.fromtimestamp(since, dt.UTC).date()
    days = [(first + dt.timedelta(days=n)).isoformat() for n in range((until - since) // 86400)]
    return UsageReport(
        period=period,
        since=since,
        until=until,
        total=sum(by_member.values()),
        jobs=len(rows),
        by_member=by_member.most_common(),
        by_model=by_model.most_common(),
        by_day=[(day, by_day[day]) for day in days],
        images_by_day=[(day, images[day]) for day in days],
        budget=budget,
        left=left,
        daily=[DailySpend(*key, cost, count) for key, (cost, count) in sorted(daily.items())],
    )


def _draw(report: UsageReport) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7, 2.6), dpi=100)
    axes = figure.subplots()
    labels = [day[5:] for day, _ in report.by_day]  # MM-DD
    dollars = [amount / 1_000_000 for _, amount in report.by_day]
    axes.bar(range(len(dollars)), dollars, color="#5865F2")
    step = max(1, len(labels) // 10)
    axes.set_xticks(range(0, len(labels), step), labels[::step], fontsize=8)
    axes.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("${x:,.2f}"))
    axes.tick_params(axis="y", labelsize=8)
    counts = [count for _, count in report.images_by_day]
    if any(counts):
        images = axes.twinx()
        images.plot(range(len(counts)), counts, color="#57F287", marker="o", markersize=3)
        images.set_ylim(bottom=0)
        images.tick_params(axis="y", labelsize=8, colors="#3BA55C")
        images.spines[["top"]].set_visible(False)
    if report.budget:
        per_day = report.budget / 1_000_000 / max(1, len(dollars))
        axes.axhline(per_day, color="#ED4245", linewidth=1, linestyle="--")
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


async def usage_chart(report: UsageReport) -> bytes:
    """Return the report's spend per day as a PNG bar chart (drawn off the event loop)."""
    return await asyncio.to_thread(_draw, report)
