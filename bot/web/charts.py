"""The Usage page's charts: stacked bars per day, drawn as SVG on the server.

Pure functions. :func:`split` groups a usage report's daily rows by model or by member
(the ten that cost most, the rest summed as "others"); :func:`bar_chart` draws one
measure of them (dollars or images) per day as an ``<svg>`` for the page, with a dashed
budget line when asked. The page's Content-Security-Policy allows no inline style, so
the drawing carries none: its colours are CSS classes (``s0``…``s9``, ``others``,
``budget``, ``grid``) that style.css sets for light and dark mode, and its sizes are
SVG attributes. It has a ``<title>`` and ``<desc>`` (``role="img"``) for screen
readers, and each bar segment a ``<title>`` with its day, series and amount.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.store import UsageReport

TOP = 10  # series named in a chart; the rest are summed as "others"
COLOURS = 10  # s0..s9 in style.css
WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP_MARGIN, BOTTOM = 92, 30, 22, 40
BAR_SHARE = 0.72  # of a day's width
X_LABELS = 6  # at most this many dates under the bars
CENT = 10_000  # micro-dollars: the smallest step of a dollar axis

Split = Literal["model", "member"]
Measure = Literal["cost", "images"]


@dataclass(frozen=True)
class Series:
    """One model's or member's spend and images per day; key None: all the others."""

    key: str | int | None
    cost: tuple[int, ...]
    images: tuple[int, ...]

    def values(self, measure: Measure) -> tuple[int, ...]:
        """Return the series' values per day of ``measure``."""
        return self.cost if measure == "cost" else self.images


def split(report: UsageReport, by: Split, top: int = TOP) -> list[Series]:
    """Return the report's days per model or member, most spent first, then the others.

    The order is by dollars in both charts, so a series keeps its colour in each.
    """
    index = {day: n for n, (day, _) in enumerate(report.by_day)}
    cost: dict[str | int, list[int]] = {}
    images: dict[str | int, list[int]] = {}
    for row in report.daily:
        key: str | int = row.model if by == "model" else row.user_id
        if row.day not in index:
            continue
        for store, value in ((cost, row.cost), (images, row.images)):
            store.setdefault(key, [0] * len(index))[index[row.day]] += value
    ranked = sorted(cost, key=lambda k: (-sum(cost[k]), -sum(images[k]), str(k)))
    named = [Series(k, tuple(cost[k]), tuple(images[k])) for k in ranked[:top]]
    rest = ranked[top:]
    if rest:
        named.append(
            Series(
                None,
                tuple(sum(cost[k][n] for k in rest) for n in range(len(index))),
                tuple(sum(images[k][n] for k in rest) for n in range(len(index))),
            )
        )
    return named


def colour(position: int, series: Series) -> str:
    """Return the CSS class of the ``position``-th series (the others are grey)."""
    return "others" if series.key is None else f"s{position % COLOURS}"


def ticks(highest: int, minimum_step: int = 1, count: int = 4) -> list[int]:
    """Return the axis' values from 0: steps of 1, 2 or 5 times a power of ten."""
    raw = max(minimum_step, math.ceil(highest / count)) if highest > 0 else minimum_step
    magnitude = 10 ** (len(str(raw)) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    steps = max(1, math.ceil(highest / step))
    return [n * step for n in range(steps + 1)]


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def bar_chart(
    days: Sequence[str],
    series: Sequence[Series],
    measure: Measure,
    *,
    ident: str,
    title: str,
    desc: str,
    amount: Callable[[int], str],
    label: Callable[[Series], str],
    budget: int | None = None,
    budget_label: str = "",
) -> str:
    """Return an ``<svg>`` of ``series`` stacked per day (``amount`` writes the axis).

    ``budget``: a value per day drawn as a dashed line, named ``budget_label``.
    """
    values = [s.values(measure) for s in series]
    totals = [sum(v[n] for v in values) for n in range(len(days))]
    highest = max([*totals, budget or 0, 0])
    axis = ticks(highest, CENT if measure == "cost" else 1)
    top = axis[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP_MARGIN - BOTTOM
    base = TOP_MARGIN + plot_h

    def y_of(value: float) -> float:
        return base - plot_h * value / top

    svg = ET.Element(
        "svg",
        {
            "xmlns": "http://www.w3.org/2000/svg",
            "viewBox": f"0 0 {WIDTH} {HEIGHT}",
            "role": "img",
            "aria-labelledby": " ".join((f"{ident}-title", f"{ident}-desc")),
            "class": "chart",
            "id": ident,
        },
    )
    ET.SubElement(svg, "title", {"id": f"{ident}-title"}).text = title
    ET.SubElement(svg, "desc", {"id": f"{ident}-desc"}).text = desc
    for value in axis:
        y = _number(y_of(value))
        ET.SubElement(
            svg,
            "line",
            {"class": "grid", "x1": str(LEFT), "x2": str(WIDTH - RIGHT), "y1": y, "y2": y},
        )
        ET.SubElement(
            svg,
            "text",
            {"class": "tick", "x": str(LEFT - 6), "y": y, "text-anchor": "end", "dy": "0.35em"},
        ).text = amount(value)
    band = plot_w / max(1, len(days))
    width = max(1.0, band * BAR_SHARE)
    every = max(1, math.ceil(len(days) / X_LABELS))
    bars = ET.SubElement(svg, "g", {"class": "bars"})
    for n, day in enumerate(days):
        x = LEFT + band * n + (band - width) / 2
        below = 0
        for position, (one, per_day) in enumerate(zip(series, values, strict=True)):
            if not per_day[n]:
                continue
            top_y, bottom_y = y_of(below + per_day[n]), y_of(below)
            rect = ET.SubElement(
                bars,
                "rect",
                {
                    "class": colour(position, one),
                    "x": _number(x),
                    "y": _number(top_y),
                    "width": _number(width),
                    "height": _number(max(0.5, bottom_y - top_y)),
                },
            )
            ET.SubElement(rect, "title").text = f"{day} · {label(one)}: {amount(per_day[n])}"
            below += per_day[n]
        if n % every == 0:
            ET.SubElement(
                svg,
                "text",
                {
                    "class": "tick",
                    "x": _number(LEFT + band * n + band / 2),
                    "y": str(base + 26),
                    "text-anchor": "middle",
                },
            ).text = day[5:]  # MM-DD
    edge = {"x1": str(LEFT), "x2": str(WIDTH - RIGHT), "y1": str(base), "y2": str(base)}
    ET.SubElement(svg, "line", {"class": "axis", **edge})
    if budget:
        y = _number(y_of(budget))
        ET.SubElement(
            svg,
            "line",
            {
                "class": "budget",
                "x1": str(LEFT),
                "x2": str(WIDTH - RIGHT),
                "y1": y,
                "y2": y,
                "stroke-dasharray": "6 4",
            },
        )
        ET.SubElement(
            svg,
            "text",
            {
                "class": "budget-label",
                "x": str(WIDTH - RIGHT),
                "y": y,
                "dy": "-0.4em",
                "text-anchor": "end",
            },
        ).text = budget_label
    return ET.tostring(svg, encoding="unicode")
