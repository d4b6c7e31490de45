"""QuotaService: per-user image quotas that mirror the gateway's billing.

A request *reserves* its cost when it is accepted (atomically with writing the job
row, by :mod:`bot.jobs.admission`), *settles* it when the images are made, and
*releases* it on any failure. The reservation lives on the job row itself, so a
restart can never lose or double it, and each of settle/release happens at most once
(a conditional update).

Quotas are keyed by the same identity the bot sends as the API's ``user`` field:
the Discord server and the user (see :func:`api_user`).

Which limit applies to a member, first match wins:

1. a per-user override set by a moderator (a number, or unlimited);
2. otherwise, if any of the member's roles has a rule: the most generous of those
   role rules (unlimited beats any number), so a role can raise *or* lower the limit;
3. otherwise the server's default (``/imagemod quota default``), else
   ``DAILY_IMAGE_QUOTA``.

The window is the UTC calendar day, or per server the ISO week (from Monday) or the
calendar month. Changing a server's period starts a fresh window.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Collection, Sequence

from bot.errors import QuotaExceeded
from bot.i18n import Text
from bot.store import GuildSettings, QuotaRule, QuotaStatus, Store
from bot.ui.format import timestamp
from bot.ui.text import period_key

log = logging.getLogger(__name__)

PERIODS = ("day", "week", "month")


def api_user(guild_id: int, user_id: int) -> str:
    """Return the stable id sent as the API's ``user`` field and used as the quota key."""
    return f"discord:{guild_id}:{user_id}"


def _utc(now: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(now, dt.UTC)


def window_of(now: float, period: str = "day") -> str:
    """Return the key of the quota window containing the unix time ``now``."""
    moment = _utc(now)
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return moment.strftime("%Y-%m")
    return moment.strftime("%Y-%m-%d")


def window_start(now: float, period: str = "day") -> int:
    """Return the unix time at which the window containing ``now`` began."""
    day = _utc(now).date()
    if period == "week":
        start = day - dt.timedelta(days=day.weekday())
    elif period == "month":
        start = day.replace(day=1)
    else:
        start = day
    return int(dt.datetime.combine(start, dt.time(), dt.UTC).timestamp())


def window_reset(now: float, period: str = "day") -> int:
    """Return the unix time at which the window containing ``now`` ends."""
    day = _utc(now).date()
    if period == "week":
        end = day + dt.timedelta(days=7 - day.weekday())
    elif period == "month":
        end = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    else:
        end = day + dt.timedelta(days=1)
    return int(dt.datetime.combine(end, dt.time(), dt.UTC).timestamp())


def effective_limit(
    rules: Sequence[QuotaRule], user_id: int, role_ids: Collection[int], default: int
) -> int | None:
    """Return the limit for a member (None = unlimited) by the precedence above."""
    for rule in rules:
        if rule.kind == "user" and rule.target_id == user_id:
            return rule.limit_units
    role_limits = [r.limit_units for r in rules if r.kind == "role" and r.target_id in role_ids]
    if role_limits:
        if any(limit is None for limit in role_limits):
            return None
        return max(limit for limit in role_limits if limit is not None)
    return default


class QuotaService:
    """Which limit applies, and settle, release and refund the units reserved on job rows.

    Reserving happens with the job's insert, in :mod:`bot.jobs.admission` (see
    :func:`check_fits`).
    """

    def __init__(self, store: Store, *, period_limit: int) -> None:
        """``period_limit``: the bot-wide units per quota period (day, week or month)."""
        self._store = store
        self._period_limit = period_limit

    async def limit_for(
        self, guild_id: int, user_id: int, role_ids: Collection[int] = ()
    ) -> tuple[int | None, GuildSettings]:
        """Return the member's limit (None = unlimited) and the server's settings."""
        settings = await self._store.guilds.settings(guild_id)
        default = self._period_limit if settings.period_limit is None else settings.period_limit
        rules = await self._store.guilds.quota_rules(guild_id)
        return effective_limit(rules, user_id, role_ids, default), settings

    async def status(
        self, guild_id: int, user_id: int, role_ids: Collection[int] = ()
    ) -> QuotaStatus:
        """Return what the member has used of the current window."""
        now = time.time()
        limit, settings = await self.limit_for(guild_id, user_id, role_ids)
        period = settings.quota_period
        used = await self._store.quota.quota_used(guild_id, user_id, window_of(now, period))
        return QuotaStatus(used, limit, window_reset(now, period), period)

    async def settle(self, job_id: int, units: int | None = None) -> bool:
        """Charge a reservation for good (the images were made); True the first time.

        ``units`` charges less than was reserved, when fewer images arrived than asked.
        """
        return await self._store.quota.set_quota_state(job_id, "settled", units=units)

    async def release(self, job_id: int) -> bool:
        """Give a reservation back (the job failed); True the first time."""
        return await self._store.quota.set_quota_state(job_id, "released")

    async def refund(self, job_id: int) -> bool:
        """Give back a settled charge whose result never reached anyone; True once."""
        return await self._store.quota.set_quota_state(job_id, "released", from_state="settled")

    async def keep_only(self, job_id: int, units: int) -> bool:
        """Lower a settled charge to ``units``: the rest of the images never reached anyone."""
        return await self._store.quota.reduce_charge(job_id, units)


def check_fits(used: int, limit: int | None, cost: int, now: float, period: str = "day") -> None:
    """Raise QuotaExceeded unless ``cost`` more units fit a member's ``limit``."""
    if limit is not None and used + cost > limit:
        raise QuotaExceeded(quota_refusal(used, limit, cost, now, period))


def quota_refusal(used: int, limit: int, cost: int, now: float, period: str = "day") -> Text:
    """Return the short message shown when a request does not fit the quota."""
    reset = timestamp(window_reset(now, period), "R")
    noun = Text(period_key(period))
    if limit == 0:
        return Text("refusal.quota_off")
    left = max(0, limit - used)
    if left == 0:
        return Text.of("refusal.quota_used", limit=limit, period=noun, reset=reset)
    return Text.of(
        "refusal.quota_short", cost=cost, left=left, limit=limit, period=noun, reset=reset
    )
