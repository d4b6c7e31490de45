"""Leases: which process works on which job, fenced so that only one does.

Any process can run any job, and exactly one does. A job being created, polled or
delivered is leased to one process until ``lease_until`` (``LEASE_SECONDS`` ahead,
renewed every third of that); its ``lease_token`` is raised at every hand-over and every
state write of the job carries the token it was granted with, so a process that lost a
job (it stalled, or its lease expired) cannot write over the process that took it.

A step of a job takes one :class:`Lease` handle (``leases.of(job_id)``) and fences each
of its writes with ``lease.token``, read at the write: a job lost half-way through a
step has its later writes refused.
"""

from __future__ import annotations

import os
import secrets
import socket
import time

from bot.store import Job, Store

CLAIM_BATCH = 100
LOST_TOKEN = -1  # no lease has it: a write fenced with it never goes through
EVERYTHING = 1 << 31


class Lease:
    """One job's lease as this process holds it: the handle a step of the job uses.

    The handle remembers the token the job was held with when it was made. Should this
    process claim the job again meanwhile (its own lease ran out, and lease upkeep took
    it over with a new token), the new claim's steps hold new handles: this one's late
    writes are fenced (:data:`LOST_TOKEN`), and its ``lose`` or ``release`` leaves the
    new claim alone, so the new claim records the outcome and nothing is done twice.
    """

    def __init__(self, leases: Leases, job_id: int) -> None:
        self._leases = leases
        self.job_id = job_id
        self._seen = leases.held_token(job_id)

    def _superseded(self) -> bool:
        current = self._leases.held_token(self.job_id)
        return self._seen is not None and current is not None and current != self._seen

    @property
    def token(self) -> int | None:
        """The token to fence a write with now (None: not leased here; lost: refused)."""
        return LOST_TOKEN if self._superseded() else self._leases.token(self.job_id)

    def lose(self) -> None:
        """Stop working on the job (see :meth:`Leases.lose`), unless claimed anew since."""
        if not self._superseded():
            self._leases.lose(self.job_id)

    def release(self) -> None:
        """Forget the job, whose work is done (see :meth:`Leases.release`)."""
        if not self._superseded():
            self._leases.release(self.job_id)


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

    def of(self, job_id: int) -> Lease:
        """Return the handle a step of the job fences its writes with."""
        return Lease(self, job_id)

    def held_token(self, job_id: int) -> int | None:
        """Return the token of this process's current claim of a job (None: none)."""
        return self._tokens.get(job_id)

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
        """Extend every held lease; return the jobs lost to another process.

        A renewal that waited for the database (an outage) would write a time already
        past, and the claim after it would take this process's own jobs over while
        their steps are still in flight: it is written again, from now.
        """
        held = list(self._tokens)
        until = self.until()
        kept = await self._store.jobs.renew(self.owner, until, held)
        if kept and until - time.time() < self.seconds * 2 / 3:
            kept = await self._store.jobs.renew(self.owner, self.until(), sorted(kept))
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
