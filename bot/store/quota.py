"""QuotaStore: the counting side of the job ledger: quota units and queue loads.

Quota moves a job's ``quota_state`` (``reserved -> settled | released``) and sums the
units a member has reserved or settled in a window; the counts say how many jobs
generate or wait per server and member (the running caps, the queue's room and places).
The rows themselves are :class:`bot.store.jobs.JobStore`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.store.database import Database, placeholders
from bot.store.rows import GENERATING_STATES

GENERATING = f"state IN ({', '.join(repr(s) for s in GENERATING_STATES)})"


class QuotaStore:
    """Quota units and job counts of the ledger."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def set_quota_state(
        self, job_id: int, to_state: str, *, from_state: str = "reserved", units: int | None = None
    ) -> bool:
        """Move a job's quota from ``from_state`` to ``to_state``, once; True if it moved.

        ``reserved -> settled | released`` settles or refunds a reservation;
        ``settled -> released`` gives back a charge whose result never reached anyone.
        ``units`` changes the amount as it moves (a charge for fewer images than asked).
        """
        changed = await self._db.execute(
            "UPDATE jobs SET quota_state = ?, quota_units = COALESCE(?, quota_units) "
            "WHERE id = ? AND quota_state = ?",
            (to_state, units, job_id, from_state),
        )
        return changed == 1

    async def reduce_charge(self, job_id: int, units: int) -> bool:
        """Lower a settled charge to ``units`` (some images never reached anyone); True once."""
        changed = await self._db.execute(
            "UPDATE jobs SET quota_units = ? WHERE id = ? AND quota_state = 'settled' "
            "AND quota_units > ?",
            (units, job_id, units),
        )
        return changed == 1

    async def quota_used(self, guild_id: int, user_id: int, window: str) -> int:
        """Return the units reserved or settled by a user in a quota window."""
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(quota_units), 0) AS used FROM jobs "
            "WHERE guild_id = ? AND user_id = ? AND quota_window = ? "
            "AND quota_state IN ('reserved', 'settled')",
            (guild_id, user_id, window),
        )
        return int(row["used"]) if row else 0

    async def quota_used_by(
        self, members: Iterable[tuple[int, int]], windows: Iterable[str]
    ) -> dict[tuple[int, int, str], int]:
        """Return the units reserved or settled per (guild, user, window), in one query."""
        pairs = set(members)
        guilds, users = sorted({g for g, _ in pairs}), sorted({u for _, u in pairs})
        keys = sorted(set(windows))
        rows = await self._db.fetchall(
            "SELECT guild_id, user_id, quota_window, COALESCE(SUM(quota_units), 0) AS used "
            f"FROM jobs WHERE guild_id IN ({placeholders(len(guilds))}) "
            f"AND user_id IN ({placeholders(len(users))}) "
            f"AND quota_window IN ({placeholders(len(keys))}) "
            "AND quota_state IN ('reserved', 'settled') "
            "GROUP BY guild_id, user_id, quota_window",
            (*guilds, *users, *keys),
        )
        return {
            (int(r["guild_id"]), int(r["user_id"]), str(r["quota_window"])): int(r["used"])
            for r in rows
        }

    # ------------------------------------------------------------------ counts

    async def loads(self, guild_ids: Iterable[int]) -> dict[tuple[int, int], tuple[int, int]]:
        """Return (generating, queued) jobs per (guild, user) of some servers, in one query."""
        guilds = sorted(set(guild_ids))
        rows = await self._db.fetchall(
            "SELECT guild_id, user_id, "
            f"SUM(CASE WHEN {GENERATING} THEN 1 ELSE 0 END) AS generating, "
            "SUM(CASE WHEN state = 'queued' THEN 1 ELSE 0 END) AS queued FROM jobs "
            f"WHERE guild_id IN ({placeholders(len(guilds))}) "
            f"AND (state = 'queued' OR {GENERATING}) GROUP BY guild_id, user_id",
            guilds,
        )
        return {
            (int(r["guild_id"]), int(r["user_id"])): (int(r["generating"]), int(r["queued"]))
            for r in rows
        }

    async def generating_counts(self) -> dict[tuple[int, int], int]:
        """Return the number of generating jobs per (guild, user), in one query."""
        rows = await self._db.fetchall(
            "SELECT guild_id, user_id, COUNT(*) AS n FROM jobs "
            f"WHERE {GENERATING} GROUP BY guild_id, user_id"
        )
        return {(int(r["guild_id"]), int(r["user_id"])): int(r["n"]) for r in rows}

    async def count(self, guild_id: int, user_id: int | None = None, *, queued: bool) -> int:
        """Return how many jobs of a guild (or one of its users) wait, or generate."""
        sql = "SELECT COUNT(*) AS n FROM jobs WHERE guild_id = ? AND "
        sql += "state = 'queued'" if queued else GENERATING
        params: tuple[Any, ...] = (guild_id,)
        if user_id is not None:
            sql += " AND user_id = ?"
            params += (user_id,)
        row = await self._db.fetchone(sql, params)
        return int(row["n"]) if row else 0

    async def queue_position(self, job_id: int) -> int:
        """Return a queued job's 1-based place in its server's queue."""
        row = await self._db.fetchone(
            "SELECT COUNT(*) AS n FROM jobs WHERE state = 'queued' AND id <= ? "
            "AND guild_id = (SELECT guild_id FROM jobs WHERE id = ?)",
            (job_id, job_id),
        )
        return int(row["n"]) if row else 0
