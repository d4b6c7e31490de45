"""BudgetStore: the request budget of an API key shared by every process (one row).

A fixed window of ``window`` seconds: a request takes one of ``limit`` places, and the
first request after the window ends opens a new one. A 429 pauses everybody until its
``Retry-After``. Each take is one conditional statement, atomic on either engine.
"""

from __future__ import annotations

from bot.store.database import Database


class BudgetStore:
    """Windows of requests, per API key (the key's hash, never the key)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(self, key: str, *, limit: int, window: float, now: float) -> float:
        """Take a place in the current window; return 0, or the seconds to wait first."""
        async with self._db.transaction():
            await self._db.execute(
                "INSERT INTO request_budget (key, window_start, used, request_limit, "
                "paused_until) VALUES (?, ?, 0, ?, 0) ON CONFLICT (key) DO NOTHING",
                (key, now, limit),
            )
            taken = await self._db.fetchone(
                "UPDATE request_budget SET "
                "used = CASE WHEN window_start + ? <= ? THEN 1 ELSE used + 1 END, "
                "window_start = CASE WHEN window_start + ? <= ? THEN ? ELSE window_start END, "
                "request_limit = ? "
                "WHERE key = ? AND paused_until <= ? AND (window_start + ? <= ? OR used < ?) "
                "RETURNING used",
                (window, now, window, now, now, limit, key, now, window, now, limit),
            )
            if taken is not None:
                return 0.0
            row = await self._db.fetchone(
                "SELECT window_start, paused_until FROM request_budget WHERE key = ?", (key,)
            )
        assert row is not None
        return max(float(row["paused_until"]), float(row["window_start"]) + window) - now

    async def pause(self, key: str, until: float) -> None:
        """Stop every process's requests until ``until`` (a 429's Retry-After)."""
        await self._db.execute(
            "UPDATE request_budget SET paused_until = ? WHERE key = ? AND paused_until < ?",
            (until, key, until),
        )
