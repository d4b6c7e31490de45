"""Scheduling policy, pure: running caps, admission to the queue, queue order and places.

A server's queue is first in, first out. A job may start when neither its member nor
its server has reached the running cap. A job that could start but whose interaction
is not answered yet keeps its turn: no later job of its server overtakes it. A job held
back only by its member's cap lets the server's later jobs (of other members) go first.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

from bot.errors import QueueFull
from bot.store import Job


@dataclass(frozen=True)
class Caps:
    """A server's limits: jobs running per member and per server, jobs waiting likewise."""

    running_per_user: int
    running_per_guild: int
    queued_per_user: int
    queued_per_guild: int


@dataclass(frozen=True)
class Load:
    """What a member and their server have running and waiting."""

    running_user: int
    running_guild: int
    queued_user: int
    queued_guild: int


def admission(caps: Caps, load: Load) -> int | None:
    """Return the queue place a new request takes (None: it runs now); refuse a full queue.

    Jobs queued ahead take the free slots first (FIFO), so they count as running.
    """
    must_wait = (
        load.running_user + load.queued_user >= caps.running_per_user
        or load.running_guild + load.queued_guild >= caps.running_per_guild
    )
    if not must_wait:
        return None
    if load.queued_user >= caps.queued_per_user:
        raise QueueFull("refusal.queue_member_full", count=load.queued_user)
    if load.queued_guild >= caps.queued_per_guild:
        raise QueueFull("refusal.queue_server_full", count=load.queued_guild)
    return load.queued_guild + 1


@dataclass
class Plan:
    """One dispatch pass: the jobs to start now, and each server's waiting jobs in order."""

    start: list[Job] = field(default_factory=list)
    waiting: dict[int, list[Job]] = field(default_factory=dict)

    def positions(self) -> dict[int, int]:
        """Return every waiting job's 1-based place in its server's queue."""
        return {
            job.id: place
            for jobs in self.waiting.values()
            for place, job in enumerate(jobs, start=1)
        }


def plan(
    queued: Sequence[Job],
    running: Mapping[tuple[int, int], int],
    caps: Mapping[int, Caps],
    unacknowledged: Collection[int],
) -> Plan:
    """Decide which queued jobs (oldest first) start now, given who runs what."""
    per_user = dict(running)
    per_guild: dict[int, int] = {}
    for (guild_id, _), count in per_user.items():
        per_guild[guild_id] = per_guild.get(guild_id, 0) + count
    result = Plan()
    held: set[int] = set()  # servers where an earlier job keeps its turn
    for job in queued:
        cap = caps[job.guild_id]
        key = (job.guild_id, job.user_id)
        if job.guild_id in held or per_guild.get(job.guild_id, 0) >= cap.running_per_guild:
            held.add(job.guild_id)
        elif per_user.get(key, 0) >= cap.running_per_user:
            pass  # its member is at the cap: later jobs of other members may go first
        elif job.id in unacknowledged:
            held.add(job.guild_id)  # it could start: it keeps its turn until answered
        else:
            per_user[key] = per_user.get(key, 0) + 1
            per_guild[job.guild_id] = per_guild.get(job.guild_id, 0) + 1
            result.start.append(job)
            continue
        result.waiting.setdefault(job.guild_id, []).append(job)
    return result
