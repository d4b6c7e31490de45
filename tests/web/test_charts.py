"""The Usage page's SVG charts (bot.web.charts): grouping, axis steps and the drawing."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

import pytest

from bot.billing.usage import usage_report
from bot.store import SpendRow
from bot.web.charts import Series, bar_chart, colour, split, ticks

NS = "{http://www.w3.org/2000/svg}"
NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC).timestamp()
DAY = 86400


def report(rows: list[SpendRow], budget: int | None = None):
    return usage_report(rows, "week", NOW, budget, None if budget is None else budget // 2)


def row(days_ago: int, user: int, model: str, cost: int, images: int = 1) -> SpendRow:
    return SpendRow(NOW - days_ago * DAY, user, model, cost, images)


def draw(report_, measure="cost", **extra):
    series = split(report_, extra.pop("by", "model"))
    svg = bar_chart(
        [day for day, _ in report_.by_day],
        series,
        measure,
        ident="c",
        title="Spend",
        desc="Bar chart <of> & spend",
        amount=lambda v: f"${v / 1_000_000:.2f}" if measure == "cost" else str(v),
        label=lambda s: "others" if s.key is None else str(s.key),
        **extra,
    )
    return svg, ET.fromstring(svg)


def test_the_report_keeps_each_days_spend_per_member_and_model():
    """usage_report sums one (day, member, model) into one daily row."""
    made = report([row(1, 7, "a", 10, 1), row(1, 7, "a", 5, 2), row(0, 8, "b", 3)])
    assert [(d.user_id, d.model, d.cost, d.images) for d in made.daily] == [
        (7, "a", 15, 3),
        (8, "b", 3, 1),
    ]
    assert made.daily[0].day == "2026-11-23" and made.daily[1].day == "2026-11-24"


def test_split_keeps_the_ten_that_cost_most_and_sums_the_rest_as_others():
    """Twelve models: ten by name, most spent first, the two cheapest as one "others"."""
    rows = [row(0, 1, f"m{n:02}", 1000 * (n + 1), images=n) for n in range(12)]
    series = split(report(rows), "model")
    assert [s.key for s in series] == [f"m{n:02}" for n in range(11, 1, -1)] + [None]
    others = series[-1]
    monday = 1  # 2026-11-24 is a Tuesday: the week's second day
    assert others.cost[monday] == 1000 + 2000 and others.images[monday] == 0 + 1
    assert sum(others.cost) == 3000
    assert colour(0, series[0]) == "s0" and colour(10, others) == "others"


def test_split_by_member_groups_models_together():
    """By member: one series per member, whatever models they used."""
    rows = [row(0, 7, "a", 10), row(0, 7, "b", 20), row(1, 8, "a", 5)]
    series = split(report(rows), "member")
    assert [(s.key, sum(s.cost), sum(s.images)) for s in series] == [(7, 30, 2), (8, 5, 1)]


@pytest.mark.parametrize(
    ("highest", "minimum", "expected"),
    [
        (0, 1, [0, 1]),
        (3, 1, [0, 1, 2, 3]),
        (7, 1, [0, 2, 4, 6, 8]),
        (39_000, 10_000, [0, 10_000, 20_000, 30_000, 40_000]),
        (1_500, 10_000, [0, 10_000]),  # a dollar axis steps by a cent at least
        (1_234_567, 10_000, [0, 500_000, 1_000_000, 1_500_000]),
    ],
)
def test_the_axis_steps_are_one_two_or_five_times_a_power_of_ten(highest, minimum, expected):
    """The axis covers the highest bar in a few round steps."""
    assert ticks(highest, minimum) == expected


def test_the_chart_stacks_each_day_and_names_every_segment():
    """Two models on one day: two stacked rects whose titles say day, model and amount."""
    svg, root = draw(report([row(0, 7, "a", 30_000), row(0, 8, "b", 10_000)]))
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c-title c-desc"
    assert root.find(f"{NS}title").text == "Spend"
    assert root.find(f"{NS}desc").text == "Bar chart <of> & spend"  # escaped in the markup
    assert "&lt;of&gt; &amp;" in svg and " style=" not in svg and "<script" not in svg
    rects = root.findall(f".//{NS}rect")
    assert [r.get("class") for r in rects] == ["s0", "s1"]
    assert [r.find(f"{NS}title").text for r in rects] == [
        "2026-11-24 · a: $0.03",
        "2026-11-24 · b: $0.01",
    ]
    a, b = (float(r.get("height")) for r in rects)
    assert a == pytest.approx(3 * b, rel=0.01)  # heights in proportion to dollars
    assert float(rects[1].get("y")) + b == pytest.approx(float(rects[0].get("y")), abs=0.2)
    labels = [t.text for t in root.iter(f"{NS}text")]
    assert "$0.03" in labels and "11-23" in labels and "11-25" in labels  # every other day


def test_the_images_chart_counts_images_not_dollars():
    """The same rows drawn as images: whole-number ticks, one segment per model."""
    _, root = draw(report([row(0, 7, "a", 30_000, 3), row(1, 8, "b", 10_000, 1)]), "images")
    titles = [r.find(f"{NS}title").text for r in root.iter(f"{NS}rect")]
    assert titles == ["2026-11-23 · b: 1", "2026-11-24 · a: 3"]
    assert [t.text for t in root.iter(f"{NS}text")][:4] == ["0", "1", "2", "3"]


def test_the_budget_line_is_drawn_only_when_asked_and_fits_the_axis():
    """A budget per day above every bar still shows: the axis grows to it."""
    rows = [row(0, 7, "a", 10_000)]
    _, plain = draw(report(rows))
    assert not [line for line in plain.iter(f"{NS}line") if line.get("class") == "budget"]
    _, root = draw(report(rows), budget=50_000, budget_label="Budget per day: $0.05")
    [line] = [line for line in root.iter(f"{NS}line") if line.get("class") == "budget"]
    texts = [t.text for t in root.iter(f"{NS}text")]
    assert "Budget per day: $0.05" in texts
    assert "$0.06" in texts and "$0.02" in texts  # the axis grew past the budget
    [bar] = root.iter(f"{NS}rect")
    assert float(line.get("y1")) < float(bar.get("y"))  # above the $0.01 bar


def test_an_empty_window_draws_axes_and_no_bar():
    """No spend: the chart still draws, with no rect."""
    _, root = draw(report([]))
    assert root.findall(f".//{NS}rect") == []
    assert len(root.findall(f"{NS}line")) >= 2


def test_series_values_follow_the_measure():
    """Series.values picks dollars or images."""
    one = Series("a", (1, 2), (3, 4))
    assert one.values("cost") == (1, 2) and one.values("images") == (3, 4)
