"""ActionLog: the append-only log of moderator actions (``mod_actions``)."""

from __future__ import annotations

import time

from bot.store.database import Database
from bot.store.rows import ModAction, columns_of

_ACTION = columns_of(ModAction)


class ActionLog:
    """What moderators (and the blocklist) did, per server."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def record(
        self,
        guild_id: int,
        moderator_id: int | None,
        action: str,
        target: str | None = None,
        detail: str | None = None,
        via: str | None = None,
    ) -> ModAction:
        """Append an entry; return it. ``via``: None from Discord, "web" from the dashboard."""
        row = await self._db.fetchone(
            "INSERT INTO mod_actions (guild_id, moderator_id, action, target, detail, "
            f"created_at, via) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {_ACTION}",
            (guild_id, moderator_id, action, target, detail, time.time(), via),
        )
        assert row is not None
        return ModAction(**dict(row))

    async def latest(self, guild_id: int, limit: int = 50) -> list[ModAction]:
        """Return a server's latest entries, newest first."""
        rows = await self._db.fetchall(
            f"SELECT {_ACTION} FROM mod_actions WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [ModAction(**dict(r)) for r in rows]
