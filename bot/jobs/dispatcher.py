"""Dispatcher: the passes that start queued jobs while their caps allow.

The policy (caps, queue order, places) is pure, in :mod:`bot.jobs.queue_policy`; this is
its loop. A pass reads the queue and the running counts in one transaction under the
``dispatch`` lock (one pass at a time, across processes), marks the jobs it starts
``submitted`` with their lease, and after the commit hands each to ``create``; then it
updates the places shown on waiting cards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.background import Background
from bot.config import Settings
from bot.errors import log_failure
from bot.jobs import queue_policy
from bot.jobs.delivery import Delivery
from bot.jobs.leases import Leases
from bot.store import Job, Store

log = logging.getLogger(__name__)


class Dispatcher:
    """Start queued jobs, oldest first, while the member's and the server's caps allow."""

    def __init__(
        self,
        *,
        store: Store,
        settings: Settings,
        background: Background,
        leases: Leases,
        delivery: Delivery,
        create: Callable[[Job], None],
    ) -> None:
        """``create`` starts a submitted job's create."""
        self._store = store
        self._settings = settings
        self._background = background
        self.leases = leases
        self._delivery = delivery
        self._create = create
        self._dispatching = False  # a pass, or a run of passes, is under way
        self._dispatch_wanted = False  # a kick came since that pass began
        # Queue places last shown on waiting cards.
        self.positions: dict[int, int] = {}

    async def caps(self, guild_id: int) -> queue_policy.Caps:
        """Return a server's running and queue caps (its own, else the bot's)."""
        guild = await self._store.guilds.settings(guild_id)
        settings = self._settings
        return queue_policy.Caps(
            running_per_user=guild.max_running_per_user or settings.max_running_jobs_per_user,
            running_per_guild=guild.max_running_per_guild or settings.max_running_jobs_per_guild,
            queued_per_user=settings.max_queued_jobs_per_user,
            queued_per_guild=settings.max_queued_jobs_per_guild,
        )

    def kick(self) -> None:
        """Ask for a dispatch pass in the background (a slot may have come free).

        Kicks that come while a pass runs are folded into one more pass after it, which
        sees everything they announced: 30 accepts at once make two passes, not 30.
        """
        if self._background.closing:
            return
        self._dispatch_wanted = True
        if not self._dispatching:
            self._dispatching = True
            self._background.spawn(self._dispatch_while_wanted(), "dispatch")

    async def _dispatch_while_wanted(self) -> None:
        try:
            while self._dispatch_wanted and not self._background.closing:
                self._dispatch_wanted = False
                try:
                    await self._dispatch()
                except Exception as exc:
                    log_failure(log, exc, "dispatch pass failed; the next kick tries again")
        finally:
            self._dispatching = False

    async def _dispatch(self) -> None:
        """Submit queued jobs, oldest first, while their caps allow; update positions."""
        started: list[Job] = []
        creating: list[Job] = []
        # One transaction: every check of the pass sees the same jobs (none finishing
        # half-way through), so a later job can never overtake an earlier one.
        async with self._store.transaction():  # one pass at a time: see kick()
            await self._store.lock("dispatch")  # one pass at a time, across processes
            queued = await self._store.jobs.queued()
            caps = {gid: await self.caps(gid) for gid in {job.guild_id for job in queued}}
            running = await self._store.queue.generating_counts()
            # A job whose first answer is not recorded yet keeps its turn, unstarted.
            unanswered = {
                job.id for job in queued if job.acknowledged_at is None and job.interaction_token
            }
            plan = queue_policy.plan(queued, running, caps, unanswered)
            for job in plan.start:
                if self._background.closing:
                    break
                submitted = await self._store.jobs.submit(
                    job.id, owner=self.leases.owner, lease_until=self.leases.until()
                )
                if submitted is not None:
                    self.leases.hold(submitted)
                    creating.append(submitted)
                    if self.positions.pop(job.id, None) is not None:
                        started.append(submitted)  # its card still says "waiting"
        # After the commit: a create's answer must find the job stored as "submitted".
        for job in creating:
            self._create(job)
        for job in started:
            await self._delivery.progress(job)
        for job_id, position in plan.positions().items():
            if job_id not in unanswered and self.positions.get(job_id) != position:
                self.positions[job_id] = position
                job = next(j for jobs in plan.waiting.values() for j in jobs if j.id == job_id)
                await self._delivery.progress(job, position=position)
