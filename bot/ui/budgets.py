"""Budget cards: a budget's standing, the audit post of a threshold, the usage report.

``/imagemod usage``'s chart is attached as :data:`USAGE_CHART`.
"""

from __future__ import annotations

import discord

from bot.i18n import Dollars, LocaleLike, Text, t
from bot.store import Budget, BudgetStanding, UsageReport
from bot.ui.format import fit_lines, mention, timestamp
from bot.ui.moderation import COLOUR_AUDIT

USAGE_CHART = "spend-chart.png"
USAGE_TOP = 10  # members and models named in the report


def budget_embed(standing: BudgetStanding | None, locale: LocaleLike) -> discord.Embed:
    """Return the card of a server's budget: amount, spent, reserved, left, reset."""
    embed = discord.Embed(title=t("budget.title", locale), colour=COLOUR_AUDIT)
    if standing is None:
        embed.description = t("budget.none", locale)
        return embed
    budget = standing.budget
    period = Text(f"budget_per.{budget.period}")
    embed.add_field(
        name=t("budget.amount", locale),
        value=t("budget.per", locale, amount=Dollars(budget.amount, exact=True), period=period),
    )
    embed.add_field(
        name=t("budget.spent", locale), value=Dollars(standing.settled, up=True).render(locale)
    )
    embed.add_field(
        name=t("budget.reserved", locale), value=Dollars(standing.reserved, up=True).render(locale)
    )
    embed.add_field(name=t("budget.left", locale), value=Dollars(standing.left).render(locale))
    embed.add_field(name=t("budget.resets", locale), value=timestamp(standing.resets_at, "D"))
    if budget.member_cap is not None:
        embed.add_field(
            name=t("budget.member_cap", locale),
            value=Dollars(budget.member_cap, exact=True).render(locale),
        )
    unpriced = "budget.unpriced_allowed" if budget.allow_unpriced else "budget.unpriced_refused"
    embed.add_field(name=t("budget.unpriced", locale), value=t(unpriced, locale), inline=False)
    return embed


def alert_embed(budget: Budget, settled: int, threshold: int, locale: LocaleLike) -> discord.Embed:
    """Return the audit post of a budget threshold reached."""
    return discord.Embed(
        title=t("budget.alert_title", locale, threshold=threshold),
        description=t(
            "budget.alert_text",
            locale,
            spent=Dollars(settled, up=True),
            amount=Dollars(budget.amount, exact=True),
            period=Text(f"budget_per.{budget.period}"),
        ),
        colour=COLOUR_AUDIT,
    )


def usage_embed(report: UsageReport, locale: LocaleLike) -> discord.Embed:
    """Return ``/imagemod usage``: the window's spend in all, per member and per model."""
    embed = discord.Embed(
        title=t(
            "usage.title",
            locale,
            period=Text(f"budget_period.{report.period}"),
        ),
        description=t(
            "usage.total",
            locale,
            total=Dollars(report.total, up=True),
            jobs=report.jobs,
            images=sum(count for _, count in report.images_by_day),
            since=timestamp(report.since, "D"),
        ),
        colour=COLOUR_AUDIT,
    )
    if report.budget is not None:
        embed.add_field(
            name=t("budget.amount", locale),
            value=t(
                "usage.of_budget",
                locale,
                amount=Dollars(report.budget, exact=True),
                share=round(100 * report.total / report.budget) if report.budget else 0,
                left=Dollars(report.left or 0),
            ),
            inline=False,
        )
    members = [
        f"{mention(user)}: {Dollars(cost, up=True).render(locale)}"
        for user, cost in report.by_member[:USAGE_TOP]
    ]
    models = [
        f"`{model}`: {Dollars(cost, up=True).render(locale)}"
        for model, cost in report.by_model[:USAGE_TOP]
    ]
    if members:
        embed.add_field(
            name=t("usage.by_member", locale), value=fit_lines(members, 1024, locale=locale)
        )
        embed.add_field(
            name=t("usage.by_model", locale), value=fit_lines(models, 1024, locale=locale)
        )
    else:
        embed.add_field(name=t("usage.by_member", locale), value=t("usage.nothing", locale))
    embed.set_image(url=f"attachment://{USAGE_CHART}")
    return embed
