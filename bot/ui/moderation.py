"""Moderator cards: job logs and details, and audit posts (settings and rules: :mod:`rules`).

Each takes the reader's language: the moderator's for replies, the server's for the
audit channel.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import discord

from bot.i18n import Joined, LocaleLike, Renderable, Text, seconds, t
from bot.store import Job, JobFilter, PromptRule
from bot.ui.cards import has_lineage, job_header, jump_link, lineage_text, thumbnail_url
from bot.ui.format import code, fit_lines, mention, shorten, shown, timestamp

SUMMARY_PROMPT = 200
DETAIL_PROMPT = 2800
AUDIT_PROMPT = 300
FILTER_ECHO_LIMIT = 100  # a filter is echoed shortened: the header must stay a header
COLOUR_AUDIT = discord.Colour.blurple()
COLOUR_BLOCKED = discord.Colour.dark_red()


@dataclass(frozen=True)
class ReferenceFiles:
    """What became of a job's reference images in a post; the rest are no longer kept."""

    attached: int = 0
    too_large: int = 0  # over the per-file limit, or past the request's 25 MiB or 10 files
    not_attached: int = 0  # the post with them was refused, so it went without them


def rule_kind(is_regex: bool) -> Text:
    """Return what a blocklist entry is: ``regex`` or ``word``."""
    return Text("blocklist.regex" if is_regex else "blocklist.word")


def describe_filter(filters: JobFilter) -> Renderable:
    """Return the filters as a short line, e.g. ``user <@1> · state failed``."""
    parts: list[Text] = []
    if filters.user_id is not None:
        parts.append(Text.of("filter.user", user=mention(filters.user_id)))
    if filters.model is not None:
        parts.append(Text.of("filter.model", model=code(filters.model, FILTER_ECHO_LIMIT)))
    if filters.state is not None:
        parts.append(Text.of("filter.state", state=Text(f"state_name.{filters.state}")))
    if filters.since is not None:
        parts.append(Text.of("filter.since", since=timestamp(filters.since)))
    return Joined(parts, "dots") if parts else Text("filter.all")


def options_without_prompt(job: Job) -> dict[str, Any]:
    """Return the job's options that are set, prompt left out (it is shown apart)."""
    return {k: v for k, v in job.options.items() if k != "prompt" and v is not None}


def _with_thumbnail(embed: discord.Embed, job: Job) -> discord.Embed:
    thumb = thumbnail_url(job)
    if thumb:
        embed.set_thumbnail(url=thumb)
    return embed


def job_summary_embed(job: Job, locale: LocaleLike) -> discord.Embed:
    """Return one job's entry of the ``/imagemod logs`` list."""
    lang = locale
    link = jump_link(job)
    embed = job_header(job, lang, prompt_limit=SUMMARY_PROMPT, url=link)
    embed.add_field(name=t("mod.user", lang), value=mention(job.user_id))
    embed.add_field(name=t("card.model", lang), value=f"`{job.model}`")
    embed.add_field(name=t("mod.when", lang), value=timestamp(job.created_at, "R"))
    if job.error_code:
        embed.add_field(name=t("mod.error", lang), value=f"`{job.error_code}`")
    if job.deleted_at:
        embed.add_field(
            name=t("mod.deleted", lang), value=t("mod.deleted_by", lang, by=mention(job.deleted_by))
        )
    if link:
        embed.add_field(name=t("mod.message", lang), value=t("mod.jump", lang, link=link))
    return _with_thumbnail(embed, job)


def _delivery_text(job: Job) -> Text | str:
    delivery = job.delivered_via or job.delivery_state
    known = ("edit", "channel", "dm", "none", "pending", "delivered", "failed")
    return Text(f"delivery.{delivery}") if delivery in known else str(delivery)


