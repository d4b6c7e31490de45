"""The dashboard's Usage page and CSV download, for a server's moderators only.

``GET /servers/{id}/usage``: what the server spent, and the images it got, per day of
today, this week or this month (``?period=``; by default the budget's, else the month),
split by model or member (``?by=``), with the budget line when the server's budget is
of that period, and what is left of the budget. The figures are
``BillingService.usage``'s, the report ``/imagemod usage`` shows. The charts are SVG in
the page (:mod:`bot.web.charts`), with the same figures in tables.

``GET /servers/{id}/export.csv``: the CSV of ``/imagemod export``, from the same service
call (``?since=YYYY-MM-DD`` as the page's link for the period; else every job), as an
attachment. Anyone who does not moderate the server gets 404 for both, as for the gallery.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from markupsafe import Markup

from bot.client import LemonBot
from bot.i18n import Dollars, Lang, Text, t
from bot.store import BudgetStanding, JobFilter, UsageReport
from bot.web import charts
from bot.web.access import moderated_guild
from bot.web.charts import Series, Split

log = logging.getLogger(__name__)

PERIODS = ("day", "week", "month")
SPLITS: tuple[Split, ...] = ("model", "member")
EXPORT_MAX_ROWS = 10_000  # as /imagemod export


class Dashboard(Protocol):
    """What these pages use of :class:`bot.web.app.Dashboard` (which imports this module)."""

    bot: LemonBot

    def lang(self, request: web.Request) -> Lang: ...

    def moderates(self, request: web.Request, guild_id: int) -> bool: ...

    def render(
        self, request: web.Request, template: str, /, *, status: int = 200, **context: object
    ) -> web.Response: ...

    async def server_name(self, guild_id: int) -> str: ...

    async def member_names(
        self, guild_id: int | None, user_ids: Iterable[int]
    ) -> dict[int, str]: ...


def member_label(user_id: int, names: Mapping[int, str], lang: Lang) -> str:
    """Return how the dashboard names a member: their name if known, else their id."""
    return names.get(user_id) or t("web.member_id", lang, user=user_id)


@dataclass(frozen=True)
class Row:
    """One line of a table under the charts: its colour, name, dollars and images."""

    colour: str
    name: str
    spent: str
    images: int


def _guild(request: web.Request, dashboard: Dashboard) -> int:
    """Return the server of the URL if the viewer moderates it; else 404, whatever its id."""
    return moderated_guild(request)


def _since(value: str | None) -> float | None:
    """Return 00:00 UTC of a YYYY-MM-DD date, or None."""
    try:
        day = dt.date.fromisoformat(value or "") if value and len(value) == 10 else None
    except ValueError:
        return None
    return None if day is None else dt.datetime.combine(day, dt.time(), dt.UTC).timestamp()


def _iso_day(moment: float) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).date().isoformat()


class UsagePages:
    """The handlers of the Usage page and the CSV download, over the dashboard."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.bot = dashboard.bot

    def _name(self, series: Series, lang: Lang, names: Mapping[int, str]) -> str:
        if series.key is None:
            return t("web.usage_others", lang)
        if isinstance(series.key, int):
            return member_label(series.key, names, lang)
        return series.key

    def _chart(
        self,
        report: UsageReport,
        series: list[Series],
        measure: charts.Measure,
        by: Split,
        lang: Lang,
        names: Mapping[int, str],
    ) -> tuple[str, Markup]:
        days = [day for day, _ in report.by_day]
        per_day = [
            amount for _, amount in (report.by_day if measure == "cost" else report.images_by_day)
        ]

        def amount(value: int) -> str:
            if measure == "cost":
                return Dollars(value, exact=True).render(lang)
            return str(value)

        busiest = max(range(len(days)), key=lambda n: per_day[n]) if days else 0
        budget = None
        label = ""
        if measure == "cost" and report.budget:
            budget = report.budget // max(1, len(days))
            label = t("web.usage_budget_line", lang, amount=Dollars(budget))
        desc = t(
            f"web.usage_desc.{measure}",
            lang,
            since=days[0] if days else "",
            until=days[-1] if days else "",
            total=amount(sum(per_day)) if measure == "images" else Dollars(sum(per_day), up=True),
            day=days[busiest] if days else "",
            most=amount(per_day[busiest]) if per_day else "0",
            by=Text(f"web.usage_by.{by}"),
        )
        if budget:
            desc += " " + label
        title = t(f"web.usage_chart.{measure}", lang, by=Text(f"web.usage_by.{by}"))
        svg = charts.bar_chart(
            days,
            series,
            measure,
            ident=f"chart-{measure}",
            title=title,
            desc=desc,
            amount=amount,
            label=lambda one: self._name(one, lang, names),
            budget=budget,
            budget_label=label,
        )
        return title, Markup(svg)  # built by ElementTree, which escapes every text

    def _rows(self, series: list[Series], lang: Lang, names: Mapping[int, str]) -> list[Row]:
        return [
            Row(
                charts.colour(n, one),
                self._name(one, lang, names),
                Dollars(sum(one.cost), up=True).render(lang),
                sum(one.images),
            )
            for n, one in enumerate(series)
        ]

    async def _budget(
        self, guild_id: int, standing: BudgetStanding | None, report: UsageReport, lang: Lang
    ) -> list[tuple[str, str]] | None:
        """Return the budget's facts (name, value) as the page lists them, or None."""
        if standing is None:
            return None
        budget = standing.budget
        facts = [
            (
                t("budget.amount", lang),
                t(
                    "budget.per",
                    lang,
                    amount=Dollars(budget.amount, exact=True),
                    period=Text(f"budget_per.{budget.period}"),
                ),
            ),
            (t("budget.spent", lang), Dollars(standing.settled, up=True).render(lang)),
            (t("budget.reserved", lang), Dollars(standing.reserved, up=True).render(lang)),
            (t("budget.left", lang), Dollars(standing.left).render(lang)),
            (
                t("budget.resets", lang),
                dt.datetime.fromtimestamp(standing.resets_at, dt.UTC).date().isoformat(),
            ),
        ]
        if budget.member_cap is not None:
            facts.append(
                (t("budget.member_cap", lang), Dollars(budget.member_cap, exact=True).render(lang))
            )
        for role_id, cap in sorted((await self.bot.billing.role_caps(guild_id)).items()):
            facts.append(
                (
                    t("web.usage_role_cap", lang, role=role_id),
                    Dollars(cap, exact=True).render(lang),
                )
            )
        if report.budget is None:
            facts.append(
                (
                    t("web.usage_budget_line_name", lang),
                    t("web.usage_other_period", lang),
                )
            )
        return facts

    async def usage(self, request: web.Request) -> web.StreamResponse:
        """Show the server's spend and images per day, by model or member, with its budget."""
        guild_id = _guild(request, self.dashboard)
        lang = self.dashboard.lang(request)
        asked = request.query.get("period")
        by: Split = "member" if request.query.get("by") == "member" else "model"
        report = await self.bot.billing.usage(guild_id, asked if asked in PERIODS else None)
        standing = await self.bot.billing.standing(guild_id)
        split = charts.split(report, by)
        members = [one.key for one in split if isinstance(one.key, int)]
        names = await self.dashboard.member_names(guild_id, members)
        images = sum(count for _, count in report.images_by_day)
        days = [
            (day, Dollars(spent, up=True).render(lang), count)
            for (day, spent), (_, count) in zip(report.by_day, report.images_by_day, strict=True)
        ]
        return self.dashboard.render(
            request,
            "server_usage.html",
            guild_id=guild_id,
            name=await self.dashboard.server_name(guild_id),
            report=report,
            periods=PERIODS,
            splits=SPLITS,
            by=by,
            spend_chart=self._chart(report, split, "cost", by, lang, names),
            images_chart=self._chart(report, split, "images", by, lang, names),
            rows=self._rows(split, lang, names),
            days=days,
            total=Dollars(report.total, up=True),
            images=images,
            since=_iso_day(report.since),
            until=_iso_day(report.until - 1),
            budget=await self._budget(guild_id, standing, report, lang),
            of_budget=Text.of(
                "usage.of_budget",
                share=round(100 * report.total / report.budget),
                amount=Dollars(report.budget, exact=True),
                left=Dollars(report.left or 0),
            )
            if report.budget
            else None,
            export=f"/servers/{guild_id}/export.csv?since={_iso_day(report.since)}",
        )

    async def export(self, request: web.Request) -> web.StreamResponse:
        """Send the server's jobs as the CSV of /imagemod export (an attachment)."""
        guild_id = _guild(request, self.dashboard)
        filters = JobFilter(guild_id=guild_id, since=_since(request.query.get("since")))
        lang = self.dashboard.lang(request)
        text, count = await self.bot.moderation.export(filters, EXPORT_MAX_ROWS, lang)
        log.info("web: guild %s: %d jobs exported", guild_id, count)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
        name = f"lemonbot-jobs-{guild_id}-{stamp}.csv"
        return web.Response(
            text=text,
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def add_usage_routes(app: web.Application, dashboard: Dashboard) -> None:
    """Add the Usage page and the CSV download to the dashboard's application."""
    pages = UsagePages(dashboard)
    app.router.add_get("/servers/{guild_id}/usage", pages.usage)
    app.router.add_get("/servers/{guild_id}/export.csv", pages.export)
