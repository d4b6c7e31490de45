"""Recovery: what to do with each job a process takes over, decided, not done.

The restart rules, for a job left by a dead process as for one left by this process
before a restart:

* ``queued``: never sent, so the dispatcher submits it when a slot is free; but one whose
  first answer was not recorded is checked with Discord: if the answer never arrived,
  the member saw "The application did not respond" and the job is dropped and refunded;
* ``submitted`` with images already stored: the create answered, so it is finished;
* ``submitted`` without images: a create was in flight when its process died. Nobody can
  tell whether the gateway made (and billed) the image, so it is not created again: the
  job fails as ``interrupted`` and the quota is released;
* ``running``: the task id is known, so the task is polled again (never re-created);
* terminal with delivery pending: the outcome is delivered again.

:func:`decide` is the rule, pure; :class:`Recovery` claims the jobs (through
:mod:`bot.jobs.leases`) and returns a decision per job, and the runner carries each
out (:mod:`bot.jobs.takeover`), as the dispatcher carries out the
pure :mod:`bot.jobs.queue_policy`.

With SQLite there is one process: at its start it takes every job whatever the leases.
With PostgreSQL a process takes only expired leases (claims skip rows another process is
claiming), so after a crash a restarted process picks up its own old jobs once their
leases run out. A process that stops cleanly gives its leases back as its last write, so
the others (or its own restart) take its jobs at once.
"""

from __future__ import annotations

from typing import Literal

from bot.jobs.delivery import Delivery
from bot.jobs.leases import CLAIM_BATCH, Leases
from bot.store import Job, Store

# A first answer still not recorded after this long will never be: the request it
# belongs to either failed (the member saw Discord's error) or its process died.
ANSWER_GRACE_SECONDS = 10.0

Action = Literal["finishing", "interrupted", "polling", "delivering"]


def decide(job: Job, has_images: bool) -> Action | None:
    """Return what the restart rules do with a claimed job (None: nothing)."""
    if job.state == "submitted":
        return "finishing" if has_images else "interrupted"
    if job.state == "running" and job.task_id:
        return "polling"
    if job.terminal:
        return "delivering"
    return None


class Recovery:
    """Find the jobs to take over and what to do with each; never does it."""

    def __init__(self, store: Store, leases: Leases, delivery: Delivery) -> None:
        self._store = store
        self._leases = leases
        self._delivery = delivery
        self.single = store.db.engine == "sqlite"  # one process: every job is ours

    async def unanswered(self, older_than: float) -> list[int]:
        """Record the first answers Discord has; return the queued jobs it never got."""
        dropped = []
        for job in await self._store.jobs.unacknowledged(older_than):
            answered, message_id = await self._delivery.first_answer(job)
            if answered:
                await self._store.jobs.acknowledge(job.id, message_id)
            else:
                dropped.append(job.id)
        return dropped

    async def claim(self, *, everything: bool) -> list[tuple[Action, Job]]:
        """Claim the jobs that need work (all, with ``everything``); decide each."""
        decided: list[tuple[Action, Job]] = []
        while jobs := await self._leases.claim(everything=everything):
            for job in jobs:
                has_images = job.state == "submitted" and await self._store.images.has_images(
                    job.id
                )
                action = decide(job, has_images)
                if action is not None:
                    decided.append((action, job))
            if len(jobs) < CLAIM_BATCH or everything:
                break
        return decided
