"""Takeover: the runner carrying out what recovery decided, at a start and all along.

At a start every unfinished job is picked up (:meth:`Takeover.resume`); then, every
third of the lease, the held leases are renewed, the jobs lost to another process are
left, expired leases are taken over and unanswered first answers checked
(:meth:`Takeover.tick`). :mod:`bot.jobs.recovery` decides what each job needs; the
runner (:mod:`bot.jobs.lifecycle`, seen here through :class:`Runner`) does it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from bot.errors import log_failure
from bot.jobs.leases import Leases
from bot.jobs.poller import TaskPoller
from bot.jobs.recovery import ANSWER_GRACE_SECONDS, Action, Recovery
from bot.store import Job, Store, StoredImage

log = logging.getLogger(__name__)


class Runner(Protocol):
    """What a takeover asks of the job runner."""

    leases: Leases
    poller: TaskPoller

    def run(self, coro: Coroutine[Any, Any, None], name: str, job_id: int) -> None: ...
    def track(self, job: Job) -> None: ...
    def kick(self) -> None: ...
    async def drop(self, job_id: int) -> None: ...
    async def finish_stored(self, job_id: int) -> None: ...
    async def fail(
        self, job_id: int, code: str, detail: str | None, *, state: str = "failed"
    ) -> None: ...
    async def deliver(self, job_id: int, images: Sequence[StoredImage] | None = None) -> None: ...


class Takeover:
    """Resume jobs at a start and, all along, take over what other processes left."""

    def __init__(self, runner: Runner, store: Store, recovery: Recovery) -> None:
        self._runner = runner
        self._store = store
        self._recovery = recovery

    async def resume(self) -> dict[str, int]:
        """Pick up every unfinished job after a start; return counts by action."""
        counts = dict.fromkeys(
            ("queued", "dropped", "polling", "finishing", "interrupted", "delivering"), 0
        )
        single = self._recovery.single
        await self._drop_unanswered(time.time() - (0 if single else ANSWER_GRACE_SECONDS), counts)
        counts["queued"] += len(await self._store.jobs.queued())
        for action, job in await self._recovery.claim(everything=single):
            counts[action] += 1
            self._take_over(action, job)
        self._runner.kick()
        log.info("resumed jobs: %s", counts)
        return counts

    async def tick(self) -> dict[str, int]:
        """Run one round of lease upkeep: renew, drop what was lost, take over, check."""
        counts = dict.fromkeys(("lost", "dropped", "taken"), 0)
        for job_id in await self._runner.leases.renew():
            counts["lost"] += 1
            log.warning("job %s: lease lost to another process; leaving it", job_id)
            self._runner.poller.forget(job_id)
        await self._drop_unanswered(time.time() - ANSWER_GRACE_SECONDS, counts)
        for action, job in await self._recovery.claim(everything=False):
            counts["taken"] += 1
            self._take_over(action, job)
        if counts["taken"] or counts["dropped"]:
            log.info("lease upkeep: %s", counts)
        self._runner.kick()
        return counts

    async def _drop_unanswered(self, older_than: float, counts: dict[str, int]) -> None:
        for job_id in await self._recovery.unanswered(older_than):
            counts["dropped"] += 1
            await self._runner.drop(job_id)

    def _take_over(self, action: Action, job: Job) -> None:
        """Do what recovery decided for a claimed job."""
        runner = self._runner
        if action == "finishing":
            runner.run(runner.finish_stored(job.id), "finish", job.id)
        elif action == "interrupted":
            runner.run(runner.fail(job.id, "interrupted", None), "fail", job.id)
        elif action == "polling":
            runner.track(job)
        else:
            runner.run(runner.deliver(job.id), "deliver", job.id)

    async def keep(self) -> None:
        """Renew leases and take over expired ones, every third of the lease, forever."""
        while True:
            await asyncio.sleep(self._runner.leases.seconds / 3)
            try:
                await self.tick()
            except Exception as exc:
                log_failure(log, exc, "lease upkeep failed; trying again shortly")
