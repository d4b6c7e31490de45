"""Leases and recovery: which process works on which job, and picking up the orphans.

Any process can run any job, and exactly one does. A job being created, polled or
delivered is leased to one process until ``lease_until`` (``LEASE_SECONDS`` ahead,
renewed every third of that); its ``lease_token`` is raised at every hand-over and every
state write of the job carries the token it was granted with, so a process that lost a
job (it stalled, or its lease expired) cannot write over the process that took it.

Recovery follows the restart rules, for a job left by a dead process as for one left by
this process before a restart:

* ``queued``: never sent, so the dispatcher submits it when a slot is free; but one whose
  first answer was not recorded is checked with Discord: if the answer never arrived,
  the member saw "The application did not respond" and the job is dropped and refunded;
* ``submitted`` with images already stored: the create answered, so it is finished;
* ``submitted`` without images: a create was in flight when its process died. Nobody can
  tell whether the gateway made (and billed) the image, so it is not created again: the
  job fails as ``interrupted`` and the quota is released;
* ``running``: the task id is known, so the task is polled again (never re-created);
* terminal with delivery pending: the outcome is delivered again.

With SQLite there is one process: at its start it takes every job whatever the leases.
With PostgreSQL a process takes only expired leases (claims skip rows another process is
claiming), so after a crash a restarted process picks up its own old jobs once their
leases run out. A process that stops cleanly gives its leases back as its last write, so
the others (or its own restart) take its jobs at once.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from typing import TYPE_CHECKING

from bot.store import Job, Store

if TYPE_CHECKING:
    from bot.jobs.lifecycle import JobRunner

log = logging.getLogger(__name__)

CLAIM_BATCH = 100
LOST_TOKEN = -1  # no lease has it: a write fenced with it never goes through
EVERYTHING = 1 << 31
# A first answer still not recorded after this long will never be: the request it
# belongs to either failed (the member saw Discord's error) or its process died.
ANSWER_GRACE_SECONDS = 10.0


class Leases:
    """The jobs this process holds, with the token each was granted with."""

    def __init__(self, store: Store, seconds: float) -> None:
        self._store = store
        self.seconds = seconds
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._tokens: dict[int, int] = {}
        # Jobs this process held and lost to another: their work still in flight here must
        # not write unfenced, so their token stays a value no lease ever has.
        self._lost: set[int] = set()

    def until(self) -> float:
        """Return when a lease taken or renewed now runs out."""
        return time.time() + self.seconds

    def hold(self, job: Job) -> None:
        """Remember a job this process was just granted."""
        self._tokens[job.id] = job.lease_token
        self._lost.discard(job.id)

    def token(self, job_id: int) -> int | None:
        """Return the token this process holds a job with (None: not leased here).

        A job lost to another process gets ``LOST_TOKEN``, which every fenced write refuses.
        """
        if job_id in self._lost:
            return LOST_TOKEN
        return self._tokens.get(job_id)

    def release(self, job_id: int) -> None:
        """Forget a job whose work is done (its row needs nobody any more)."""
        self._tokens.pop(job_id, None)
        self._lost.discard(job_id)

    def lose(self, job_id: int) -> None:
        """Stop working on a job (lost to another process, or left for the next claim).

        Its lease is renewed no more, and this process's late writes on it stay fenced
        off until it claims the job again.
        """
        self._tokens.pop(job_id, None)
        self._lost.add(job_id)

    async def give_back(self) -> int:
        """Hand every job this process holds back (at a clean stop); return how many."""
        self._tokens.clear()
        return await self._store.jobs.give_back(self.owner)

    async def renew(self) -> set[int]:
        """Extend every held lease; return the jobs lost to another process."""
        held = list(self._tokens)
        kept = await self._store.jobs.renew(self.owner, self.until(), held)
        lost = set(held) - kept
        for job_id in lost:
            self.lose(job_id)
        return lost

    async def claim(self, *, everything: bool = False) -> list[Job]:
        """Take the jobs that need work and that nobody holds (all, with ``everything``)."""
        jobs = await self._store.jobs.claim(
            owner=self.owner,
            lease_until=self.until(),
            limit=EVERYTHING if everything else CLAIM_BATCH,
            everything=everything,
        )
        for job in jobs:
            self.hold(job)
        return jobs


class Recovery:
    """Resume jobs at a start and, all along, take over what other processes left."""

    def __init__(self, runner: JobRunner, store: Store, leases: Leases) -> None:
        self._runner = runner
        self._store = store
        self._leases = leases
        self._single = store.db.engine == "sqlite"  # one process: every job is ours

    async def resume(self) -> dict[str, int]:
        """Pick up every unfinished job after a start; return counts by action."""
        counts = dict.fromkeys(
            ("queued", "dropped", "polling", "finishing", "interrupted", "delivering"), 0
        )
        older = time.time() if self._single else time.time() - ANSWER_GRACE_SECONDS
        await self._check_answers(older, counts)
        counts["queued"] += len(await self._store.jobs.queued())
        await self._take(self._single, counts)
        self._runner.kick()
        log.info("resumed jobs: %s", counts)
        return counts

    async def keep(self) -> None:
        """Renew leases and take over expired ones, every third of the lease, forever."""
        while True:
            await asyncio.sleep(self._leases.seconds / 3)
            try:
                await self.tick()
            except Exception:
                log.exception("lease upkeep failed; trying again shortly")

    async def tick(self) -> dict[str, int]:
        """Run one round of upkeep: renew, drop what was lost, take over, check answers."""
        counts = dict.fromkeys(("lost", "dropped", "taken"), 0)
        for job_id in await self._leases.renew():
            counts["lost"] += 1
            log.warning("job %s: lease lost to another process; leaving it", job_id)
            self._runner.poller.forget(job_id)
        await self._check_answers(time.time() - ANSWER_GRACE_SECONDS, counts)
        taken: dict[str, int] = {}
        await self._take(False, taken)
        counts["taken"] = sum(taken.values())
        if counts["taken"] or counts["dropped"]:
            log.info("lease upkeep: %s", counts)
        self._runner.kick()
        return counts

    async def _check_answers(self, older_than: float, counts: dict[str, int]) -> None:
        """Drop queued jobs whose first answer never reached Discord; keep the others."""
        for job in await self._store.jobs.unacknowledged(older_than):
            answered, message_id = await self._runner.delivery.first_answer(job)
            if answered:
                await self._store.jobs.acknowledge(job.id, message_id)
            else:
                counts["dropped"] = counts.get("dropped", 0) + 1
                await self._runner.drop(job.id)

    async def _take(self, everything: bool, counts: dict[str, int]) -> None:
        """Claim jobs that need work and resume each by the restart rules."""
        runner = self._runner
        while jobs := await self._leases.claim(everything=everything):
            for job in jobs:
                if job.state == "submitted":
                    if await self._store.jobs.load_images(job.id):
                        counts["finishing"] = counts.get("finishing", 0) + 1
                        runner.run(runner.finish_stored(job.id), "finish", job.id)
                    else:
                        counts["interrupted"] = counts.get("interrupted", 0) + 1
                        runner.run(runner.fail(job.id, "interrupted", None), "fail", job.id)
                elif job.state == "running" and job.task_id:
                    counts["polling"] = counts.get("polling", 0) + 1
                    runner.track(job)
                elif job.terminal:
                    counts["delivering"] = counts.get("delivering", 0) + 1
                    runner.run(runner.deliver(job.id), "deliver", job.id)
            if len(jobs) < CLAIM_BATCH or everything:
                break
