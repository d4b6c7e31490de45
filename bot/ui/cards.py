"""Job cards: the embeds that show a job, built from its row, in the reader's language.

Pure functions of :class:`bot.store.Job`, reused by every delivery path (edit, channel
reply, DM) and by the moderator views, which share :func:`job_header`. The member's
cards (progress, result, failure) are in the requester's language, stored with the job
(``job.locale``), so a result delivered after a restart reads as the request did;
Details (:mod:`bot.ui.details`) is in the language of whoever pressed it. Nothing here
shows raw upstream JSON, and every text stays within Discord's limits.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import discord

from bot.catalog import Family, ImagineOptions, describe_shape, either, geometry_for
from bot.i18n import ENGLISH, LANGUAGES, Dollars, LocaleLike, Text, messages, seconds, t
from bot.store import JOB_STATES, BudgetStanding, Job
from bot.ui.format import fit_lines, mention, safe_detail, shown, timestamp
from bot.ui.text import FAILURE_CODES, period_key

if TYPE_CHECKING:
    from bot.store import QuotaStatus

PROMPT_PREVIEW = 300
COLOUR_PROGRESS = discord.Colour.gold()
COLOUR_DONE = discord.Colour.green()
COLOUR_FAILED = discord.Colour.red()
STATE_COLOURS = {
    "succeeded": COLOUR_DONE,
    "failed": COLOUR_FAILED,
    "timed_out": COLOUR_FAILED,
    "cancelled": discord.Colour.light_grey(),
}
KINDS = ("imagine", "reroll", "edit", "remix")


def state_colour(job: Job) -> discord.Colour:
    """Return the colour of a job's state (gold while it is active)."""
    return STATE_COLOURS.get(job.state, COLOUR_PROGRESS)


def state_text(state: str, locale: LocaleLike) -> str:
    """Return the label of a job state (``Generating``), or the state itself if unknown."""
    return t(f"state.{state}", locale) if state in JOB_STATES else state


def kind_text(kind: str) -> Text | str:
    """Return how a job was made (Reroll, Edit, Remix), for a lineage line."""
    return Text(f"kind.{kind}") if kind in KINDS else kind


def family_text(family: Family, locale: LocaleLike) -> str:
    """Return a model family's name (``Gemini Flash image``) in the reader's language."""
    slug = re.sub(r"[^a-z0-9]+", "-", family.name.lower()).strip("-")
    return t(f"family.{slug}", locale)


def has_lineage(job: Job) -> bool:
    """Whether a job was made from something (a job, or a message): Reroll, Edit, Remix."""
    return job.parent_id is not None or job.kind in KINDS[1:]


def lineage_text(job: Job) -> Text:
    """Return ``Reroll of job 12``: which job this one was made from, and how.

    A Remix of a member's message has no parent job: ``Remix of a message's images``.
    """
    if job.parent_id is None:
        return Text.of("card.from_message", kind=kind_text(job.kind))
    return Text.of("card.from", kind=kind_text(job.kind), parent_id=job.parent_id)


def prompt_text(job: Job, limit: int, locale: LocaleLike) -> str:
    """Return the job's prompt, escaped and shortened, or a note that retention removed it."""
    return shown(job.prompt, limit) if job.prompt else t("card.retention_removed", locale)


def ratio_text(job: Job, locale: LocaleLike) -> str:
    """Return how the job's ratio was sent (``16:9 (1360x768)``, or the model's default)."""
    options = ImagineOptions(**job.options)
    return describe_shape(options) if geometry_for(options) else t("card.ratio_default", locale)


def job_header(
    job: Job,
    locale: LocaleLike,
    *,
    title: str | None = None,
    prompt_limit: int = PROMPT_PREVIEW,
    colour: discord.Colour | None = None,
    url: str | None = None,
) -> discord.Embed:
    """Return a job's embed head: title (default ``Job N · State``), prompt and colour."""
    return discord.Embed(
        title=title or t("card.title", locale, job_id=job.id, state=state_text(job.state, locale)),
        description=prompt_text(job, prompt_limit, locale),
        colour=colour or state_colour(job),
        url=url,
    )


def failure_text(job: Job, locale: LocaleLike | None = None) -> str:
    """Return the one-paragraph explanation of why a job failed."""
    lang = job.locale if locale is None else locale
    code = job.error_code or ("timeout" if job.state == "timed_out" else "task_failed")
    code = code if code in FAILURE_CODES else "task_failed"
    text = hint_text(job, lang) or t(
        f"failure.{code}", lang, detail=safe_detail(job.error_message, lang)
    )
    if job.quota_state == "released":
        return t("failure.refunded", lang, text=text, note=t("failure.refund_note", lang))
    return text


