"""QueueStore: the counting side of the job ledger: how many jobs generate or wait.

The counts per server and member feed the running caps, the queue's room and the
places shown on waiting cards. The rows themselves are :class:`bot.store.jobs.JobStore`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.store.database import Database, placeholders
from bot.store.rows import GENERATING_STATES

GENERATING = f"state IN ({', '.join(repr(s) for s in GENERATING_STATES)})"


class QueueStore:
    """Job counts of the ledger: generating and queued, per server and member."""

    def __init__(self, db: Database) -> None:
        self._db = db

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
