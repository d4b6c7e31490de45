"""Moderator cards of a server's rules: settings, quota rules, blocklist, blocked members.

Each takes the reader's language (the moderator's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import discord

from bot.i18n import LocaleLike, Number, Renderable, Text, t
from bot.store import BlockedUser, GuildSettings, PromptRule, QuotaRule
from bot.ui.format import FIELD_LIMIT, fit_lines, limit_text, mention, shorten, timestamp
from bot.ui.moderation import COLOUR_AUDIT, rule_kind
from bot.ui.text import period_key

if TYPE_CHECKING:
    from bot.store import QuotaStatus

QUOTA_PERIODS = ("day", "week", "month")


def per_period(limit: Renderable | str, period: str) -> Text:
    """Return a limit per quota window: ``25 units per day``."""
    period = period if period in QUOTA_PERIODS else "day"
    return Text.of(f"quota.per_{period}", limit=limit)


def _rule_lines(limit: int, lines: Sequence[str], empty: str, lang: LocaleLike) -> str:
    return fit_lines(lines, limit - 20, empty=empty, locale=lang)


def quota_rules_embed(
    rules: Sequence[QuotaRule],
    settings: GuildSettings,
    bot_default: int,
    locale: LocaleLike,
    member: tuple[int, QuotaStatus] | None = None,
) -> discord.Embed:
    """Return the ``/imagemod quota show`` card: default, rules, and one member's standing."""
    lang = locale
    period = settings.quota_period
    embed = discord.Embed(title=t("mod.quotas", lang), colour=COLOUR_AUDIT)
    if settings.period_limit is None:
        default = t("mod.bot_default", lang, value=per_period(limit_text(bot_default), period))
    else:
        default = per_period(limit_text(settings.period_limit), period).render(lang)
    embed.add_field(name=t("mod.server_default", lang), value=default, inline=False)

    def line(mention: str, units: int | None) -> str:
        return t("mod.rule_line", lang, target=mention, limit=limit_text(units))

    users = [line(mention(r.target_id), r.limit_units) for r in rules if r.kind == "user"]
    roles = [line(mention(r.target_id, "role"), r.limit_units) for r in rules if r.kind == "role"]
    none = t("mod.none", lang)
    embed.add_field(
        name=t("mod.user_overrides", lang),
        value=_rule_lines(FIELD_LIMIT, users, none, lang),
        inline=False,
    )
    embed.add_field(
        name=t("mod.role_limits", lang),
        value=_rule_lines(FIELD_LIMIT, roles, none, lang),
        inline=False,
    )
    if member is not None:
        user_id, status = member
        embed.add_field(
            name=t("mod.member", lang),
            value=t(
                "mod.member_value",
                lang,
                user=mention(user_id),
                limit=limit_text(status.limit),
                used=status.used,
                period=Text(period_key(status.period)),
                resets=timestamp(status.resets_at, "R"),
            ),
            inline=False,
        )
    return embed


def config_embed(
    settings: GuildSettings,
    locale: LocaleLike,
    *,
    bot_period_limit: int,
    bot_user_cap: int,
    bot_guild_cap: int,
    retention_days: int,
    rule_count: int,
    blocked_count: int,
) -> discord.Embed:
    """Return the ``/imagemod config`` card of a server's current settings."""
    lang = locale
    embed = discord.Embed(title=t("mod.settings", lang), colour=COLOUR_AUDIT)
    embed.add_field(
        name=t("mod.audit_channel", lang),
        value=(
            mention(settings.log_channel_id, "channel")
            if settings.log_channel_id
            else t("mod.not_set", lang)
        ),
    )
    embed.add_field(
        name=t("mod.moderator_role", lang),
        value=(
            mention(settings.moderator_role_id, "role")
            if settings.moderator_role_id
            else t("mod.no_moderator_role", lang)
        ),
    )
    limit = bot_period_limit if settings.period_limit is None else settings.period_limit
    embed.add_field(
        name=t("mod.default_quota", lang),
        value=per_period(limit_text(limit), settings.quota_period).render(lang),
    )
    embed.add_field(
        name=t("mod.running_jobs", lang),
        value=t(
            "mod.running_value",
            lang,
            user=settings.max_running_per_user or bot_user_cap,
            guild=settings.max_running_per_guild or bot_guild_cap,
        ),
    )
    embed.add_field(name=t("mod.blocklist", lang), value=t("mod.entries", lang, count=rule_count))
    accents = "mod.fold_accents_on" if settings.fold_accents else "mod.fold_accents_off"
    embed.add_field(name=t("mod.fold_accents", lang), value=t(accents, lang))
    embed.add_field(
        name=t("mod.strictness", lang), value=t(f"mod.strictness_{settings.strictness}", lang)
    )
    cost = "mod.show_cost_on" if settings.cost_visible else "mod.show_cost_off"
    embed.add_field(name=t("mod.show_cost", lang), value=t(cost, lang))
    fmt = settings.output_format
    embed.add_field(
        name=t("mod.output_format", lang),
        value=t("mod.output_format_set", lang, format=fmt)
        if fmt
        else t("mod.output_format_bot", lang),
    )
    embed.add_field(name=t("mod.blocked_members", lang), value=str(blocked_count))
    embed.add_field(
        name=t("mod.retention", lang),
        value=(
            t("mod.retention_days", lang, days=retention_days)
            if retention_days
            else t("mod.forever", lang)
        ),
    )
    return embed


def blocklist_embed(
    rules: Sequence[PromptRule],
    locale: LocaleLike,
    *,
    skipped: Mapping[int, Renderable] | None = None,
    cost: tuple[int, int] | None = None,
) -> discord.Embed:
    """Return the ``/imagemod blocklist list`` card.

    ``skipped`` flags the entries not applied (rule id -> why); ``cost`` is the
    program size the applied entries use, and the server's limit.
    """
    lang = locale
    skipped = skipped or {}

    def line(rule: PromptRule) -> str:
        text = t(
            "mod.blocklist_line",
            lang,
            id=rule.id,
            kind=rule_kind(rule.is_regex),
            pattern=f"`{shorten(rule.pattern, 120)}`",
        )
        if rule.id in skipped:
            text = t("mod.blocklist_skipped", lang, line=text, why=skipped[rule.id])
        return text

    embed = discord.Embed(
        title=t("mod.blocklist_title", lang, count=len(rules)),
        description=_rule_lines(
            4000, [line(r) for r in rules], t("mod.blocklist_empty", lang), lang
        ),
        colour=COLOUR_AUDIT,
    )
    if cost is not None:
        used, limit = cost
        embed.set_footer(text=t("mod.blocklist_cost", lang, used=Number(used), max=Number(limit)))
    return embed


def blocked_users_embed(users: Sequence[BlockedUser], locale: LocaleLike) -> discord.Embed:
    """Return the ``/imagemod blocked`` card."""
    lang = locale

    def line(user: BlockedUser) -> str:
        text = t(
            "mod.blocked_line",
            lang,
            user=mention(user.user_id),
            by=mention(user.blocked_by),
            when=timestamp(user.blocked_at, "R"),
        )
        if user.reason:
            text = t("mod.with_reason", lang, text=text, reason=shorten(user.reason, 100))
        return text

    return discord.Embed(
        title=t("mod.blocked_title", lang, count=len(users)),
        description=_rule_lines(
            4000, [line(u) for u in users], t("mod.nobody_blocked", lang), lang
        ),
        colour=COLOUR_AUDIT,
    )
