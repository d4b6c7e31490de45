"""Delivery: show a job's progress and outcome to its requester, whatever it takes.

The outcome goes, in order of preference:

1. ``edit``: the original interaction response is edited (interaction webhook), while
   the interaction token is still valid (Discord keeps it for 15 minutes; the bot
   stops trusting it a minute early); further parts follow as follow-up messages;
2. ``channel``: a reply to the progress message in the channel, mentioning the
   requester, when the edit is refused (token expired or unknown, 401, 10015, 10062,
   50027) or any other error;
3. ``dm``: a direct message, when the channel is gone or forbidden.

Images travel as attachments, as the runner hands them over at completion (read from the
store when a retry or a restart delivers), spread over as many messages as Discord's
upload limits need (see :mod:`bot.ui.parts`); an image too large to attach is linked.
Each part that got through is recorded at once, so that a retry (or a restart) carries
on after it; a channel or DM post carries a nonce derived from the job and the part,
with which Discord itself drops a repeated post (within a few minutes). A follow-up of
the edit cannot: Discord's execute-webhook takes no nonce, so one posted just before a
kill, and not yet recorded, is posted again after the restart. Recording the outcome as
delivered (or failed, with the refund) is the caller's, in one transaction.
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
from bot.errors import DeliveryError, InvalidRequest
from bot.store import Job, Store, StoredImage
from bot.ui import parts
from bot.ui.cards import posted_text, progress_embed
from bot.ui.views import result_view

log = logging.getLogger(__name__)

TOKEN_SAFETY_MARGIN = 60.0
PROGRESS_MIN_INTERVAL = 5.0
# What one delivery path may fail with; the next path (or a later attempt) is tried.
# (discord.py raises ValueError for a request it cannot make.)
REFUSED = (discord.HTTPException, DeliveryError, ValueError)  # an answer came, or no request
DELIVERY_ERRORS = (*REFUSED, aiohttp.ClientError, OSError, TimeoutError)
DM_UPLOAD_LIMIT = parts.DEFAULT_UPLOAD_LIMIT
# How often a post whose fate is unknown goes again (same nonce) before the next path.
AMBIGUOUS_REPEATS = 2


@dataclass(frozen=True)
class Sent:
    """Where an outcome went: its path and first message, and how much of it got out."""

    via: str
    channel_id: int | None
    message_id: int | None
    shown: int  # images the member can see (attached or linked)
    complete: bool
    stored: int = 0  # images the outcome had to show


def nonce(job_id: int, part: int) -> str:
    """Return the nonce of a part's post: Discord drops a repeat within minutes."""
    return f"lb{job_id}.{part}"  # at most 25 characters, as Discord requires


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
            queued = job.state == "queued"
            position = await self._store.queue.queue_position(job_id) if queued else None
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
            except REFUSED as exc:
                log.info("job %s: progress edit failed: %s", job.id, _describe(exc))

    # ------------------------------------------------------------------ outcome

    async def deliver(
        self, job: Job, *, lease: int | None = None, images: Sequence[StoredImage] | None = None
    ) -> Sent | None:
        """Post a terminal job's outcome, carrying on after the parts already posted.

        Returns where it went once its first part is out (``complete`` says whether every
        part is), or None when no path worked. ``lease`` is the lease token this process
        holds the job with: before each part is posted the lease is checked (the job read
        afresh under the per-job lock, so another claim in this process that posted
        meanwhile is carried on from, not repeated), and LeaseLost stops posting.
        ``images`` are the job's stored images when the caller has them loaded.
        """
        pending = self._pending_progress.pop(job.id, None)
        if pending is not None:
            pending.cancel()
        stored = images if images is not None else await self._stored(job)
        sent: Sent | None
        async with self._lock(job.id):
            if lease is not None:
                job = await self._store.jobs.held(job.id, lease)
            if job.parts_delivered and job.delivered_via:
                sent = await self._send_rest(job, stored, job.delivered_via, lease)
            else:
                sent = await self._send_first(job, stored, lease)
        if sent is not None and sent.complete:
            self._locks.pop(job.id, None)
            self._last_progress.pop(job.id, None)
            log.info("job %s: outcome %s delivered via %s", job.id, job.state, sent.via)
        return sent

    async def _stored(self, job: Job) -> Sequence[StoredImage]:
        """Load what a succeeded job shows (other outcomes show no image)."""
        return await self._store.images.load_images(job.id) if job.state == "succeeded" else []

    def _plan(self, job: Job, stored: Sequence[StoredImage], via: str) -> parts.Plan:
        limit = job.upload_limit or parts.DEFAULT_UPLOAD_LIMIT
        if via == "dm":
            limit = min(limit, DM_UPLOAD_LIMIT)
        return parts.plan(job.id, stored, limit)

    async def _send_first(
        self, job: Job, stored: Sequence[StoredImage], lease: int | None
    ) -> Sent | None:
        """Try each path for the first part; on the first that works, send the rest."""
        paths = ("edit", "channel", "dm") if self.token_usable(job) else ("channel", "dm")
        for via in paths:
            plan = self._plan(job, stored, via)
            message = await self._try_post(job, via, plan, 0, stored)
            if message is None:
                continue
            await self._store.jobs.record_part(
                job.id,
                0,
                via=via,
                channel_id=message.channel.id,
                message_id=message.id,
                token=lease,
            )
            return await self._send_parts(job, stored, via, plan, 1, message, lease)
        return None

    async def _send_rest(
        self, job: Job, stored: Sequence[StoredImage], via: str, lease: int | None
    ) -> Sent:
        plan = self._plan(job, stored, via)
        return await self._send_parts(job, stored, via, plan, job.parts_delivered, None, lease)

    async def _send_parts(
        self,
        job: Job,
        stored: Sequence[StoredImage],
        via: str,
        plan: parts.Plan,
        start: int,
        first: discord.Message | None,
        lease: int | None,
    ) -> Sent:
        sent = start
        for index in range(start, len(plan.parts)):
            if lease is not None and index > start:
                await self._store.jobs.held(job.id, lease)
            message = await self._try_post(job, via, plan, index, stored)
            if message is None:
                break
            await self._store.jobs.record_part(
                job.id,
                index,
                via=via,
                channel_id=message.channel.id,
                message_id=message.id,
                token=lease,
            )
            sent = index + 1
        return Sent(
            via=via,
            channel_id=first.channel.id if first else job.delivered_channel_id,
            message_id=first.id if first else job.delivered_message_id,
            shown=plan.shown(sent),
            complete=sent == len(plan.parts),
            stored=len(stored),
        )

    async def _try_post(
        self, job: Job, via: str, plan: parts.Plan, index: int, stored: Sequence[StoredImage]
    ) -> discord.Message | None:
        """Post a part; None if it failed. A post whose fate is unknown is sent again.

        When the connection drops or times out after a post was sent, Discord may have
        made the message. The same post goes again, with the same nonce, before any
        other path is tried: Discord answers a repeat with the message it already made.
        """
        for attempt in range(1 + AMBIGUOUS_REPEATS):
            try:
                return await self._post(job, via, plan, index, stored)
            except DELIVERY_ERRORS as exc:
                log.warning(
                    "job %s: %s of part %d failed: %s", job.id, via, index + 1, _describe(exc)
                )
                if not (_fate_unknown(exc) and via != "edit" and attempt < AMBIGUOUS_REPEATS):
                    return None
        return None  # pragma: no cover - the loop always returns

    async def _post(
        self, job: Job, via: str, plan: parts.Plan, index: int, stored: Sequence[StoredImage]
    ) -> discord.Message:
        """Post part ``index`` of the outcome by ``via``; return the message."""
        files = [discord.File(io.BytesIO(data), filename=n) for n, data in plan.parts[index].files]
        first = index == 0
        embed = parts.embed(job, plan, stored) if first else None
        links = parts.link_text(job, plan, index)
        mention = discord.AllowedMentions(users=[discord.Object(job.user_id)])
        # The first message carries the buttons (Reroll, Edit, Details, Delete); a failure
        # carries none, which also removes a Cancel button left on a waiting card.
        view = (
            result_view(job.id, len(stored), job.locale)
            if first and job.state == "succeeded"
            else None
        )
        if via == "edit" and embed is not None:
            return await self._webhook(job).edit_message(
                self._original(job),
                content=links,
                embed=embed,
                attachments=files,
                allowed_mentions=mention,
                view=view,
            )
        if via == "edit" and self.token_usable(job):
            return await self._webhook(job).send(
                content=links or discord.utils.MISSING, files=files, wait=True
            )
        if via == "dm":
            channel: discord.abc.Messageable = await self._client.create_dm(
                discord.Object(job.user_id)
            )
        else:
            channel = self._client.get_partial_messageable(job.channel_id, guild_id=job.guild_id)
        content = posted_text(job, via)
        reference = (
            discord.MessageReference(
                message_id=job.message_id, channel_id=job.channel_id, fail_if_not_exists=False
            )
            if first and via == "channel" and job.message_id
            else None
        )
        extra: dict[str, Any] = {"embed": embed} if embed is not None else {}
        if view is not None:
            extra["view"] = view
        return await channel.send(
            content=(content + (f"\n{links}" if links else "")) if first else links,
            files=files,
            **extra,
            reference=reference,  # type: ignore[arg-type]
            allowed_mentions=mention,
            nonce=nonce(job.id, index),
        )

    async def remove(self, job: Job) -> bool:
        """Delete a job's result message (and a progress card left above a reply).

        Returns True when the result message was already gone; raises InvalidRequest
        when Discord does not let the bot delete it.
        """
        assert job.delivered_channel_id is not None and job.delivered_message_id is not None
        gone = await self._delete(job, job.delivered_channel_id, job.delivered_message_id)
        if job.message_id and job.message_id != job.delivered_message_id:
            # The progress card of a result posted as a reply still shows the prompt.
            try:
                await self._delete(job, job.channel_id, job.message_id)
            except InvalidRequest:
                log.info("job %s: progress message could not be deleted", job.id)
        return gone

    async def _delete(self, job: Job, channel_id: int, message_id: int) -> bool:
        guild_id = None if job.delivered_via == "dm" else job.guild_id
        channel = self._client.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            await channel.get_partial_message(message_id).delete()
        except discord.NotFound:
            return True
        except discord.Forbidden:
            raise InvalidRequest("refusal.delete_forbidden") from None
        return False

    async def first_answer(self, job: Job) -> tuple[bool, int | None]:
        """Return whether Discord has the job's first answer, and its message id.

        Used at a restart for a job whose acknowledgement was not recorded: the process
        may have died before or after Discord got the answer. If Discord cannot be asked
        (it is down), the answer is assumed to have arrived: the job goes on.
        """
        if not self.token_usable(job):
            return False, None
        try:
            message = await self._webhook(job).fetch_message(self._original(job))
        except discord.NotFound:
            return False, None
        except DELIVERY_ERRORS as exc:
            log.warning("job %s: could not ask Discord for the answer: %s", job.id, _describe(exc))
            return True, None
        return True, message.id

    # ------------------------------------------------------------------ helpers

    def _webhook(self, job: Job) -> discord.Webhook:
        if not job.interaction_token:
            raise DeliveryError("job has no interaction token")
        return discord.Webhook.partial(
            job.application_id, job.interaction_token, client=self._client
        )

    @staticmethod
    def _original(job: Job) -> Any:
        # Discord accepts "@original" wherever an interaction message id goes.
        return job.message_id or "@original"

    def _lock(self, job_id: int) -> asyncio.Lock:
        return self._locks.setdefault(job_id, asyncio.Lock())


def _fate_unknown(exc: BaseException) -> bool:
    """Whether a failed post may still have reached Discord (no answer came back)."""
    if isinstance(exc, (*REFUSED, aiohttp.ClientConnectorError)):
        return False  # an answer came (or the request never left): it did not happen
    return isinstance(exc, aiohttp.ClientError | OSError | TimeoutError)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, discord.HTTPException):
        return f"HTTP {exc.status} (code {exc.code})"
    return type(exc).__name__
