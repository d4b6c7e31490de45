"""JobService: a generation's whole way from accepted request to delivered outcome.

``accept`` validates (before anything is reserved or sent), reserves quota and writes
the job row, atomically. ``start`` hands it to the dispatcher, which submits queued
jobs oldest first within the per-member and per-server running caps, and the rest
runs in the background:
``queued -> submitted`` is stored before the create request, ``-> running`` with the
task id the moment the create answers with a task; inline images and completed
tasks are downloaded, stored and marked ``succeeded`` (quota settled) in one
transaction; every failure is stored as ``failed``/``timed_out`` with the quota
released in the same transaction. Delivery follows each terminal state.

Restart recovery (:meth:`resume`) rebuilds everything from the rows:

* ``queued``: never sent, so the dispatcher submits it when a slot is free;
* ``submitted`` with images already stored: the create answered, so it is finished;
* ``submitted`` without images: a create was in flight when the process died. The
  bot cannot tell whether the gateway made (and billed) the image, so it does not
  create again: the job fails as ``interrupted`` and the quota is released;
* ``running``: the task id is known, so the task is polled again (never re-created);
* terminal with delivery pending: the outcome is delivered again.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bot.catalog import ImagineOptions, ModelCatalog, build_request, cost_units, validate
from bot.config import Settings
from bot.db import ACTIVE_STATES, Database, Job, JobDraft, StoredImage
from bot.delivery import Delivery
from bot.errors import InvalidRequest, NotAllowed, QueueFull, ServiceUnavailable
from bot.lemondata import (
    CONTENT_POLICY_MARKERS,
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    ImageResult,
    InsufficientBalanceError,
    LemonDataClient,
    LemonDataError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    TaskStatus,
)
from bot.moderation import Moderation
from bot.poller import TaskPoller
from bot.quota import QuotaService, api_user

log = logging.getLogger(__name__)

CATALOG_WAIT_SECONDS = 1.5
# Waits before the 2nd, 3rd, ... delivery attempt when every path failed (Discord down).
DELIVERY_RETRY_DELAYS = (5.0, 20.0, 60.0, 300.0)
INTERACTION_TOKEN_LIFETIME = 15 * 60


@dataclass(frozen=True)
class JobRequest:
    """A /imagine invocation: the user's options and where the answer must go."""

    options: ImagineOptions
    guild_id: int
    channel_id: int
    user_id: int
    application_id: int
    interaction_id: int | None
    interaction_token: str | None
    upload_limit: int
    received_at: float
    role_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Accepted:
    """An accepted job, and its place in the server's queue if it has to wait."""

    job: Job
    position: int | None


def classify(exc: LemonDataError) -> str:
    """Return the job error code for an API failure (see ``bot.messages.FAILURE_TEXT``)."""
    if isinstance(exc, ContentPolicyError):
        return "content_policy"
    if isinstance(exc, InsufficientBalanceError):
        return "insufficient_balance"
    if isinstance(exc, AuthenticationError):
        return "auth"
    if isinstance(exc, RateLimitError):
        return "rate_limited"
    if isinstance(exc, MalformedResponseError):
        return "malformed"
    if isinstance(exc, BadRequestError | NotFoundError):
        return "bad_request"
    return "unavailable"