HINT_KINDS = ("ratios", "resolutions", "model", "prompt", "parameters")


def hint_text(job: Job, locale: LocaleLike) -> str | None:
    """Return one sentence naming what the gateway's refusal allowed, or None.

    Details keeps the gateway's own message (``error_message``); this is the member's.
    """
    try:
        hint = json.loads(job.error_hint) if job.error_hint else None
    except ValueError:
        return None
    if not isinstance(hint, dict) or hint.get("kind") not in HINT_KINDS:
        return None
    values = [str(v) for v in hint.get("values") or []]
    model = f"`{job.model}`"
    kind = hint["kind"]
    if kind == "parameters":
        param = f"`{hint.get('param') or '?'}`"
        if not values:
            return t("failure.hint_parameter_none", locale, model=model, param=param)
        shown_values = either([f"{v}" for v in values])
        return t("failure.hint_parameters", locale, model=model, param=param, choices=shown_values)
    if kind == "prompt" and values:
        return t("failure.hint_prompt", locale, model=model, limit=values[0])
    if kind == "model" and values:
        return t("failure.hint_model", locale, model=model, suggestion=f"`{values[0]}`")
    if kind in ("ratios", "resolutions") and values:
        return t(f"failure.hint_{kind}", locale, model=model, choices=either(values))
    return None


def footer_text(job_id: int, locale: LocaleLike) -> str:
    """Return a member card's footer, ``Job N`` (Remix reads it back: :func:`footer_job`)."""
    return t("card.footer", locale, job_id=job_id)


def footer_job(text: str) -> int | None:
    """Return the job a card footer names, in any language, or None."""
    for lang in LANGUAGES:
        head, _, tail = str(messages(lang).template("card.footer")).partition("{job_id}")
        match = re.fullmatch(re.escape(head) + r"([0-9]+)" + re.escape(tail), text)
        if match:
            return int(match[1])
    return None


def _member_card(job: Job, title: str, colour: discord.Colour) -> discord.Embed:
    lang = job.locale
    embed = job_header(job, lang, title=title, colour=colour)
    embed.add_field(name=t("card.model", lang), value=f"`{job.model}`")
    embed.add_field(name=t("card.ratio", lang), value=ratio_text(job, lang))
    replaced = job.options.get("replaced_model")
    if replaced:
        embed.add_field(
            name=t("card.model_used", lang),
            value=t("card.model_replaced", lang, replaced=replaced, model=job.model),
            inline=False,
        )
    if job.parent_id is not None:
        embed.add_field(name=t("card.from_title", lang), value=lineage_text(job).render(lang))
    embed.set_footer(text=footer_text(job.id, lang))
    return embed


def option_value(name: str, value: object) -> Text | str:
    """Return an option's value as members read it (qualities and styles translated)."""
    if name in ("quality", "style") and isinstance(value, str):
        key = f"{name}.{value}"
        if messages(ENGLISH).template(key) is not None:
            return Text(key)
    return str(value)


def state_label(job: Job, position: int | None = None) -> str:
    """Return the progress state line, with the queue position of a waiting job."""
    if job.state == "queued":
        if position is None:
            return t("state.starting", job.locale)
        return t("state.queued_at", job.locale, position=position)
    return state_text(job.state, job.locale)


def progress_embed(job: Job, position: int | None = None) -> discord.Embed:
    """Return the embed shown while a job waits or generates."""
    lang = job.locale
    embed = _member_card(job, t("progress.title", lang), COLOUR_PROGRESS)
    embed.add_field(name=t("progress.state", lang), value=state_label(job, position))
    embed.add_field(name=t("progress.started", lang), value=timestamp(job.created_at, "R"))
    return embed


def result_embed(job: Job, *, image_ref: str | None) -> discord.Embed:
    """Return the embed of a finished job; ``image_ref`` is an attachment:// or https URL."""
    lang = job.locale
    count = len(job.result_urls) or 1
    title = t("result.title_one", lang) if count == 1 else t("result.title", lang, count=count)
    embed = _member_card(job, title, COLOUR_DONE)
    embed.add_field(name=t("result.requested_by", lang), value=mention(job.user_id))
    if job.finished_at:
        took = seconds(job.finished_at - job.created_at, lang)
        embed.add_field(name=t("result.took", lang), value=took)
    if job.revised_prompt:
        embed.add_field(
            name=t("card.revised_prompt", lang),
            value=shown(job.revised_prompt, 1000),
            inline=False,
        )
    if image_ref:
        embed.set_image(url=image_ref)
    return embed


