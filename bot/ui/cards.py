"""Job cards: the embeds that show a job, built from its row.

Pure functions of :class:`bot.store.Job`, reused by every delivery path (edit, channel
reply, DM) and by the moderator views, which share :func:`job_header`. Nothing here
shows raw upstream JSON, and every text stays within Discord's limits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from bot.catalog import ImagineOptions, describe_shape
from bot.store import Job
from bot.ui.format import fit_lines, safe_detail, shorten, timestamp
from bot.ui.text import FAILURE_TEXT, PERIOD_NOUNS, REFUND_NOTE, RETENTION_REMOVED, STATE_LABELS

if TYPE_CHECKING:
    from bot.quota import QuotaStatus

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


def state_colour(job: Job) -> discord.Colour:
    """Return the colour of a job's state (gold while it is active)."""
    return STATE_COLOURS.get(job.state, COLOUR_PROGRESS)


def prompt_text(job: Job, limit: int) -> str:
    """Return the job's prompt, shortened, or a note that retention removed it."""
    return shorten(job.prompt, limit) if job.prompt else RETENTION_REMOVED


def job_header(
    job: Job,
    *,
    title: str | None = None,
    prompt_limit: int = PROMPT_PREVIEW,
    colour: discord.Colour | None = None,
    url: str | None = None,
) -> discord.Embed:
    """Return a job's embed head: title (default ``Job N · State``), prompt and colour."""
    return discord.Embed(
        title=title or f"Job {job.id} · {STATE_LABELS.get(job.state, job.state)}",
        description=prompt_text(job, prompt_limit),
        colour=colour or state_colour(job),
        url=url,
    )


def failure_text(job: Job) -> str:
    """Return the one-paragraph explanation of why a job failed."""
    code = job.error_code or ("timeout" if job.state == "timed_out" else "task_failed")
    template = FAILURE_TEXT.get(code, FAILURE_TEXT["task_failed"])
    text = template.format(detail=safe_detail(job.error_message))
    if job.quota_state == "released":
        text += " " + REFUND_NOTE
    return text


KIND_LABELS = {"reroll": "Reroll", "edit": "Edit", "remix": "Remix"}
DETAIL_PROMPT = 3500


def _member_card(job: Job, title: str, colour: discord.Colour) -> discord.Embed:
    embed = job_header(job, title=title, colour=colour)
    embed.add_field(name="Model", value=f"`{job.model}`")
    embed.add_field(name="Ratio", value=describe_shape(ImagineOptions(**job.options)))
    replaced = job.options.get("replaced_model")
    if replaced:
        embed.add_field(
            name="Model used",
            value=f"`{replaced}` takes no reference image, so `{job.model}` made this edit.",
            inline=False,
        )
    if job.parent_id is not None:
        kind = KIND_LABELS.get(job.kind, job.kind)
        embed.add_field(name="From", value=f"{kind} of job {job.parent_id}")
    embed.set_footer(text=f"Job {job.id}")
    return embed


def details_embed(job: Job) -> discord.Embed:
    """Return the private Details of a result: everything a member may know about it."""
    embed = job_header(
        job, title=f"Job {job.id} · details", prompt_limit=DETAIL_PROMPT, colour=COLOUR_DONE
    )
    if job.revised_prompt:
        embed.add_field(
            name="Revised prompt", value=shorten(job.revised_prompt, 1000), inline=False
        )
    embed.add_field(name="Model", value=f"`{job.model}`")
    embed.add_field(name="Ratio", value=describe_shape(ImagineOptions(**job.options)))
    chosen = {
        k: v
        for k, v in job.options.items()
        if k in ("resolution", "quality", "count", "style") and v not in (None, 1)
    }
    if chosen:
        embed.add_field(name="Options", value=", ".join(f"{k} {v}" for k, v in chosen.items()))
    embed.add_field(name="Charged", value=f"{job.quota_units} ({job.quota_state})")
    timings = [f"asked {timestamp(job.created_at, 'R')}"]
    if job.submitted_at and job.finished_at:
        timings.append(f"made in {job.finished_at - job.submitted_at:.0f} s")
    embed.add_field(name="Timings", value=", ".join(timings), inline=False)
    if job.parent_id is not None:
        kind = KIND_LABELS.get(job.kind, job.kind)
        embed.add_field(name="Made from", value=f"{kind} of job {job.parent_id}")
    if job.input_count:
        embed.add_field(name="Reference images", value=str(job.input_count))
    embed.set_footer(text=f"Job {job.id}")
    return embed


