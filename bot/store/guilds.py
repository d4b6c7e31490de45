"""GuildStore: each server's own rules: settings, quota rules, blocked members, blocklist."""

from __future__ import annotations

import time
from typing import Any

from bot.store.database import Database
from bot.store.rows import (
    GUILD_SETTING_FIELDS,
    BlockedUser,
    GuildSettings,
    PromptRule,
    QuotaRule,
    columns_of,
)

_SETTINGS = columns_of(GuildSettings)
_QUOTA_RULE = columns_of(QuotaRule)
_BLOCKED_USER = columns_of(BlockedUser)
_PROMPT_RULE = columns_of(PromptRule)


class GuildStore:
    """Per-server settings and rules."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ settings

    async def settings(self, guild_id: int) -> GuildSettings:
        """Return a server's settings (defaults when it never set any)."""
        row = await self._db.fetchone(
            f"SELECT {_SETTINGS} FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        return GuildSettings(**dict(row)) if row else GuildSettings(guild_id)

    async def update_settings(self, guild_id: int, **fields: Any) -> GuildSettings:
        """Set some of a server's settings (None resets one to the default)."""
        unknown = set(fields) - GUILD_SETTING_FIELDS
        if unknown:
            raise ValueError(f"not guild settings: {sorted(unknown)}")
        names = ["guild_id", *fields, "updated_at"]
        updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
        row = await self._db.fetchone(
            f"INSERT INTO guild_settings ({', '.join(names)}) "
            f"VALUES ({', '.join('?' for _ in names)}) "
            f"ON CONFLICT (guild_id) DO UPDATE SET {updates} RETURNING {_SETTINGS}",
            (guild_id, *fields.values(), time.time()),
        )
        assert row is not None
        return GuildSettings(**dict(row))

    # ------------------------------------------------------------------ quota rules

    async def set_quota_rule(
        self, guild_id: int, kind: str, target_id: int, limit_units: int | None, set_by: int
    ) -> None:
        """Set a role's or user's quota (None = unlimited), replacing any earlier rule."""
        await self._db.execute(
            f"INSERT INTO quota_rules ({_QUOTA_RULE}) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id, kind, target_id) DO UPDATE SET "
            "limit_units = excluded.limit_units, set_by = excluded.set_by, "
            "set_at = excluded.set_at",
            (guild_id, kind, target_id, limit_units, set_by, time.time()),
        )

    async def clear_quota_rule(self, guild_id: int, kind: str, target_id: int) -> bool:
        """Remove a role's or user's quota rule; True if there was one."""
        changed = await self._db.execute(
            "DELETE FROM quota_rules WHERE guild_id = ? AND kind = ? AND target_id = ?",
            (guild_id, kind, target_id),
        )
        return changed == 1

    async def quota_rules(self, guild_id: int) -> list[QuotaRule]:
        """Return a server's quota rules, users first."""
        rows = await self._db.fetchall(
            f"SELECT {_QUOTA_RULE} FROM quota_rules "
            "WHERE guild_id = ? ORDER BY kind DESC, target_id",
            (guild_id,),
        )
        return [QuotaRule(**dict(r)) for r in rows]

    # ------------------------------------------------------------------ blocked members

    async def block_user(
        self, guild_id: int, user_id: int, reason: str | None, blocked_by: int
    ) -> None:
        """Block a user from /imagine in a server (updating the reason if blocked)."""
        await self._db.execute(
            f"INSERT INTO blocked_users ({_BLOCKED_USER}) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (guild_id, user_id) DO UPDATE SET "
            "reason = excluded.reason, blocked_by = excluded.blocked_by",
            (guild_id, user_id, reason, blocked_by, time.time()),
        )

    async def unblock_user(self, guild_id: int, user_id: int) -> bool:
        """Unblock a user; True if they were blocked."""
        changed = await self._db.execute(
            "DELETE FROM blocked_users WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return changed == 1

    async def blocked_user(self, guild_id: int, user_id: int) -> BlockedUser | None:
        """Return the block on a user, or None."""
        row = await self._db.fetchone(
            f"SELECT {_BLOCKED_USER} FROM blocked_users WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        )
        return BlockedUser(**dict(row)) if row else None

    async def blocked_users(self, guild_id: int) -> list[BlockedUser]:
        """Return a server's blocked users, most recent first."""
        rows = await self._db.fetchall(
            f"SELECT {_BLOCKED_USER} FROM blocked_users "
            "WHERE guild_id = ? ORDER BY blocked_at DESC",
            (guild_id,),
        )
        return [BlockedUser(**dict(r)) for r in rows]

    # ------------------------------------------------------------------ blocklist

    async def add_prompt_rule(
        self, guild_id: int, pattern: str, is_regex: bool, added_by: int
    ) -> PromptRule:
        """Add a blocked word or regex to a server's blocklist (idempotent); return it."""
        async with self._db.transaction():
            await self._db.execute(
                "INSERT INTO prompt_rules (guild_id, pattern, is_regex, added_by, added_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, pattern, is_regex) DO NOTHING",
                (guild_id, pattern, int(is_regex), added_by, time.time()),
            )
            row = await self._db.fetchone(
                f"SELECT {_PROMPT_RULE} FROM prompt_rules "
                "WHERE guild_id = ? AND pattern = ? AND is_regex = ?",
                (guild_id, pattern, int(is_regex)),
            )
        assert row is not None
        return PromptRule.from_row(row)

    async def remove_prompt_rule(self, guild_id: int, rule_id: int) -> bool:
        """Remove a blocklist entry; True if it existed."""
        changed = await self._db.execute(
            "DELETE FROM prompt_rules WHERE guild_id = ? AND id = ?", (guild_id, rule_id)
        )
        return changed == 1

    async def prompt_rules(self, guild_id: int) -> list[PromptRule]:
        """Return a server's blocklist, oldest first."""
        rows = await self._db.fetchall(
            f"SELECT {_PROMPT_RULE} FROM prompt_rules WHERE guild_id = ? ORDER BY id",
            (guild_id,),
        )
        return [PromptRule.from_row(r) for r in rows]
