"""Delivery: show a job's progress and outcome to its requester, whatever it takes.

The outcome goes, in order of preference:

1. ``edit``: the original interaction response is edited (interaction webhook), while
   the interaction token is still valid (Discord keeps it for 15 minutes; the bot
   stops trusting it a minute early);
2. ``channel``: a reply to the progress message in the channel, mentioning the
   requester, when the edit is refused (token expired or unknown, 401, 10015, 10062,
   50027) or any other error;
3. ``dm``: a direct message, when the channel is gone or forbidden.

The path that worked is recorded on the job. Images travel as attachments, read from
the database (they were downloaded at completion); an image larger than the
interaction's upload limit is shown by URL instead.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord

from bot.background import Background
from bot.lemondata.images import EXTENSIONS
from bot.store import Job, Store, StoredImage
from bot.ui.cards import failure_embed, progress_embed, result_embed
from bot.ui.format import fit_lines

log = logging.getLogger(__name__)

TOKEN_SAFETY_MARGIN = 60.0
PROGRESS_MIN_INTERVAL = 5.0
# What one delivery path may fail with; the next path (or a later attempt) is tried.
DELIVERY_ERRORS = (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError, ValueError)
# Room for links in a message's content (2,000 characters), leaving space for a headline.
LINKS_CONTENT_LIMIT = 1600


@dataclass(frozen=True)
class Outcome:
    """The parts of a delivered message, rebuilt for every attempt (files are one-shot)."""

    embed: discord.Embed
    images: tuple[tuple[str, bytes], ...]
    links: tuple[str, ...]

    def files(self) -> list[discord.File]:
        """Return fresh ``discord.File`` objects for one send."""
        return [discord.File(io.BytesIO(data), filename=name) for name, data in self.images]


class Delivery:
    """Edit, reply or DM a job's progress and outcome through the bot's REST session."""

    def __init__(self, client: discord.Client, store: Store, background: Background) -> None:
        self._client = client
        self._store = store
        self._background = background
        self._locks: dict[int, asyncio.Lock] = {}
        self._last_progress: dict[int, float] = {}
        self._pending_progress: dict[int, asyncio.Task[Any]] = {}

    def token_usable(self, job: Job) -> bool:
        """Whether the job's interaction token can still be trusted for an edit."""
        if not job.interaction_token or job.token_expires_at is None:
            return False
        return time.time() < job.token_expires_at - TOKEN_SAFETY_MARGIN

    # ------------------------------------------------------------------ progress

    async def progress(self, job: Job, position: int | None = None) -> None:
        """Show the job's state (and queue position) on its progress message.

        Edits are throttled to one every few seconds per job: a change arriving sooner
        is shown when the interval has passed, with the job's state at that time.
        """
        if job.terminal or not self.token_usable(job) or job.id in self._pending_progress:
            return
        wait = self._last_progress.get(job.id, -PROGRESS_MIN_INTERVAL) + PROGRESS_MIN_INTERVAL
        wait -= time.monotonic()
        if wait > 0:
            self._pending_progress[job.id] = self._background.spawn(
                self._progress_later(job.id, wait), f"progress-{job.id}"
            )
            return
        await self._edit_progress(job, position)

    async def _progress_later(self, job_id: int, wait: float) -> None:
        await asyncio.sleep(wait)
        self._pending_progress.pop(job_id, None)
        job = await self._store.jobs.get(job_id)
        if job is not None and not job.terminal:
            position = (
                await self._store.jobs.queue_position(job_id) if job.state == "queued" else None
            )
            await self._edit_progress(job, position)

    async def _edit_progress(self, job: Job, position: int | None) -> None:
        async with self._lock(job.id):
            # Re-read under the lock: a result delivered meanwhile must not be replaced.
            current = await self._store.jobs.get(job.id)
            if current is None or current.terminal:
                return
            job = current
            self._last_progress[job.id] = time.monotonic()
            # A waiting card keeps its Cancel button; once the job has started it goes.
            view: Any = discord.utils.MISSING if job.state == "queued" else None
            try:
                await self._webhook(job).edit_message(
                    self._original(job), embed=progress_embed(job, position), view=view
                )
            except (discord.HTTPException, ValueError) as exc:
                log.info("job %s: progress edit failed: %s", job.id, _describe(exc))

    # ------------------------------------------------------------------ outcome

    async def deliver(self, job: Job, *, final: bool = True) -> str | None:
        """Deliver a terminal job's outcome; return the path used, or None if none worked.

        A success is recorded on the job. A failure is recorded only when ``final``;
        otherwise the job stays pending for another attempt.
        """
        pending = self._pending_progress.pop(job.id, None)
        if pending is not None:
            pending.cancel()
        outcome = await self._outcome(job)
        async with self._lock(job.id):
            via, message = await self._send(job, outcome)
        if via is None and not final:
            return None
        self._locks.pop(job.id, None)
        self._last_progress.pop(job.id, None)
        await self._store.jobs.mark_delivered(
            job.id,
            via=via or "none",
            channel_id=message.channel.id if message else None,
            message_id=message.id if message else None,
            delivered=via is not None,
        )
        if via is not None and job.state == "succeeded":
            await self._store.jobs.drop_image_data(job.id)
        log.info("job %s: outcome %s delivered via %s", job.id, job.state, via)
        return via

    async def _outcome(self, job: Job) -> Outcome:
        if job.state != "succeeded":
            return Outcome(failure_embed(job), (), ())
        stored = await self._store.jobs.load_images(job.id)
        images, links = _split_by_limit(job, stored)
        ref = f"attachment://{images[0][0]}" if images else (links[0] if links else None)
        embed = result_embed(job, image_ref=ref)
        if links and not images:
            embed.add_field(name="Too large to attach", value=join_links(links, 1024))
        unshown = len(stored) - len(images) - len(links)
        if unshown:
            embed.add_field(
                name="Not shown",
                value=f"{unshown} image(s) too large to post here (no link was given).",
            )
        return Outcome(embed, tuple(images), tuple(links))

    async def _send(self, job: Job, outcome: Outcome) -> tuple[str | None, discord.Message | None]:
        mention = discord.AllowedMentions(users=[discord.Object(job.user_id)])
        content = _link_text(outcome)
        if self.token_usable(job):
            try:
                message = await self._webhook(job).edit_message(
                    self._original(job),
                    content=content,
                    embed=outcome.embed,
                    attachments=outcome.files(),
                    allowed_mentions=mention,
                    view=None,  # removes a Cancel button left on a waiting card
                )
                return "edit", message
            except DELIVERY_ERRORS as exc:
                log.warning(
                    "job %s: edit of the original response failed: %s", job.id, _describe(exc)
                )
        headline = f"<@{job.user_id}> " + (
            "your image is ready." if job.state == "succeeded" else "your image request ended."
        )
        if content:
            headline += "\n" + content
        channel = self._client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        reference = (
            discord.MessageReference(
                message_id=job.message_id, channel_id=job.channel_id, fail_if_not_exists=False
            )
            if job.message_id
            else None
        )
        try:
            posted = await channel.send(
                content=headline,
                embed=outcome.embed,
                files=outcome.files(),
                reference=reference,  # type: ignore[arg-type]
                allowed_mentions=mention,
            )
            return "channel", posted
        except DELIVERY_ERRORS as exc:
            log.warning("job %s: channel post failed: %s", job.id, _describe(exc))
        try:
            dm = await self._client.create_dm(discord.Object(job.user_id))
            sent = await dm.send(
                content=f"Your image request in <#{job.channel_id}> ended; here is the result.",
                embed=outcome.embed,
                files=outcome.files(),
            )
            return "dm", sent
        except DELIVERY_ERRORS as exc:
            log.warning("job %s: could not deliver the outcome at all: %s", job.id, _describe(exc))
        return None, None

    # ------------------------------------------------------------------ helpers

    def _webhook(self, job: Job) -> discord.Webhook:
        if not job.interaction_token:
            raise ValueError("job has no interaction token")
        return discord.Webhook.partial(
            job.application_id, job.interaction_token, client=self._client
        )

    @staticmethod
    def _original(job: Job) -> Any:
        # Discord accepts "@original" wherever an interaction message id goes.
        return job.message_id or "@original"

    def _lock(self, job_id: int) -> asyncio.Lock:
        return self._locks.setdefault(job_id, asyncio.Lock())


def _split_by_limit(
    job: Job, stored: list[StoredImage]
) -> tuple[list[tuple[str, bytes]], list[str]]:
    """Split images into attachments (within the upload limit) and links (too large)."""
    images: list[tuple[str, bytes]] = []
    links: list[str] = []
    for image in stored:
        if image.data is not None and len(image.data) <= job.upload_limit:
            ext = EXTENSIONS.get(image.content_type, "png")
            images.append((f"lemonbot-{job.id}-{image.position + 1}.{ext}", image.data))
        elif image.url:
            links.append(image.url)
    return images, links


def join_links(links: Sequence[str], limit: int) -> str:
    """Join whole links, one per line, within ``limit`` characters ("+N more" after)."""
    return fit_lines(links, limit, more="(+{count} more)")


def _link_text(outcome: Outcome) -> str | None:
    if not outcome.links or not outcome.images:
        return None
    return "Too large to attach:\n" + join_links(outcome.links, LINKS_CONTENT_LIMIT)


def _describe(exc: Exception) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"HTTP {exc.status} (code {exc.code})"
    return type(exc).__name__