def result_notes(job: Job, *, arrived: int, unshown: int) -> list[tuple[str, str]]:
    """Return notes for a result card: fewer images than asked, images not shown."""
    lang = job.locale
    notes = []
    asked = job.images_asked
    if arrived < asked:
        notes.append(
            (
                t("result.fewer_title", lang),
                t("result.fewer", lang, arrived=arrived, asked=asked),
            )
        )
    if unshown:
        notes.append((t("result.unshown_title", lang), t("result.unshown", lang, count=unshown)))
    return notes


def too_large_field(job: Job) -> str:
    """Return the name of the result card's field of links too large to attach."""
    return t("result.too_large_title", job.locale)


def links_text(job: Job, links: str) -> str:
    """Return the message text above links to images too large to attach."""
    return t("result.too_large", job.locale, links=links)


def posted_text(job: Job, via: str) -> str:
    """Return the text of a result posted as a DM or a channel reply (mentions the member)."""
    lang = job.locale
    if via == "dm":
        return t("result.dm", lang, channel=mention(job.channel_id, "channel"))
    key = "result.ready" if job.state == "succeeded" else "result.ended"
    return t(key, lang, user=mention(job.user_id))


def failure_embed(job: Job) -> discord.Embed:
    """Return the embed of a failed, timed-out or cancelled job."""
    lang = job.locale
    embed = _member_card(job, t("failure.title", lang), COLOUR_FAILED)
    embed.add_field(name=t("failure.what_happened", lang), value=failure_text(job), inline=False)
    return embed


def quota_embed(
    status: QuotaStatus,
    running: int,
    queued: int,
    costs: list[tuple[str, int]],
    locale: LocaleLike,
    budget: tuple[BudgetStanding, int] | None = None,
) -> discord.Embed:
    """Return the /quota card: usage, reset time, jobs in flight and per-model costs.

    ``budget``: the server's dollar budget now and what this member spent of it.
    """
    lang = locale
    period = Text(period_key(status.period))
    if status.limit is None:
        usage = t("quota.usage_unlimited", lang, used=status.used, period=period)
    else:
        usage = t(
            "quota.usage",
            lang,
            used=status.used,
            limit=status.limit,
            remaining=status.remaining,
            period=period,
        )
    embed = discord.Embed(title=t("quota.title", lang), colour=COLOUR_PROGRESS)
    embed.add_field(name=t("quota.usage_title", lang), value=usage, inline=False)
    reset = t(
        "quota.resets",
        lang,
        relative=timestamp(status.resets_at, "R"),
        date=timestamp(status.resets_at, "f"),
    )
    embed.add_field(name=t("quota.resets_title", lang), value=reset)
    embed.add_field(
        name=t("quota.jobs_title", lang),
        value=t("quota.jobs", lang, running=running, queued=queued),
    )
    if costs:
        lines = [f"`{model}`: {cost}" for model, cost in costs]
        embed.add_field(
            name=t("quota.costs_title", lang),
            value=fit_lines(lines, 1024, locale=lang),
            inline=False,
        )
    if budget is not None:
        standing, mine = budget
        lines = [
            t(
                "quota.budget_server",
                lang,
                left=Dollars(standing.left),
                amount=Dollars(standing.budget.amount, exact=True),
                period=Text(f"budget_period.{standing.budget.period}"),
            )
        ]
        if (cap := standing.budget.member_cap) is not None:
            left = Dollars(max(0, min(cap - mine, standing.left)))
            lines.append(t("quota.budget_member", lang, left=left, cap=Dollars(cap, exact=True)))
        embed.add_field(name=t("quota.budget_title", lang), value="\n".join(lines), inline=False)
    return embed


def jump_link(job: Job) -> str | None:
    """Return a link to the job's delivered message (or its progress message), or None."""
    if job.delivered_message_id is not None and job.delivered_channel_id is not None:
        where = "@me" if job.delivered_via == "dm" else str(job.guild_id)
        return (
            f"https://discord.com/channels/{where}/{job.delivered_channel_id}/"
            f"{job.delivered_message_id}"
        )
    if job.message_id is not None:
        return f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{job.message_id}"
    return None


def thumbnail_url(job: Job) -> str | None:
    """Return the first http(s) image URL of a job, or None."""
    return next((u for u in job.result_urls if u.startswith(("http://", "https://"))), None)
