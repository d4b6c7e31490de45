"""Outcomes: a finished job's delivery, retried, and its record with any refund.

Every path (edit, channel, DM) is tried on each attempt, carrying on after the parts
already posted; attempts are spaced by :data:`DELIVERY_RETRY_DELAYS` (Discord down).
The outcome is then recorded in one transaction with its refund: all of a settled
charge when nothing got through after the last attempt, or the share of images the
member never saw; the job's reference images are replaced by their small copies
(:mod:`bot.jobs.kept`). Then the finished-job listeners (the audit post) hear of it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.errors import log_failure
from bot.jobs.delivery import Delivery, Sent
from bot.jobs.kept import small_copies
from bot.jobs.leases import Lease, Leases
from bot.quota import QuotaService
from bot.store import InputImage, Job, LeaseLost, Store, StoredImage

log = logging.getLogger(__name__)

# Waits before the 2nd, 3rd, ... delivery attempt when every path failed (Discord down).
DELIVERY_RETRY_DELAYS = (5.0, 20.0, 60.0, 300.0)


class Outcomes:
    """Deliver finished jobs and record where their outcome went."""

    def __init__(
        self,
        *,
        store: Store,
        quota: QuotaService,
        delivery: Delivery,
        leases: Leases,
    ) -> None:
        self._store = store
        self._quota = quota
        self._delivery = delivery
        self.leases = leases
        self.finished_listeners: list[Callable[[Job], Awaitable[None]]] = []

    async def deliver(self, job_id: int, images: Sequence[StoredImage] | None = None) -> None:
        """Deliver the outcome, retrying with back-off; refund what never got through.

        Every path (edit, channel, DM) is tried on each attempt, carrying on after the
        parts already posted. The outcome is then recorded in one transaction with its
        refund: all of a settled charge when nothing got through after the last attempt,
        or the share of images the member never saw. ``images`` are the job's stored
        images when the caller has them (else delivery reads them).
        """
        attempts = (0.0, *DELIVERY_RETRY_DELAYS)
        lease = self.leases.of(job_id)
        sent = None
        for attempt, delay in enumerate(attempts, start=1):
            if delay:
                await asyncio.sleep(delay)
            job = await self._store.jobs.get(job_id)
            if job is None or job.delivery_state != "pending":
                return
            try:
                sent = await self._delivery.deliver(job, lease=lease.token, images=images)
            except LeaseLost:
                log.info("job %s: taken over by another process; it delivers the rest", job_id)
                lease.lose()
                return
            except Exception as exc:
                log_failure(log, exc, "job %s: delivery attempt %d failed", job_id, attempt)
                if attempt == len(attempts):
                    # Still pending: whoever claims it next (this process at its next
                    # start, or another now) tries again; holding the lease would stop both.
                    lease.lose()
                    return
                continue
            if sent is not None and sent.complete:
                break
        assert job is not None
        # Nothing sends the whole references again: only a small copy is kept (see kept).
        inputs = await self._store.jobs.inputs(job.id) if job.input_count else []
        finished = await self._record_delivery(job, sent, lease, await small_copies(inputs))
        if finished is None:
            return
        for listener in self.finished_listeners:
            try:
                await listener(finished)
            except Exception as exc:
                log_failure(log, exc, "job %s: a finished-job listener failed", job_id)

    async def _record_delivery(
        self, job: Job, sent: Sent | None, lease: Lease, copies: Sequence[InputImage] = ()
    ) -> Job | None:
        """Record where the outcome went, with any refund and the references kept, at once."""
        async with self._store.transaction():
            # Written whoever records the outcome: once delivered, only the copy is needed.
            await self._store.jobs.keep_inputs(job.id, copies)
            token = lease.token
            if sent is None:
                finished = await self._store.jobs.mark_delivered(
                    job.id,
                    via="none",
                    channel_id=None,
                    message_id=None,
                    delivered=False,
                    token=token,
                )
                if finished is not None and await self._quota.refund(job.id):
                    log.warning("job %s: outcome undeliverable; quota refunded", job.id)
                return finished
            finished = await self._store.jobs.mark_delivered(
                job.id,
                via=sent.via,
                channel_id=sent.channel_id,
                message_id=sent.message_id,
                token=token,
            )
            stored = sent.stored  # what delivery loaded; not read again here
            if finished is not None and job.state == "succeeded" and sent.shown < stored:
                kept = job.quota_units * sent.shown // max(1, stored)
                if await self._quota.keep_only(job.id, kept):
                    log.warning("job %s: %d of %d images shown", job.id, sent.shown, stored)
        # The images' bytes stay after delivery (the dashboard shows them; Discord's links
        # expire): LOG_RETENTION_DAYS removes them with the rest of the job's content.
        lease.release()  # the job needs nobody any more
        return finished
