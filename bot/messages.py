"""What the user sees: progress, result and failure embeds, built from a job row.

Pure functions of :class:`bot.db.Job`, so they can be tested without Discord and
reused by every delivery path (edit, channel reply, DM). Nothing here shows raw
upstream JSON, and every text stays within Discord's limits.
"""

from __future__ import annotations

import re

import discord

from bot.catalog import ImagineOptions, describe_shape
from bot.db import Job
from bot.quota import PERIOD_NOUNS, QuotaStatus

PROMPT_PREVIEW = 300
DETAIL_LIMIT = 160
COLOUR_PROGRESS = discord.Colour.gold()
COLOUR_DONE = discord.Colour.green()
COLOUR_FAILED = discord.Colour.red()

STATE_LABELS = {
    "queued": "Waiting for a free slot",
    "submitted": "Sent to the image service",
    "running": "Generating",
    "succeeded": "Done",
    "failed": "Failed",
    "timed_out": "Timed out",
    "cancelled": "Cancelled",
}

# error_code (stored on the job) -> what the user is told. "{detail}" is optional.
FAILURE_TEXT = {
    "content_policy": "The image service refused this prompt under its content policy.",
    "insufficient_balance": (
        "The image service balance for this server is empty. Please tell a server admin."
    ),
    "auth": "The bot's image service key was rejected. Please tell a server admin.",
    "rate_limited": "The image service is busy right now. Please try again in a minute.",
    "unavailable": "The image service is unavailable right now. Please try again later.",
    "bad_request": "The image service rejected this request{detail}.",
    "task_failed": "The image service could not make this image{detail}.",
    "timeout": "The image service took too long, so the bot gave up waiting.",
    "interrupted": (
        "The bot restarted while this image was being made and could not collect it. "
        "Please try again."
    ),
    "expired": "The image was made, but its link expired before the bot could fetch it.",
    "malformed": "The image service sent an answer the bot could not read.",
    "not_delivered": "The image could not be posted.",
    "cancelled": "This request was cancelled before it was sent to the image service.",
}
REFUND_NOTE = "It did not count against your quota."


def shorten(text: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` characters with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def safe_detail(message: str | None) -> str:
    """Return a short, human part of an upstream error message, or ``''``."""
    if not message:
        return ""
    text = re.sub(r"[{}\[\]\"`]", "", message)
    text = re.sub(r"https?://\S+", "", text)
    text = shorten(text, DETAIL_LIMIT).rstrip(".")
    return f": {text}" if text else ""


def failure_text(job: Job) -> str:
    """Return the one-paragraph explanation of why a job failed."""
    code = job.error_code or ("timeout" if job.state == "timed_out" else "task_failed")
    template = FAILURE_TEXT.get(code, FAILURE_TEXT["task_failed"])
    text = template.format(detail=safe_detail(job.error_message))
    if job.quota_state == "released":
        text += " " + REFUND_NOTE
    return text


def _options(job: Job) -> ImagineOptions:
    return ImagineOptions(**job.options)


def _base_embed(job: Job, title: str, colour: discord.Colour) -> discord.Embed:
    embed = discord.Embed(
        title=title, description=shorten(job.prompt, PROMPT_PREVIEW), colour=colour
    )
    embed.add_field(name="Model", value=f"`{job.model}`")
    embed.add_field(name="Ratio", value=describe_shape(_options(job)))
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
    embed = _base_embed(job, "Generating your image…", COLOUR_PROGRESS)
    embed.add_field(name="State", value=state_label(job, position))
    embed.add_field(name="Started", value=f"<t:{int(job.created_at)}:R>")
    embed.set_footer(text=f"Job {job.id}")
    return embed


def result_embed(job: Job, *, image_ref: str | None) -> discord.Embed:
    """Return the embed of a finished job; ``image_ref`` is an attachment:// or https URL."""
    count = len(job.result_urls) or 1
    title = "Here is your image" if count == 1 else f"Here are your {count} images"
    embed = _base_embed(job, title, COLOUR_DONE)
    embed.add_field(name="Requested by", value=f"<@{job.user_id}>")
    if job.finished_at:
        embed.add_field(name="Took", value=f"{job.finished_at - job.created_at:.0f} s")
    if job.revised_prompt:
        embed.add_field(
            name="Revised prompt", value=shorten(job.revised_prompt, 1000), inline=False
        )
    if image_ref:
        embed.set_image(url=image_ref)
    embed.set_footer(text=f"Job {job.id}")
    return embed


def failure_embed(job: Job) -> discord.Embed:
    """Return the embed of a failed, timed-out or cancelled job."""
    embed = _base_embed(job, "No image this time", COLOUR_FAILED)
    embed.add_field(name="What happened", value=failure_text(job), inline=False)
    embed.set_footer(text=f"Job {job.id}")
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
    embed.add_field(name="Resets", value=f"<t:{status.resets_at}:R> (<t:{status.resets_at}:f>)")
    embed.add_field(name="Jobs", value=f"{running} running, {queued} waiting")
    if costs:
        lines = [f"`{model}`: {cost}" for model, cost in costs[:20]]
        embed.add_field(
            name="Cost of one image (4k counts double)",
            value="\n".join(lines)[:1024],
            inline=False,
        )
    return embed
