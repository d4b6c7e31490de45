"""SpendStore: servers' dollar budgets, the spend they see, and thresholds announced.

What a server spent in a budget window is read from the job ledger itself, in the
admission's transaction (under the server's budget lock, see :mod:`bot.jobs.admission`):
a job counts at its settled ``cost`` once known (a refunded job too: the gateway was
paid), at its ``cost_estimate`` while its quota is reserved, and not at all once
released without a cost (it failed, and the gateway charged nothing). So a reservation,
its settlement and its release are the job's own writes, exact across processes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from bot.store.database import Database, placeholders
from bot.store.guilds import SHARED_TTL, _Cache
from bot.store.rows import Budget, SpendRow, columns_of

_BUDGET = columns_of(Budget)
# What one job counts against its budget window (see the module docstring).
SPEND = (
    "CASE WHEN cost IS NOT NULL THEN cost "
    "WHEN quota_state = 'reserved' THEN cost_estimate ELSE 0 END"
)


class SpendStore:
    """Dollar budgets (micro-dollars), their spend and their alerts."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache = _Cache(None if db.engine == "sqlite" else SHARED_TTL)

    async def budget(self, guild_id: int) -> Budget | None:
        """Return a server's budget, or None (no budget: spend is not limited)."""
        return await self._cache.read("budget", guild_id, lambda: self._budget(guild_id))

    async def _budget(self, guild_id: int) -> Budget | None:
        row = await self._db.fetchone(
            f"SELECT {_BUDGET} FROM guild_budgets WHERE guild_id = ?", (guild_id,)
        )
        return Budget.from_row(row) if row else None

    async def set_budget(
        self,
        guild_id: int,
        *,
        amount: int,
        period: str,
        member_cap: int | None,
        allow_unpriced: bool,
        set_by: int,
    ) -> Budget:
        """Set (or replace) a server's budget."""
        self._cache.drop(guild_id)
        try:
            row = await self._db.fetchone(
                "INSERT INTO guild_budgets (guild_id, amount, period, member_cap, "
                "allow_unpriced, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (guild_id) DO UPDATE SET amount = excluded.amount, "
                "period = excluded.period, member_cap = excluded.member_cap, "
                "allow_unpriced = excluded.allow_unpriced, set_by = excluded.set_by, "
                f"set_at = excluded.set_at RETURNING {_BUDGET}",
                (guild_id, amount, period, member_cap, int(allow_unpriced), set_by, time.time()),
            )
        finally:
            self._cache.drop(guild_id)
        assert row is not None
        return Budget.from_row(row)

    async def clear_budget(self, guild_id: int) -> bool:
        """Remove a server's budget; True if it had one."""
        self._cache.drop(guild_id)
        try:
            changed = await self._db.execute(
                "DELETE FROM guild_budgets WHERE guild_id = ?", (guild_id,)
            )
        finally:
            self._cache.drop(guild_id)
        return changed == 1

    async def role_caps(self, guild_id: int) -> dict[int, int]:
        """Return the server's per-role dollar caps (role id -> micro-dollars per member)."""
        return await self._cache.read("role_caps", guild_id, lambda: self._role_caps(guild_id))

    async def _role_caps(self, guild_id: int) -> dict[int, int]:
        rows = await self._db.fetchall(
            "SELECT role_id, cap FROM budget_role_caps WHERE guild_id = ?", (guild_id,)
        )
        return {int(r["role_id"]): int(r["cap"]) for r in rows}

    async def set_role_cap(self, guild_id: int, role_id: int, cap: int, set_by: int) -> None:
        """Set (or replace) a role's dollar cap per member."""
        self._cache.drop(guild_id)
        try:
            await self._db.execute(
                "INSERT INTO budget_role_caps (guild_id, role_id, cap, set_by, set_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, role_id) DO UPDATE SET "
                "cap = excluded.cap, set_by = excluded.set_by, set_at = excluded.set_at",
                (guild_id, role_id, cap, set_by, time.time()),
            )
        finally:
            self._cache.drop(guild_id)

    async def clear_role_cap(self, guild_id: int, role_id: int) -> bool:
        """Remove a role's dollar cap; True if it had one."""
        self._cache.drop(guild_id)
        try:
            changed = await self._db.execute(
                "DELETE FROM budget_role_caps WHERE guild_id = ? AND role_id = ?",
                (guild_id, role_id),
            )
        finally:
            self._cache.drop(guild_id)
        return changed == 1

    async def spent(
        self, guild_ids: Iterable[int], windows: Iterable[str]
    ) -> dict[tuple[int, int, str], int]:
        """Return the spend per (guild, member, window), in one query (micro-dollars)."""
        guilds, keys = sorted(set(guild_ids)), sorted(set(windows))
        if not guilds or not keys:
            return {}
        rows = await self._db.fetchall(
            f"SELECT guild_id, user_id, budget_window, COALESCE(SUM({SPEND}), 0) AS spent "
            f"FROM jobs WHERE guild_id IN ({placeholders(len(guilds))}) "
            f"AND budget_window IN ({placeholders(len(keys))}) "
            "GROUP BY guild_id, user_id, budget_window",
            (*guilds, *keys),
        )
        return {
            (int(r["guild_id"]), int(r["user_id"]), str(r["budget_window"])): int(r["spent"])
            for r in rows
        }

    async def guild_spent(self, guild_id: int, window: str) -> int:
        """Return what a server spent (settled or reserved) in a budget window."""
        spent = await self.spent([guild_id], [window])
        return sum(v for (_, _, w), v in spent.items() if w == window)

    async def settled(self, guild_id: int, window: str) -> int:
        """Return what a server's settled jobs cost in a budget window (micro-dollars)."""
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(cost), 0) AS spent FROM jobs "
            "WHERE guild_id = ? AND budget_window = ? AND cost IS NOT NULL",
            (guild_id, window),
        )
        return int(row["spent"]) if row else 0

    async def claim_alert(self, guild_id: int, window: str, threshold: int) -> bool:
        """Record that ``threshold`` % was announced for the window; True only the first time."""
        row = await self._db.fetchone(
            "INSERT INTO budget_alerts (guild_id, budget_window, threshold, posted_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING threshold",
            (guild_id, window, threshold, time.time()),
        )
        return row is not None

    async def total(self, guild_id: int, since: float, until: float) -> int:
        """Return what a server's jobs made in ``[since, until)`` cost (micro-dollars)."""
        row = await self._db.fetchone(
            "SELECT COALESCE(SUM(cost), 0) AS spent FROM jobs "
            "WHERE guild_id = ? AND created_at >= ? AND created_at < ? AND cost > 0",
            (guild_id, since, until),
        )
        return int(row["spent"]) if row else 0

    async def costs(self, guild_id: int, since: float, until: float) -> list[SpendRow]:
        """Return the settled, non-zero costs of jobs made in ``[since, until)``.

        Each row has the images its job delivered (their rows outlive the bytes).
        """
        rows = await self._db.fetchall(
            "SELECT created_at, user_id, model, cost, "
            "(SELECT COUNT(*) FROM job_images i WHERE i.job_id = jobs.id) AS images FROM jobs "
            "WHERE guild_id = ? AND created_at >= ? AND created_at < ? AND cost > 0 "
            "ORDER BY created_at",
            (guild_id, since, until),
        )
        return [
            SpendRow(
                float(r["created_at"]),
                int(r["user_id"]),
                str(r["model"]),
                int(r["cost"]),
                int(r["images"]),
            )
            for r in rows
        ]
