"""StateStore: the bot's own small key/value state (e.g. the synced command-set hash)."""

from __future__ import annotations

from bot.store.database import Database


class StateStore:
    """Keys and values of ``bot_state``."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, key: str) -> str | None:
        """Return a value, or None."""
        row = await self._db.fetchone("SELECT value FROM bot_state WHERE key = ?", (key,))
        return str(row["value"]) if row else None

    async def set(self, key: str, value: str) -> None:
        """Store a value, replacing any earlier one."""
        await self._db.execute(
            "INSERT INTO bot_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
