"""Moderator cards: job logs and details, audit posts, settings and rule lists."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.store import BlockedUser, GuildSettings, Job, JobFilter, PromptRule, QuotaRule
from bot.ui.cards import KIND_LABELS, job_header, jump_link, thumbnail_url
from bot.ui.format import FIELD_LIMIT, code, fit_lines, limit_text, shorten, timestamp
from bot.ui.text import PERIOD_NOUNS

if TYPE_CHECKING:
    from bot.quota import QuotaStatus

SUMMARY_PROMPT = 200
DETAIL_PROMPT = 2800
AUDIT_PROMPT = 300
FILTER_ECHO_LIMIT = 100  # a filter is echoed shortened: the header must stay a header
COLOUR_AUDIT = discord.Colour.blurple()
COLOUR_BLOCKED = discord.Colour.dark_red()


def describe_filter(filters: JobFilter) -> str:
    """Return the filters as a short line, e.g. ``user <@1> · state failed``."""
    parts = []
    if filters.user_id is not None:
        parts.append(f"user <@{filters.user_id}>")
    if filters.model is not None:
        parts.append(f"model {code(filters.model, FILTER_ECHO_LIMIT)}")
    if filters.state is not None:
        parts.append(f"state {filters.state}")
    if filters.since is not None:
        parts.append(f"since {timestamp(filters.since)}")
    return " · ".join(parts) if parts else "all jobs"


def options_without_prompt(job: Job) -> dict[str, Any]:
    """Return the job's options that are set, prompt left out (it is shown apart)."""
    return {k: v for k, v in job.options.items() if k != "prompt" and v is not None}


def _with_thumbnail(embed: discord.Embed, job: Job) -> discord.Embed:
    thumb = thumbnail_url(job)
    if thumb:
        embed.set_thumbnail(url=thumb)
    return embed


def job_summary_embed(job: Job) -> discord.Embed:
    """Return one job's entry of the ``/imagemod logs`` list."""
    link = jump_link(job)
    embed = job_header(job, prompt_limit=SUMMARY_PROMPT, url=link)
    embed.add_field(name="User", value=f"<@{job.user_id}>")
    embed.add_field(name="Model", value=f"`{job.model}`")
    embed.add_field(name="When", value=timestamp(job.created_at, "R"))
    if job.error_code:
        embed.add_field(name="Error", value=f"`{job.error_code}`")
    if job.deleted_at:
        embed.add_field(name="Deleted", value=f"by <@{job.deleted_by}>")
    if link:
        embed.add_field(name="Message", value=f"[Jump]({link})")
    return _with_thumbnail(embed, job)


def job_detail_embed(job: Job) -> discord.Embed:
    """Return everything stored about one job, within Discord's embed limits."""
    link = jump_link(job)
    embed = job_header(job, prompt_limit=DETAIL_PROMPT, url=link)
    embed.add_field(name="Requester", value=f"<@{job.user_id}> (`{job.user_id}`)")
    embed.add_field(name="Channel", value=f"<#{job.channel_id}>")
    embed.add_field(name="Model", value=f"`{job.model}`")
    options = json.dumps(options_without_prompt(job), ensure_ascii=False)
    embed.add_field(name="Options", value=f"```{shorten(options, 600)}```", inline=False)
    if job.revised_prompt:
        embed.add_field(name="Revised prompt", value=shorten(job.revised_prompt, 800), inline=False)
    embed.add_field(
        name="Quota", value=f"{job.quota_units} units, {job.quota_state} ({job.quota_window})"
    )
    if job.error_code:
        detail = f"`{job.error_code}`"
        if job.error_message:
            detail += " " + shorten(job.error_message, 300)
        embed.add_field(name="Error", value=detail, inline=False)
    timings = [f"Created {timestamp(job.created_at)}"]
    if job.submitted_at:
        timings.append(f"sent after {job.submitted_at - job.created_at:.0f} s")
    if job.finished_at:
        timings.append(f"finished after {job.finished_at - job.created_at:.0f} s")
    if job.delivered_at:
        timings.append(f"delivered {timestamp(job.delivered_at, 'R')}")
    embed.add_field(name="Timings", value=", ".join(timings), inline=False)
    delivery = job.delivered_via or job.delivery_state
    embed.add_field(
        name="Delivery", value=f"{delivery}" + (f" · [jump to message]({link})" if link else "")
    )
    if job.deleted_at:
        embed.add_field(
            name="Deleted", value=f"by <@{job.deleted_by}> {timestamp(job.deleted_at, 'R')}"
        )
    if job.task_id:
        embed.add_field(name="Task", value=f"`{shorten(job.task_id, 100)}`")
    _add_lineage(embed, job)
    if job.result_urls:
        urls = fit_lines([f"<{url}>" for url in job.result_urls], 800, more="…")
        embed.add_field(name="Image URLs", value=urls, inline=False)
    embed.set_footer(text=f"Server {job.guild_id} · API user {job.api_user}")
    return _with_thumbnail(embed, job)


def finished_audit_embed(job: Job) -> discord.Embed:
    """Return the audit-channel post for a finished job."""
    embed = job_header(job, prompt_limit=AUDIT_PROMPT, url=jump_link(job))
    embed.add_field(name="User", value=f"<@{job.user_id}>")
    embed.add_field(name="Channel", value=f"<#{job.channel_id}>")
    embed.add_field(name="Model", value=f"`{job.model}`")
    if job.state == "succeeded":
        embed.add_field(name="Charged", value=f"{job.quota_units} units")
    elif job.error_code:
        embed.add_field(name="Error", value=f"`{job.error_code}`")
    _add_lineage(embed, job)
    return _with_thumbnail(embed, job)


