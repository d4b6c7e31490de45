"""JobRunner: a job's way from the queue to a delivered outcome, and restart recovery.

``queued -> submitted`` is stored before the create request, ``-> running`` with the
task id the moment the create answers with a task; inline images and completed
tasks are downloaded, stored and marked ``succeeded`` (quota settled) in one
transaction; every failure is stored as ``failed``/``timed_out`` with the quota
released in the same transaction. Delivery follows each terminal state.

The runner composes the rest: the dispatch passes that start queued jobs
(:mod:`bot.jobs.dispatcher`), delivery with its retries and its record
(:mod:`bot.jobs.outcomes`), the leases that let several processes share the work
(:mod:`bot.jobs.leases`), and restart recovery: :mod:`bot.jobs.recovery` decides what
to do with each job taken over, and the runner does it (:mod:`bot.jobs.takeover`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from bot.background import Background
from bot.billing import Price, settle_cost
from bot.catalog import route_for
from bot.config import Settings
from bot.errors import DETAIL_DOWNLOAD_TIMEOUT, DETAIL_NO_IMAGES, log_failure
from bot.jobs import failures, queue_policy
from bot.jobs.delivery import Delivery
from bot.jobs.dispatcher import Dispatcher
from bot.jobs.failures import NO_WATCH, KeyWatch, classify
from bot.jobs.formats import OutputSizes
from bot.jobs.kept import small_copies
from bot.jobs.leases import Leases
from bot.jobs.outcomes import Outcomes
from bot.jobs.poller import TaskPoller
from bot.jobs.recovery import Recovery
from bot.jobs.takeover import Takeover
from bot.lemondata import (
    GatewayError,
    ImageResult,
    LemonDataClient,
    NotFoundError,
    TaskStatus,
    Usage,
    decode_b64_image,
    sniff_content_type,
)
from bot.quota import QuotaService
from bot.scheduler.loop import PollBudget
from bot.store import ACTIVE_STATES, Job, LeaseLost, Store, StoredImage

log = logging.getLogger(__name__)

ERROR_DETAIL_LIMIT = 500
# How many of the latest finished tasks teach the poller how long tasks take.
HISTORY_JOBS = 2000
# The least time a step gets: what downloading a task found finished at its deadline gets.
MIN_STEP_SECONDS = 1.0


class JobRunner:
    """Dispatch queued jobs, run them against the API, finish, fail and deliver them."""

    def __init__(
        self,
        *,
        store: Store,
        api: LemonDataClient,
        quota: QuotaService,
        delivery: Delivery,
        settings: Settings,
        background: Background,
        budget: PollBudget,
        key: KeyWatch = NO_WATCH,
        price: Callable[[str], Price | None] = lambda model: None,
    ) -> None:
        self._store = store
        self._api = api
        self._key = key  # hears whether creates and polls find the API key refused
        self._price = price  # a model's price now: what a succeeded job is settled at
        self._quota = quota
        self._delivery = delivery
        self._settings = settings
        self._background = background
        self.leases = Leases(store, settings.lease_seconds)
        self.sizes = OutputSizes(store.state)  # from delivered images: the format picked
        self.recovery = Recovery(store, self.leases, delivery)
        self.takeover = Takeover(self, store, self.recovery)
        self.dispatcher = Dispatcher(
            store=store,
            settings=settings,
            background=background,
            leases=self.leases,
            delivery=delivery,
            create=lambda job: self.run(self._create(job), "create", job.id),
        )
        # Queue places last shown on waiting cards.
        self.positions: dict[int, int] = self.dispatcher.positions
        self.outcomes = Outcomes(store=store, quota=quota, delivery=delivery, leases=self.leases)
        self.finished_listeners = self.outcomes.finished_listeners
        self.poller = TaskPoller(
            api,
            budget=budget,
            on_done=self._on_task_done,
            on_timeout=self._on_task_timed_out,
            on_lost=self._on_task_lost,
            interval=settings.poll_interval_seconds,
            max_interval=settings.poll_max_interval_seconds,
            background=background,
            key=key,
        )

    # ------------------------------------------------------------------ dispatch

    async def caps(self, guild_id: int) -> queue_policy.Caps:
        """Return a server's running and queue caps (its own, else the bot's)."""
        return await self.dispatcher.caps(guild_id)

    def kick(self) -> None:
        """Ask for a dispatch pass in the background (a slot may have come free)."""
        self.dispatcher.kick()

    @property
    def delivery(self) -> Delivery:
        """How outcomes reach Discord."""
        return self._delivery

    def run(self, coro: Coroutine[Any, Any, None], name: str, job_id: int) -> None:
        """Run a step of a job in the background, with the shutdown grace, guarded."""
        self._background.spawn(self._guarded(coro, job_id), f"{name}-{job_id}", grace=True)

    async def _guarded(self, coro: Coroutine[Any, Any, None], job_id: int) -> None:
        """Await a step of a job; if it dies unexpectedly, end the job (refunded) instead.

        A database error after a create (a duplicate task id, say) lands here too. If
        even that cannot be stored, the job stays as it is and the next start resumes it.
        """
        try:
            await coro
        except Exception as exc:
            log_failure(log, exc, "job %s: step failed; ending the job", job_id)
            try:
                await self.fail(job_id, "unavailable", None)
            except Exception as again:
                log_failure(log, again, "job %s: failure not recorded; resumed later", job_id)
            # Whatever is left of it (a delivery still pending, say) is taken up again by
            # the restart rules once the lease runs out, here or in another process;
            # renewing it would hold the job here with nobody working on it.
            self.leases.of(job_id).lose()

    # ------------------------------------------------------------------ running

    async def _create(self, job: Job) -> None:
        """Create the generation; an inline answer is collected within the job's deadline."""
        route = route_for(job.request, job.input_count)
        inputs = await self._store.jobs.inputs(job.id) if job.input_count else []
        files = [(i.filename, i.data, i.content_type) for i in inputs if i.data is not None]
        try:
            async with asyncio.timeout(self._remaining(job)):
                result = await self._api.create_image(
                    job.request, path=route.path, file_field=route.file_field, files=files
                )
        except TimeoutError:
            log.warning("job %s: no answer within JOB_TIMEOUT_SECONDS", job.id)
            await self.fail(job.id, "timeout", None, state="timed_out")
            return
        except GatewayError as exc:
            log.warning("job %s: create failed: %r", job.id, exc)
            failures.watch_key(self._key, exc)  # a refused key: the next requests are refused
            await self.fail(job.id, classify(exc), exc.message, hint=failures.hint_of(exc))
            return
        except Exception as exc:
            log_failure(log, exc, "job %s: create failed", job.id)
            await self.fail(job.id, "unavailable", None)
            return
        self._key.key_accepted()
        if result.task is None:  # within what is left of the deadline
            await self._finish(job.id, result.images, usage=result.usage)
            return
        task = result.task
        running = await self._store.jobs.transition(
            job.id,
            ["submitted"],
            "running",
            token=self.leases.of(job.id).token,
            task_id=task.task_id,
            poll_url=task.poll_url,
        )
        if running is None:
            return
        log.info("job %s: running as task %s", job.id, task.task_id)
        if task.done:
            await self._task_done(job.id, task)
            return
        self.track(running)
        await self._delivery.progress(running)

    def track(self, job: Job) -> None:
        """Have the poller follow a running task."""
        assert job.task_id is not None
        self.poller.track(
            job.id,
            job.task_id,
            job.poll_url,
            self._deadline(job),
            model=job.model,
            options=job.options,
            submitted_at=job.submitted_at,
        )

    def _deadline(self, job: Job) -> float:
        """Give up on a task JOB_TIMEOUT_SECONDS after it was sent (queue time is free)."""
        return (job.submitted_at or job.created_at) + self._settings.job_timeout_seconds

    def _remaining(self, job: Job) -> float:
        """Return the seconds left before the job's deadline (at least a moment)."""
        return max(MIN_STEP_SECONDS, self._deadline(job) - time.time())

    # The poller's callbacks hand the outcome to a job task of their own, so that the
    # download and delivery get the shutdown grace period (polls are cancelled at once).

    async def _on_task_done(self, job_id: int, status: TaskStatus) -> None:
        self.run(self._task_done(job_id, status), "finish", job_id)

    async def _on_task_timed_out(self, job_id: int) -> None:
        self.run(self.fail(job_id, "timeout", None, state="timed_out"), "timeout", job_id)

    async def _on_task_lost(self, job_id: int, exc: GatewayError) -> None:
        self.run(self.fail(job_id, *failures.lost_task(exc)), "lost", job_id)

    async def _task_done(self, job_id: int, status: TaskStatus) -> None:
        if status.status != "completed":
            await self.fail(job_id, *failures.failed_task(status))
        elif status.images:
            await self._finish(job_id, status.images, usage=status.usage)
        else:
            await self.fail(job_id, "malformed", DETAIL_NO_IMAGES)

    async def finish_stored(self, job_id: int) -> None:
        """Finish a job whose create answered before a restart (its images are stored)."""
        await self._finish(job_id, (), await self._store.images.load_images(job_id))

    async def _finish(
        self,
        job_id: int,
        images: Sequence[ImageResult],
        stored: Sequence[StoredImage] | None = None,
        *,
        usage: Usage | None = None,
    ) -> None:
        """Store the answer's images, download what is only a URL, then succeed.

        Each image's bytes are written once: inline ones with the answer (``stored``,
        when a restart found them stored already), downloaded ones with the success.
        Delivery gets the images from here, not from the store.

        The downloads are bounded by what is left of the job's deadline (at least
        MIN_STEP_SECONDS, for a task found finished at its deadline), and each by what
        Discord can attach. Only the images that arrived are charged, in units and in
        dollars (from ``usage``, the answer's, else the price: :mod:`bot.billing`).
        """
        job = await self._store.jobs.get(job_id)
        if job is None or job.terminal:
            return
        lease = self.leases.of(job_id)
        try:
            if stored is None:
                stored = [_to_stored(i, image) for i, image in enumerate(images)]
                await self._store.images.save_images(job_id, stored, token=lease.token)
            async with asyncio.timeout(self._remaining(job)):
                complete = [await self._fetch(image, job.upload_limit) for image in stored]
        except TimeoutError:
            log.warning("job %s: images not downloaded within JOB_TIMEOUT_SECONDS", job_id)
            await self.fail(job_id, "timeout", DETAIL_DOWNLOAD_TIMEOUT, state="timed_out")
            return
        except LeaseLost:
            log.info("job %s: taken over by another process; it finishes the job", job_id)
            lease.lose()
            return
        except NotFoundError:
            await self.fail(job_id, "expired", None)
            return
        except GatewayError as exc:
            await self.fail(job_id, classify(exc), exc.message)
            return
        asked = max(1, int(job.options.get("count") or 1))
        units = job.quota_units * min(len(complete), asked) // asked
        revised = next((i.revised_prompt for i in images if i.revised_prompt), None)
        cost = settle_cost(
            self._price(job.model),
            usage,
            delivered=len(complete),
            asked=asked,
            estimate=job.cost_estimate,
        )
        async with self._store.transaction():
            succeeded = await self._store.jobs.transition(
                job_id,
                ["submitted", "running"],
                "succeeded",
                token=lease.token,
                result_urls=[i.url for i in complete if i.url],
                revised_prompt=revised,
                finished_at=time.time(),
                cost=cost.micros,
                cost_source=cost.source,
            )
            if succeeded is None:
                return
            fetched = [c for c, s in zip(complete, stored, strict=True) if s.data is None]
            await self._store.images.fill_images(job_id, fetched)
            await self._quota.settle(job_id, units if len(complete) < asked else None)
        self.sizes.learn(job, complete)
        self._background.spawn(self.sizes.keep(), "keep-output-sizes", flush=True)
        await self._ended(job_id, complete)

    async def _fetch(self, image: StoredImage, max_bytes: int) -> StoredImage:
        if image.data is not None:
            return image
        assert image.url is not None
        got = await self._api.download(image.url, max_bytes=max_bytes)
        return StoredImage(image.position, image.url, got.content_type, got.data)

    async def fail(
        self,
        job_id: int,
        code: str,
        detail: str | None,
        *,
        state: str = "failed",
        hint: str | None = None,
    ) -> None:
        """End an active job as ``state`` with its quota released, then deliver the news.

        ``hint``: what a gateway refusal allowed (:func:`~bot.jobs.failures.hint_of`).
        """
        async with self._store.transaction():
            failed = await self._store.jobs.transition(
                job_id,
                ACTIVE_STATES,
                state,
                token=self.leases.of(job_id).token,
                error_code=code,
                error_message=detail[:ERROR_DETAIL_LIMIT] if detail else None,
                error_hint=hint,
                cost=0,  # the gateway releases or refunds a failed job
                finished_at=time.time(),
            )
            if failed is None:
                return
            await self._quota.release(job_id)
        log.info("job %s: %s (%s)", job_id, state, code)
        await self._ended(job_id)

    async def _ended(self, job_id: int, images: Sequence[StoredImage] | None = None) -> None:
        """Free the slot of a job that stopped generating, move the queue, deliver it."""
        self.kick()
        await self.deliver(job_id, images)

    async def deliver(self, job_id: int, images: Sequence[StoredImage] | None = None) -> None:
        """Deliver the outcome, retrying; record it with any refund (see :mod:`outcomes`).

        ``images``: a succeeded job's images, when they are at hand (else read).
        """
        await self.outcomes.deliver(job_id, images)

    # ------------------------------------------------------------------ recovery

    async def resume(self) -> dict[str, int]:
        """Pick up every unfinished job after a start (see :mod:`bot.jobs.takeover`).

        First the poller learns how long tasks take from the ledger's recent finished
        tasks, so that estimates survive restarts.
        """
        learned = self.poller.learn(await self._store.jobs.finished_tasks(HISTORY_JOBS))
        log.info("learned completion times from %d finished tasks", learned)
        log.info("learned image sizes from %d delivered images", await self.sizes.restore())
        return await self.takeover.resume()

    def start(self) -> None:
        """Start the poller and the lease upkeep (stopped with the background tasks)."""
        self.poller.start()
        self._background.spawn(self.takeover.keep(), "leases")

    async def drop(self, job_id: int) -> None:
        """Cancel a queued job whose interaction was never answered; release its quota."""
        kept = await small_copies(await self._store.jobs.inputs(job_id))
        async with self._store.transaction():
            cancelled = await self._store.jobs.transition(
                job_id, ["queued"], "cancelled", finished_at=time.time()
            )
            if cancelled is not None:
                await self._quota.release(job_id)
                await self._store.jobs.keep_inputs(job_id, kept)
                await self._store.jobs.mark_delivered(
                    job_id, via="none", channel_id=None, message_id=None, delivered=False
                )
        self.positions.pop(job_id, None)


def _to_stored(position: int, image: ImageResult) -> StoredImage:
    if image.b64_json:
        data = decode_b64_image(image.b64_json)
        return StoredImage(position, image.url, sniff_content_type(data), data)
    return StoredImage(position, image.url, "image/png", None)