def sniff_content_type(data: bytes) -> str:
    """Return the image MIME type from magic bytes (PNG when unknown)."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return "image/png"


class JobService:
    """Accept, run, resume and finish image jobs."""

    def __init__(
        self,
        *,
        db: Database,
        api: LemonDataClient,
        catalog: ModelCatalog,
        quota: QuotaService,
        moderation: Moderation,
        delivery: Delivery,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._api = api
        self._catalog = catalog
        self._quota = quota
        self._moderation = moderation
        self._delivery = delivery
        self._settings = settings
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()
        self._closing = False
        self._dispatch_lock = asyncio.Lock()
        self._unacknowledged: set[int] = set()
        self._positions: dict[int, int] = {}
        self.finished_listeners: list[Callable[[Job], Awaitable[None]]] = []
        self.poller = TaskPoller(
            api,
            on_done=self._on_task_done,
            on_timeout=self._on_task_timed_out,
            on_lost=self._on_task_lost,
            interval=settings.poll_interval_seconds,
            max_interval=settings.poll_max_interval_seconds,
            wall_clock=clock,
        )

    # ------------------------------------------------------------------ intake

    async def accept(self, request: JobRequest) -> Accepted:
        """Validate, check server rules, reserve quota and store a job.

        Raises a BotError (answered ephemerally) to refuse it; nothing is reserved or
        sent in that case.
        """
        if self._closing:
            raise ServiceUnavailable("The bot is restarting. Please try again in a moment.")
        if not await self._catalog.ensure_loaded(CATALOG_WAIT_SECONDS):
            raise ServiceUnavailable(
                "The list of image models can't be loaded right now. Please try again soon."
            )
        options = validate(request.options, self._catalog.is_listed)
        user = api_user(request.guild_id, request.user_id)
        draft = JobDraft(
            guild_id=request.guild_id,
            channel_id=request.channel_id,
            user_id=request.user_id,
            api_user=user,
            application_id=request.application_id,
            interaction_id=request.interaction_id,
            interaction_token=request.interaction_token,
            token_expires_at=(
                request.received_at + INTERACTION_TOKEN_LIFETIME
                if request.interaction_token
                else None
            ),
            upload_limit=request.upload_limit,
            model=options.model,
            options=asdict(options),
            prompt=options.prompt,
            request=build_request(options, user),
            quota_units=cost_units(options, self._settings.model_weights),
        )
        # Its own step: a blocked prompt is recorded, and that record must not roll back.
        await self._moderation.check_request(
            request.guild_id, request.user_id, options.prompt, request.channel_id
        )
        # One transaction: queue room, quota and the insert see one state.
        async with self._db.transaction():
            position = await self._queue_position_for(request.guild_id, request.user_id)
            job_id = await self._quota.reserve_and_insert(draft, request.role_ids)
            job = await self._db.get_job(job_id)
            assert job is not None
        self._unacknowledged.add(job_id)
        if position is not None:
            self._positions[job_id] = position  # the first response shows it
        log.info(
            "job %s accepted: guild %s user %s model %s units %s position %s",
            job.id,
            job.guild_id,
            job.user_id,
            job.model,
            job.quota_units,
            position,
        )
        return Accepted(job, position)

    async def _caps(self, guild_id: int) -> tuple[int, int]:
        """Return the (per user, per server) running-job caps of a server."""
        guild = await self._db.guild_settings(guild_id)
        return (
            guild.max_running_per_user or self._settings.max_running_jobs_per_user,
            guild.max_running_per_guild or self._settings.max_running_jobs_per_guild,
        )

    async def _queue_position_for(self, guild_id: int, user_id: int) -> int | None:
        """Return where a new request would wait (None: it runs now); refuse a full queue."""
        user_cap, guild_cap = await self._caps(guild_id)
        queued_guild = await self._db.count_queued(guild_id)
        queued_user = await self._db.count_queued(guild_id, user_id)
        # Jobs queued ahead take the free slots first (FIFO), so they count as running.
        must_wait = (
            await self._db.count_active(guild_id, user_id) + queued_user >= user_cap
            or await self._db.count_active(guild_id) + queued_guild >= guild_cap
        )
        if not must_wait:
            return None
        if queued_user >= self._settings.max_queued_jobs_per_user:
            plural = "s" if queued_user != 1 else ""
            raise QueueFull(
                f"You already have {queued_user} request{plural} waiting for a free slot. "
                "Please wait for one to start."
            )
        if queued_guild >= self._settings.max_queued_jobs_per_guild:
            raise QueueFull(
                f"This server's image queue is full ({queued_guild} waiting). "
                "Please try again in a few minutes."
            )
        return queued_guild + 1

    async def acknowledged(self, job_id: int, message_id: int | None) -> None:
        """Record the progress message and start the job (call after responding)."""
        if message_id is not None:
            await self._db.set_message_id(job_id, message_id)
        self.start(job_id)

    async def abandon(self, job_id: int) -> None:
        """Cancel a job whose interaction could not be answered; release its quota."""
        async with self._db.transaction():
            if await self._db.transition(
                job_id, ["queued"], "cancelled", finished_at=self._clock()
            ):
                await self._quota.release(job_id)
                await self._db.mark_delivered(
                    job_id, via="none", channel_id=None, message_id=None, delivered=False
                )
        self._unacknowledged.discard(job_id)
        await self._notify()
        self._kick()

    async def cancel(self, job_id: int, *, by_user_id: int, moderator: bool = False) -> Job:
        """Cancel a job still waiting for a slot (nothing was sent, so nothing is billed).

        Only the requester or a moderator may; the quota is released and the card says so.
        """
        async with self._db.transaction():
            job = await self._db.get_job(job_id)
            if job is None:
                raise InvalidRequest("That request no longer exists.")
            if job.user_id != by_user_id and not moderator:
                raise NotAllowed("Only the member who asked for this image can cancel it.")
            if not await self._db.transition(
                job_id, ["queued"], "cancelled", error_code="cancelled", finished_at=self._clock()
            ):
                raise InvalidRequest(
                    "It has already been sent to the image service, so it can't be cancelled."
                )
            await self._quota.release(job_id)
        self._unacknowledged.discard(job_id)
        self._positions.pop(job_id, None)
        log.info("job %s cancelled by %s", job_id, by_user_id)
        await self._notify()
        self._kick()
        await self._deliver(job_id)
        cancelled = await self._db.get_job(job_id)
        assert cancelled is not None
        return cancelled

    async def activity(self, guild_id: int, user_id: int) -> tuple[int, int]:
        """Return a member's (running, waiting) job counts."""
        return (
            await self._db.count_active(guild_id, user_id),
            await self._db.count_queued(guild_id, user_id),
        )

    def start(self, job_id: int) -> None:
        """Let a queued job run as soon as its server and user have a free slot."""
        self._unacknowledged.discard(job_id)
        self._kick()

    def _kick(self) -> None:
        if not self._closing:
            self._spawn(self._dispatch(), "dispatch")

    # ------------------------------------------------------------------ lifecycle

    async def _dispatch(self) -> None:
        """Submit queued jobs, oldest first, while their caps allow; update positions."""
        started: list[int] = []
        # One transaction: every check of the pass sees the same jobs (none finishing
        # half-way through), so a later job can never overtake an earlier one.
        async with self._dispatch_lock, self._db.transaction():
            waiting: dict[int, list[Job]] = {}
            held: set[int] = set()  # servers where an earlier job keeps its turn
            per_user = await self._db.active_counts()  # kept up to date as jobs start
            per_guild: dict[int, int] = {}
            for (guild_id, _), count in per_user.items():
                per_guild[guild_id] = per_guild.get(guild_id, 0) + count
            caps: dict[int, tuple[int, int]] = {}
            for job in await self._db.queued_jobs():
                if self._closing:
                    return
                if job.guild_id not in caps:
                    caps[job.guild_id] = await self._caps(job.guild_id)
                user_cap, guild_cap = caps[job.guild_id]
                if job.guild_id in held or per_guild.get(job.guild_id, 0) >= guild_cap:
                    held.add(job.guild_id)
                    waiting.setdefault(job.guild_id, []).append(job)
                    continue
                if per_user.get((job.guild_id, job.user_id), 0) >= user_cap:
                    waiting.setdefault(job.guild_id, []).append(job)  # others may go first
                    continue
                if job.id in self._unacknowledged:
                    # It could start but its interaction is not answered yet: it keeps its
                    # turn (it is dispatched once acknowledged), so no later job of the
                    # server may take the slot meanwhile.
                    held.add(job.guild_id)
                    waiting.setdefault(job.guild_id, []).append(job)
                    continue
                if await self._db.transition(
                    job.id, ["queued"], "submitted", submitted_at=self._clock()
                ):
                    key = (job.guild_id, job.user_id)
                    per_user[key] = per_user.get(key, 0) + 1
                    per_guild[job.guild_id] = per_guild.get(job.guild_id, 0) + 1
                    self._spawn(self._create(job.id), f"create-{job.id}")
                    if self._positions.pop(job.id, None) is not None:
                        started.append(job.id)  # its card still says "waiting"
        await self._notify()  # outside the transaction: waiters read the database
        for job_id in started:
            if (started_job := await self._db.get_job(job_id)) is not None:
                await self._delivery.progress(started_job)
        for jobs in waiting.values():
            for position, job in enumerate(jobs, start=1):
                if job.id not in self._unacknowledged and self._positions.get(job.id) != position:
                    self._positions[job.id] = position
                    await self._delivery.progress(job, position=position)

    async def _create(self, job_id: int) -> None:
        job = await self._db.get_job(job_id)
        assert job is not None
        try:
            result = await self._api.create_image(job.request)
        except LemonDataError as exc:
            log.warning("job %s: create failed: %r", job_id, exc)
            await self._fail(job_id, classify(exc), exc.message)
            return
        except Exception:
            log.exception("job %s: unexpected error during create", job_id)
            await self._fail(job_id, "unavailable", None)
            return
        if result.task is None:
            await self._finish(job_id, result.images)
            return
        task = result.task
        if not await self._db.transition(
            job_id, ["submitted"], "running", task_id=task.task_id, poll_url=task.poll_url
        ):
            return
        await self._notify()
        log.info("job %s: running as task %s", job_id, task.task_id)
        if task.done:
            await self._task_done(job_id, task)
            return
        self.poller.track(job_id, task.task_id, task.poll_url, self._deadline(job))
        running = await self._db.get_job(job_id)
        if running is not None:
            await self._delivery.progress(running)

    def _deadline(self, job: Job) -> float:
        """Give up on a task JOB_TIMEOUT_SECONDS after it was sent (queue time is free)."""
        return (job.submitted_at or job.created_at) + self._settings.job_timeout_seconds

    # The poller's callbacks hand the outcome to a job task of their own, so that the
    # download and delivery get the shutdown grace period (polls are cancelled at once).

    async def _on_task_done(self, job_id: int, status: TaskStatus) -> None:
        self._spawn(self._task_done(job_id, status), f"finish-{job_id}")

    async def _on_task_timed_out(self, job_id: int) -> None:
        self._spawn(self._task_timed_out(job_id), f"timeout-{job_id}")

    async def _on_task_lost(self, job_id: int, exc: LemonDataError) -> None:
        self._spawn(self._task_lost(job_id, exc), f"lost-{job_id}")

    async def _task_done(self, job_id: int, status: TaskStatus) -> None:
        if status.status == "completed":
            if status.images:
                await self._finish(job_id, status.images)
            else:
                await self._fail(job_id, "malformed", "completed task has no images")
            return
        text = f"{status.error_code or ''} {status.error_message or ''}".lower()
        code = (
            "content_policy"
            if any(marker in text for marker in CONTENT_POLICY_MARKERS)
            else "task_failed"
        )
        await self._fail(job_id, code, status.error_message or status.error_code)

    async def _task_timed_out(self, job_id: int) -> None:
        await self._fail(job_id, "timeout", None, state="timed_out")

    async def _task_lost(self, job_id: int, exc: LemonDataError) -> None:
        if isinstance(exc, NotFoundError):
            await self._fail(job_id, "task_failed", "the image service lost track of the task")
        else:  # a rejected key or an empty balance will not fix itself while we poll
            await self._fail(job_id, classify(exc), exc.message)

    async def _finish(self, job_id: int, images: Sequence[ImageResult]) -> None:
        """Store the answer's images, download what is only a URL, then succeed."""
        try:
            stored = await self._db.load_images(job_id)
            if not stored:
                stored = [_to_stored(i, image) for i, image in enumerate(images)]
                await self._db.save_images(job_id, stored)
            complete = [await self._fetch(image) for image in stored]
        except NotFoundError:
            await self._fail(job_id, "expired", None)
            return
        except LemonDataError as exc:
            await self._fail(job_id, classify(exc), exc.message)
            return
        except Exception:
            log.exception("job %s: unexpected error while collecting the images", job_id)
            await self._fail(job_id, "unavailable", None)
            return
        revised = next((i.revised_prompt for i in images if i.revised_prompt), None)
        async with self._db.transaction():
            if not await self._db.transition(
                job_id,
                ["submitted", "running"],
                "succeeded",
                result_urls=[i.url for i in complete if i.url],
                revised_prompt=revised,
                finished_at=self._clock(),
            ):
                return
            await self._db.save_images(job_id, complete)
            await self._quota.settle(job_id)
        await self._notify()
        self._kick()
        await self._deliver(job_id)

    async def _fetch(self, image: StoredImage) -> StoredImage:
        if image.data is not None:
            return image
        assert image.url is not None
        data = await self._api.download(image.url)
        return StoredImage(image.position, image.url, sniff_content_type(data), data)

    async def _fail(
        self, job_id: int, code: str, detail: str | None, *, state: str = "failed"
    ) -> None:
        async with self._db.transaction():
            if not await self._db.transition(
                job_id,
                ACTIVE_STATES,
                state,
                error_code=code,
                error_message=detail[:500] if detail else None,
                finished_at=self._clock(),
            ):
                return
            await self._quota.release(job_id)
        log.info("job %s: %s (%s)", job_id, state, code)
        await self._notify()
        self._kick()
        await self._deliver(job_id)

    async def _deliver(self, job_id: int) -> None:
        """Deliver the outcome, retrying with back-off; refund if it never gets through.

        Every path (edit, channel, DM) is tried on each attempt. After the last attempt
        the delivery is recorded as failed and, as the member got nothing, a settled
        quota is refunded.
        """
        attempts = (0.0, *DELIVERY_RETRY_DELAYS)
        for attempt, delay in enumerate(attempts, start=1):
            if delay:
                await asyncio.sleep(delay)
            job = await self._db.get_job(job_id)
            if job is None or job.delivery_state != "pending":
                return
            final = attempt == len(attempts)
            try:
                if await self._delivery.deliver(job, final=final) is not None:
                    break
            except Exception:
                log.exception("job %s: delivery attempt %d crashed", job_id, attempt)
                if final:
                    return  # still pending: tried again at the next start
            if final and await self._db.refund_settled(job_id):
                log.warning("job %s: outcome undeliverable; quota refunded", job_id)
        await self._notify()
        finished = await self._db.get_job(job_id)
        if finished is None:
            return
        for listener in self.finished_listeners:
            try:
                await listener(finished)
            except Exception:
                log.exception("job %s: a finished-job listener failed", job_id)

    # ------------------------------------------------------------------ recovery

    async def resume(self) -> dict[str, int]:
        """Pick up every unfinished job after a start; return counts by action."""
        counts = {"queued": 0, "polling": 0, "finishing": 0, "interrupted": 0, "delivering": 0}
        for job in await self._db.open_jobs():
            if job.state == "queued":
                counts["queued"] += 1
            elif job.state == "submitted":
                if await self._db.load_images(job.id):
                    counts["finishing"] += 1
                    self._spawn(self._finish(job.id, ()), f"finish-{job.id}")
                else:
                    counts["interrupted"] += 1
                    self._spawn(self._fail(job.id, "interrupted", None), f"fail-{job.id}")
            elif job.state == "running" and job.task_id:
                counts["polling"] += 1
                self.poller.track(job.id, job.task_id, job.poll_url, self._deadline(job))
            elif job.terminal:
                counts["delivering"] += 1
                self._spawn(self._deliver(job.id), f"deliver-{job.id}")
        self._kick()
        log.info("resumed jobs: %s", counts)
        return counts

    # ------------------------------------------------------------------ plumbing

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_finished)

    def _task_finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background %s crashed", task.get_name(), exc_info=task.exception())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for_job(
        self, job_id: int, predicate: Callable[[Job], bool], timeout: float = 10.0
    ) -> Job:
        """Wait until the stored job satisfies ``predicate`` (woken by every job change)."""
        async with asyncio.timeout(timeout):
            while True:
                async with self._changed:
                    job = await self._db.get_job(job_id)
                    if job is not None and predicate(job):
                        return job
                    await self._changed.wait()

    def start_background(self) -> None:
        """Start the poller."""
        self.poller.start()

    async def close(self, grace: float = 0.0) -> None:
        """Stop taking work; let in-flight work finish for up to ``grace`` seconds.

        Polls stop at once (a task id is already stored, so polling resumes after a
        restart). Creates and deliveries in flight get the grace period, so that a
        synchronous image that is about to arrive is not lost; whatever is still
        running then is cancelled and stays resumable from its row.
        """
        self._closing = True
        await self.poller.stop()
        tasks = [t for t in self._tasks if not t.done()]
        if tasks and grace > 0:
            log.info("waiting up to %.0fs for %d jobs in flight", grace, len(tasks))
            await asyncio.wait(tasks, timeout=grace)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._delivery.close()


def _to_stored(position: int, image: ImageResult) -> StoredImage:
    if image.b64_json:
        try:
            data = base64.b64decode(image.b64_json, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedResponseError("the image service sent unreadable image data") from None
        return StoredImage(position, image.url, sniff_content_type(data), data)
    return StoredImage(position, image.url, "image/png", None)