def _add_lineage(embed: discord.Embed, job: Job) -> None:
    """Add where a job came from (Reroll, Edit, Remix) and its reference images."""
    if job.parent_id is not None:
        embed.add_field(
            name="Made from", value=f"{KIND_LABELS.get(job.kind, job.kind)} of job {job.parent_id}"
        )
    if job.input_count:
        noun = "image" if job.input_count == 1 else "images"
        embed.add_field(name="Reference", value=f"{job.input_count} {noun} (attached)")


def blocked_audit_embed(
    user_id: int, channel_id: int | None, prompt: str, rule: PromptRule
) -> discord.Embed:
    """Return the audit-channel post for a prompt refused by the blocklist."""
    kind = "regex" if rule.is_regex else "word"
    embed = discord.Embed(
        title="Prompt blocked", description=shorten(prompt, AUDIT_PROMPT), colour=COLOUR_BLOCKED
    )
    embed.add_field(name="User", value=f"<@{user_id}>")
    if channel_id is not None:
        embed.add_field(name="Channel", value=f"<#{channel_id}>")
    embed.add_field(name="Rule", value=f"#{rule.id} ({kind}) `{shorten(rule.pattern, 100)}`")
    return embed


def action_audit_embed(
    moderator_id: int, text: str, *, thumbnail: str | None = None
) -> discord.Embed:
    """Return the audit-channel post for a moderator action."""
    embed = discord.Embed(
        title="Moderator action", description=f"<@{moderator_id}> {text}", colour=COLOUR_AUDIT
    )
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    return embed


def _rule_lines(limit: int, lines: Sequence[str], empty: str) -> str:
    return fit_lines(lines, limit - 20, empty=empty)


def quota_rules_embed(
    rules: Sequence[QuotaRule],
    settings: GuildSettings,
    bot_default: int,
    member: tuple[int, QuotaStatus] | None = None,
) -> discord.Embed:
    """Return the ``/imagemod quota show`` card: default, rules, and one member's standing."""
    period = settings.quota_period
    embed = discord.Embed(title="Image quotas", colour=COLOUR_AUDIT)
    if settings.daily_limit is None:
        default = f"{limit_text(bot_default)} per {period} (bot default)"
    else:
        default = f"{limit_text(settings.daily_limit)} per {period}"
    embed.add_field(name="Server default", value=default, inline=False)
    users = [f"<@{r.target_id}>: {limit_text(r.limit_units)}" for r in rules if r.kind == "user"]
    roles = [f"<@&{r.target_id}>: {limit_text(r.limit_units)}" for r in rules if r.kind == "role"]
    embed.add_field(
        name="User overrides", value=_rule_lines(FIELD_LIMIT, users, "none"), inline=False
    )
    embed.add_field(
        name="Role limits (the most generous applies)",
        value=_rule_lines(FIELD_LIMIT, roles, "none"),
        inline=False,
    )
    if member is not None:
        user_id, status = member
        noun = PERIOD_NOUNS.get(status.period, "today")
        embed.add_field(
            name="Member",
            value=(
                f"<@{user_id}>: limit {limit_text(status.limit)}, {status.used} used {noun}, "
                f"resets {timestamp(status.resets_at, 'R')}"
            ),
            inline=False,
        )
    return embed


def config_embed(
    settings: GuildSettings,
    *,
    bot_daily_limit: int,
    bot_user_cap: int,
    bot_guild_cap: int,
    retention_days: int,
    rule_count: int,
    blocked_count: int,
) -> discord.Embed:
    """Return the ``/imagemod config`` card of a server's current settings."""
    embed = discord.Embed(title="Image moderation settings", colour=COLOUR_AUDIT)
    embed.add_field(
        name="Audit channel",
        value=f"<#{settings.log_channel_id}>" if settings.log_channel_id else "not set",
    )
    embed.add_field(
        name="Moderator role",
        value=(
            f"<@&{settings.moderator_role_id}>"
            if settings.moderator_role_id
            else "none (Manage Messages only)"
        ),
    )
    limit = bot_daily_limit if settings.daily_limit is None else settings.daily_limit
    embed.add_field(name="Default quota", value=f"{limit_text(limit)} per {settings.quota_period}")
    embed.add_field(
        name="Running jobs",
        value=(
            f"{settings.max_running_per_user or bot_user_cap} per member, "
            f"{settings.max_running_per_guild or bot_guild_cap} per server"
        ),
    )
    embed.add_field(name="Blocklist", value=f"{rule_count} entries")
    embed.add_field(name="Blocked members", value=str(blocked_count))
    embed.add_field(
        name="Log retention",
        value=f"prompts and URLs kept {retention_days} days" if retention_days else "forever",
    )
    return embed


def blocklist_embed(rules: Sequence[PromptRule]) -> discord.Embed:
    """Return the ``/imagemod blocklist list`` card."""
    lines = [
        f"`#{r.id}` {'regex' if r.is_regex else 'word'} `{shorten(r.pattern, 120)}`" for r in rules
    ]
    return discord.Embed(
        title=f"Prompt blocklist ({len(rules)})",
        description=_rule_lines(4000, lines, "The blocklist is empty."),
        colour=COLOUR_AUDIT,
    )


def blocked_users_embed(users: Sequence[BlockedUser]) -> discord.Embed:
    """Return the ``/imagemod blocked`` card."""
    lines = [
        f"<@{u.user_id}> by <@{u.blocked_by}> {timestamp(u.blocked_at, 'R')}"
        + (f": {shorten(u.reason, 100)}" if u.reason else "")
        for u in users
    ]
    return discord.Embed(
        title=f"Blocked members ({len(users)})",
        description=_rule_lines(4000, lines, "Nobody is blocked."),
        colour=COLOUR_AUDIT,
    )