def job_detail_embed(
    job: Job, locale: LocaleLike, references: ReferenceFiles | None = None
) -> discord.Embed:
    """Return everything stored about one job, within Discord's embed limits.

    ``references`` says which reference images go with the reply (None: none do).
    """
    lang = locale
    link = jump_link(job)
    embed = job_header(job, lang, prompt_limit=DETAIL_PROMPT, url=link)
    embed.add_field(
        name=t("mod.requester", lang), value=f"{mention(job.user_id)} (`{job.user_id}`)"
    )
    embed.add_field(name=t("mod.channel", lang), value=mention(job.channel_id, "channel"))
    embed.add_field(name=t("card.model", lang), value=f"`{job.model}`")
    options = json.dumps(options_without_prompt(job), ensure_ascii=False)
    embed.add_field(
        name=t("card.options", lang), value=f"```{shorten(options, 600)}```", inline=False
    )
    if job.revised_prompt:
        embed.add_field(
            name=t("card.revised_prompt", lang),
            value=shown(job.revised_prompt, 800),
            inline=False,
        )
    embed.add_field(
        name=t("mod.quota", lang),
        value=t(
            "mod.quota_value",
            lang,
            units=job.quota_units,
            state=Text(f"quota_state.{job.quota_state}"),
            window=job.quota_window,
        ),
    )
    if job.error_code:
        detail = f"`{job.error_code}`"
        if job.error_message:
            detail += " " + shorten(job.error_message, 300)
        embed.add_field(name=t("mod.error", lang), value=detail, inline=False)
    timings: list[str] = [t("mod.created", lang, when=timestamp(job.created_at))]
    if job.submitted_at:
        after = seconds(job.submitted_at - job.created_at, lang)
        timings.append(t("mod.sent_after", lang, duration=after))
    if job.finished_at:
        after = seconds(job.finished_at - job.created_at, lang)
        timings.append(t("mod.finished_after", lang, duration=after))
    if job.delivered_at:
        timings.append(t("mod.delivered", lang, when=timestamp(job.delivered_at, "R")))
    embed.add_field(name=t("card.timings", lang), value=Joined(timings).render(lang), inline=False)
    delivery = _delivery_text(job)
    value = delivery.render(lang) if isinstance(delivery, Text) else delivery
    if link:
        value += t("mod.jump_to_message", lang, link=link)
    embed.add_field(name=t("mod.delivery", lang), value=value)
    if job.deleted_at:
        embed.add_field(
            name=t("mod.deleted", lang),
            value=t(
                "mod.deleted_by_when",
                lang,
                by=mention(job.deleted_by),
                when=timestamp(job.deleted_at, "R"),
            ),
        )
    if job.task_id:
        embed.add_field(name=t("mod.task", lang), value=f"`{shorten(job.task_id, 100)}`")
    _add_lineage(embed, job, lang, references)
    if job.result_urls:
        urls = fit_lines([f"<{url}>" for url in job.result_urls], 800, more=lambda _: "…")
        embed.add_field(name=t("mod.image_urls", lang), value=urls, inline=False)
    embed.set_footer(
        text=t("mod.detail_footer", lang, guild_id=job.guild_id, api_user=job.api_user)
    )
    return _with_thumbnail(embed, job)


def finished_audit_embed(
    job: Job, locale: LocaleLike, references: ReferenceFiles | None = None
) -> discord.Embed:
    """Return the audit-channel post for a finished job (in the server's language).

    ``references`` says which reference images go with the post (None: none do).
    """
    lang = locale
    embed = job_header(job, lang, prompt_limit=AUDIT_PROMPT, url=jump_link(job))
    embed.add_field(name=t("mod.user", lang), value=mention(job.user_id))
    embed.add_field(name=t("mod.channel", lang), value=mention(job.channel_id, "channel"))
    embed.add_field(name=t("card.model", lang), value=f"`{job.model}`")
    if job.state == "succeeded":
        embed.add_field(
            name=t("card.charged", lang),
            value=t("mod.units", lang, units=job.quota_units),
        )
    elif job.error_code:
        embed.add_field(name=t("mod.error", lang), value=f"`{job.error_code}`")
    _add_lineage(embed, job, lang, references)
    return _with_thumbnail(embed, job)


def _add_lineage(
    embed: discord.Embed, job: Job, lang: LocaleLike, references: ReferenceFiles | None
) -> None:
    """Add how a job was made (Reroll, Edit, Remix, and from which job) and its references.

    The references line says of each image whether it is attached to this message, too
    large to attach, could not be attached, or is no longer kept (log retention).
    """
    if has_lineage(job):
        embed.add_field(name=t("card.made_from", lang), value=lineage_text(job).render(lang))
    if job.input_count:
        files = references or ReferenceFiles()
        gone = max(0, job.input_count - files.attached - files.too_large - files.not_attached)
        parts = [
            Text.of(key, count=count)
            for key, count in (
                ("mod.reference_attached", files.attached),
                ("mod.reference_too_large", files.too_large),
                ("mod.reference_not_attached", files.not_attached),
                ("mod.reference_not_kept", gone),
            )
            if count
        ]
        embed.add_field(name=t("mod.reference", lang), value=Joined(parts, "dots").render(lang))


def blocked_audit_embed(
    user_id: int, channel_id: int | None, prompt: str, rule: PromptRule, locale: LocaleLike
) -> discord.Embed:
    """Return the audit-channel post for a prompt refused by the blocklist."""
    lang = locale
    embed = discord.Embed(
        title=t("mod.prompt_blocked", lang),
        description=shown(prompt, AUDIT_PROMPT),
        colour=COLOUR_BLOCKED,
    )
    embed.add_field(name=t("mod.user", lang), value=mention(user_id))
    if channel_id is not None:
        embed.add_field(name=t("mod.channel", lang), value=mention(channel_id, "channel"))
    rule_text = t(
        "mod.rule_value",
        lang,
        id=rule.id,
        kind=rule_kind(rule.is_regex),
        pattern=f"`{shorten(rule.pattern, 100)}`",
    )
    embed.add_field(name=t("mod.rule", lang), value=rule_text)
    return embed


def action_audit_embed(
    moderator_id: int,
    text: Text,
    locale: LocaleLike,
    *,
    thumbnail: str | None = None,
    via: str | None = None,
) -> discord.Embed:
    """Return the audit-channel post for a moderator action (``via="web"``: says so)."""
    embed = discord.Embed(
        title=t("mod.action", locale),
        description=t("mod.action_text", locale, moderator=mention(moderator_id), text=text),
        colour=COLOUR_AUDIT,
    )
    if via == "web":
        embed.set_footer(text=t("mod.action_via_web", locale))
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    return embed