def state_label(job: Job, position: int | None = None) -> str:
    """Return the progress state line, with the queue position of a waiting job."""
    if job.state == "queued":
        if position is None:
            return "Starting"
        return f"Waiting for a free slot: #{position} in this server's queue"
    return STATE_LABELS.get(job.state, job.state)


def progress_embed(job: Job, position: int | None = None) -> discord.Embed:
    """Return the embed shown while a job waits or generates."""
    embed = _member_card(job, "Generating your image…", COLOUR_PROGRESS)
    embed.add_field(name="State", value=state_label(job, position))
    embed.add_field(name="Started", value=timestamp(job.created_at, "R"))
    return embed


def result_embed(job: Job, *, image_ref: str | None) -> discord.Embed:
    """Return the embed of a finished job; ``image_ref`` is an attachment:// or https URL."""
    count = len(job.result_urls) or 1
    title = "Here is your image" if count == 1 else f"Here are your {count} images"
    embed = _member_card(job, title, COLOUR_DONE)
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>")
    if job.finished_at:
        embed.add_field(name="Took", value=f"{job.finished_at - job.created_at:.0f} s")
    if job.revised_prompt:
        embed.add_field(
            name="Revised prompt", value=shorten(job.revised_prompt, 1000), inline=False
        )
    if image_ref:
        embed.set_image(url=image_ref)
    return embed


def result_notes(job: Job, *, arrived: int, unshown: int) -> list[tuple[str, str]]:
    """Return notes for a result card: fewer images than asked, images not shown."""
    notes = []
    asked = int(job.options.get("count") or 1)
    if arrived < asked:
        notes.append(
            (
                "Fewer images",
                f"The image service made {arrived} of the {asked} images asked for; "
                f"only {arrived} counted against your quota.",
            )
        )
    if unshown:
        noun = "image was" if unshown == 1 else "images were"
        notes.append(
            (
                "Not shown",
                f"{unshown} {noun} too large to post here and came without a link; "
                "they did not count against your quota.",
            )
        )
    return notes


def failure_embed(job: Job) -> discord.Embed:
    """Return the embed of a failed, timed-out or cancelled job."""
    embed = _member_card(job, "No image this time", COLOUR_FAILED)
    embed.add_field(name="What happened", value=failure_text(job), inline=False)
    return embed


def quota_embed(
    status: QuotaStatus, running: int, queued: int, costs: list[tuple[str, int]]
) -> discord.Embed:
    """Return the /quota card: usage, reset time, jobs in flight and per-model costs."""
    noun = PERIOD_NOUNS.get(status.period, "today")
    if status.limit is None:
        usage = f"{status.used} used {noun} (no limit)"
    else:
        usage = f"{status.used} of {status.limit} used {noun}, {status.remaining} left"
    embed = discord.Embed(title="Your image quota", colour=COLOUR_PROGRESS)
    embed.add_field(name="Usage", value=usage, inline=False)
    reset = f"{timestamp(status.resets_at, 'R')} ({timestamp(status.resets_at, 'f')})"
    embed.add_field(name="Resets", value=reset)
    embed.add_field(name="Jobs", value=f"{running} running, {queued} waiting")
    if costs:
        lines = [f"`{model}`: {cost}" for model, cost in costs]
        embed.add_field(
            name="Cost of one image (4k counts double)",
            value=fit_lines(lines, 1024),
            inline=False,
        )
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
