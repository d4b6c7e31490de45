"""QuotaService: per-user image quotas that mirror the gateway's billing.

A request *reserves* its cost when it is accepted (atomically with writing the job
row), *settles* it when the images are made, and *releases* it on any failure. The
reservation lives on the job row itself, so a restart can never lose or double it,
and each of settle/release happens at most once (a conditional update).

Quotas are keyed by the same identity the bot sends as the API's ``user`` field:
the Discord server and the user (see :func:`api_user`). The window is the UTC day.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.db import Database, JobDraft
from bot.errors import QuotaExceeded

log = logging.getLogger(__name__)


def api_user(guild_id: int, user_id: int) -> str:
    """Return the stable id sent as the API's ``user`` field and used as the quota key."""
    return f"discord:{guild_id}:{user_id}"


def window_of(now: float) -> str:
    """Return the quota window (UTC calendar day) containing the unix time ``now``."""
    return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")


def window_reset(now: float) -> int:
    """Return the unix time at which the window containing ``now`` ends."""
    day = dt.datetime.fromtimestamp(now, dt.UTC).date() + dt.timedelta(days=1)
    return int(dt.datetime.combine(day, dt.time(), dt.UTC).timestamp())


@dataclass(frozen=True)
class QuotaStatus:
    """A user's standing in the current window."""

    used: int
    limit: int
    resets_at: int

    @property
    def remaining(self) -> int:
        """Units left in this window."""
        return max(0, self.limit - self.used)


class QuotaService:
    """Reserve, settle and release quota units on job rows."""

    def __init__(
        self, db: Database, *, daily_limit: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._db = db
        self._daily_limit = daily_limit
        self._clock = clock

    def limit_for(self, guild_id: int, user_id: int) -> int:
        """Return the user's limit for the current window."""
        return self._daily_limit

    async def status(self, guild_id: int, user_id: int) -> QuotaStatus:
        """Return what the user has used of the current window."""
        now = self._clock()
        used = await self._db.quota_used(guild_id, user_id, window_of(now))
        return QuotaStatus(used, self.limit_for(guild_id, user_id), window_reset(now))

    def window(self) -> str:
        """Return the current window key."""
        return window_of(self._clock())

    async def reserve_and_insert(self, draft: JobDraft) -> int:
        """Reserve ``draft.quota_units`` and store the job, atomically; return the job id.

        Raises QuotaExceeded (and stores nothing) when the units do not fit.
        """
        now = self._clock()
        async with self._db.transaction():
            used = await self._db.quota_used(draft.guild_id, draft.user_id, draft.quota_window)
            limit = self.limit_for(draft.guild_id, draft.user_id)
            if used + draft.quota_units > limit:
                raise QuotaExceeded(quota_refusal(used, limit, draft.quota_units, now))
            return await self._db.insert_job(draft, now=now)

    async def settle(self, job_id: int) -> bool:
        """Charge a reservation for good (the images were made); True the first time."""
        return await self._db.set_quota_state(job_id, "settled")

    async def release(self, job_id: int) -> bool:
        """Give a reservation back (the job failed); True the first time."""
        return await self._db.set_quota_state(job_id, "released")


def quota_refusal(used: int, limit: int, cost: int, now: float) -> str:
    """Return the short message shown when a request does not fit the quota."""
    reset = f"<t:{window_reset(now)}:R>"
    if limit == 0:
        return "Image generation is turned off on this server."
    left = max(0, limit - used)
    if left == 0:
        return f"You've used all {limit} of today's images. Your quota resets {reset}."
    return (
        f"This request costs {cost} images but you have {left} of {limit} left today. "
        f"Your quota resets {reset}."
    )
