"""QuotaStore: the quota side of the job ledger.

It moves a job's ``quota_state`` (``reserved -> settled | released``) and sums the
units a member has reserved or settled in a window. How many jobs generate or wait is
:class:`bot.store.queue.QueueStore`'s; the rows themselves are
:class:`bot.store.jobs.JobStore`'s.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.store.database import Database, placeholders


class QuotaStore:
    """Quota units of the ledger."""

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
