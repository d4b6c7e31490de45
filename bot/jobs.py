"""JobService: a generation's whole way from accepted request to delivered outcome.

``accept`` validates (before anything is reserved or sent), reserves quota and writes
the job row, atomically. ``start`` runs the rest in the background:
``queued -> submitted`` is stored before the create request, ``-> running`` with the
task id the moment the create answers with a task; inline images and completed
tasks are downloaded, stored and marked ``succeeded`` (quota settled) in one
transaction; every failure is stored as ``failed``/``timed_out`` with the quota
released in the same transaction. Delivery follows each terminal state.

Restart recovery (:meth:`resume`) rebuilds everything from the rows:

* ``queued``: never sent, so it is submitted now;
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
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bot.catalog import ImagineOptions, ModelCatalog, build_request, cost_units, validate
from bot.db import ACTIVE_STATES, Database, Job, JobDraft, StoredImage
from bot.delivery import Delivery
from bot.errors import ServiceUnavailable
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
from bot.poller import TaskPoller
from bot.quota import QuotaService, api_user

log = logging.getLogger(__name__)

CATALOG_WAIT_SECONDS = 1.5
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
        delivery: Delivery,
        job_timeout: float,
        poll_interval: float,
        poll_max_interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = db
        self._api = api
        self._catalog = catalog
        self._quota = quota
        self._delivery = delivery
        self._job_timeout = job_timeout
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Condition()
        self._closing = False
        self.poller = TaskPoller(
            api,
            on_done=self._task_done,
            on_timeout=self._task_timed_out,
            on_lost=self._task_lost,
            interval=poll_interval,
            max_interval=poll_max_interval,
            wall_clock=clock,
        )

    # ------------------------------------------------------------------ intake

    async def accept(self, request: JobRequest) -> Job:
        """Validate, reserve quota and store a job; raise a BotError to refuse it."""
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
            quota_units=cost_units(options),
            quota_window=self._quota.window(),
        )
        job_id = await self._quota.reserve_and_insert(draft)
        job = await self._db.get_job(job_id)
        assert job is not None
        log.info(
            "job %s accepted: guild %s user %s model %s units %s",
            job.id,
            job.guild_id,
            job.user_id,
            job.model,
            job.quota_units,
        )
        return job

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
        await self._notify()

    def start(self, job_id: int) -> None:
        """Submit a queued job in the background."""
        self._spawn(self._submit(job_id), f"submit-{job_id}")

    # ------------------------------------------------------------------ lifecycle

    async def _submit(self, job_id: int) -> None:
        if not await self._db.transition(
            job_id, ["queued"], "submitted", submitted_at=self._clock()
        ):
            return
        await self._notify()
        job = await self._db.get_job(job_id)
        assert job is not None
        try:
            result = await self._api.create_image(job.request)
        except LemonDataError as exc:
            log.warning("job %s: create failed: %r", job_id, exc)
            await self._fail(job_id, classify(exc), exc.message)
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
        return job.created_at + self._job_timeout

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
        await self._fail(job_id, "task_failed", "the image service lost track of the task")

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
        await self._deliver(job_id)

    async def _deliver(self, job_id: int) -> None:
        job = await self._db.get_job(job_id)
        if job is None or job.delivery_state != "pending":
            return
        try:
            await self._delivery.deliver(job)
        except Exception:
            log.exception("job %s: delivery crashed; it will be retried at the next start", job_id)
        await self._notify()

    # ------------------------------------------------------------------ recovery

    async def resume(self) -> dict[str, int]:
        """Pick up every unfinished job after a start; return counts by action."""
        counts = {"submitted": 0, "polling": 0, "finishing": 0, "interrupted": 0, "delivering": 0}
        for job in await self._db.open_jobs():
            if job.state == "queued":
                counts["submitted"] += 1
                self.start(job.id)
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
        """Wait until the stored job satisfies ``predicate`` (for tests and shutdown)."""
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

    async def close(self) -> None:
        """Stop taking work and cancel background work; every job stays resumable."""
        self._closing = True
        await self.poller.stop()
        tasks = list(self._tasks)
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
