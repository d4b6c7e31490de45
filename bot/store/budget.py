"""BudgetStore: the request budget of an API key shared by every process (one row).

A fixed window: a request takes one of the row's ``request_limit`` places, and the
first request after the window (``window_length``) ends opens a new one. A process that
learned the gateway's limit and window (from its headers) writes them for all; one that
has not yet uses what the row says. A 429 pauses everybody until its ``Retry-After``.
Each take is one conditional statement, atomic on either engine.
"""

from __future__ import annotations

from bot.store.database import Database


class BudgetStore:
    """Windows of requests, per API key (the key's hash, never the key)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def take(
        self,
        key: str,
        *,
        limit: int,
        window: float,
        now: float,
        learned: bool = True,
        window_known: bool = True,
    ) -> float:
        """Take a place in the current window; return 0, or the seconds to wait first.

        ``learned``: ``limit`` is the gateway's, to be shared (``window_known``: so is
        ``window``); otherwise they only start a row that does not exist yet.
        """
        async with self._db.transaction():
            await self._db.execute(
                "INSERT INTO request_budget (key, window_start, used, request_limit, "
                "window_length, paused_until) VALUES (?, ?, 0, ?, ?, 0) "
                "ON CONFLICT (key) DO NOTHING",
                (key, now, limit, window),
            )
            if learned and window_known:
                await self._db.execute(
                    "UPDATE request_budget SET request_limit = ?, window_length = ? WHERE key = ?",
                    (limit, window, key),
                )
            elif learned:  # the limit, but not yet the window: keep the row's window
                await self._db.execute(
                    "UPDATE request_budget SET request_limit = ? WHERE key = ?", (limit, key)
                )
            taken = await self._db.fetchone(
                "UPDATE request_budget SET "
                "used = CASE WHEN window_start + window_length <= ? THEN 1 ELSE used + 1 END, "
                "window_start = CASE WHEN window_start + window_length <= ? THEN ? "
                "ELSE window_start END "
                "WHERE key = ? AND paused_until <= ? "
                "AND (window_start + window_length <= ? OR used < request_limit) RETURNING used",
                (now, now, now, key, now, now),
            )
            if taken is not None:
                return 0.0
            row = await self._db.fetchone(
                "SELECT window_start, window_length, paused_until FROM request_budget "
                "WHERE key = ?",
                (key,),
            )
        assert row is not None
        opens = float(row["window_start"]) + float(row["window_length"])
        return max(float(row["paused_until"]), opens) - now

    async def pause(self, key: str, until: float) -> None:
        """Stop every process's requests until ``until`` (a 429's Retry-After)."""
        await self._db.execute(
            "UPDATE request_budget SET paused_until = ? WHERE key = ? AND paused_until < ?",
            (until, key, until),
        )
