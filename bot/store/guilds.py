"""GuildStore: each server's own rules: settings, quota rules, blocked members, blocklist.

They are read on the way to every acknowledgement and seldom written, so reads are
cached in memory: every write drops the server's entries before and after it (a read
that raced a write never stores what it read). With SQLite this process makes every
write and reads wait for an open transaction, so the cache is exact. With PostgreSQL
another process may write, and a read on another connection may see a write's
transaction before it commits (a moderator's change and its log entry are one); so
entries live ``SHARED_TTL`` seconds, the bound on any stale read either way.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

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


SHARED_TTL = 5.0
T = TypeVar("T")


class _Cache:
    """Per-server read cache with a version per server, dropped on every write.

    Each caller that misses loads for itself: handing one load to the others would
    have a caller inside a transaction (a dispatch pass reading caps) wait for a load
    that waits for that very transaction to end.
    """

    # ``clock`` stays (its test passes one) rather than time-machine: entries age by
    # ``time.monotonic``, which time-machine does not move, so a wall-clock jump cannot
    # expire or keep them.
    def __init__(self, ttl: float | None, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._entries: dict[tuple[str, int], tuple[float, Any]] = {}
        self._versions: dict[int, int] = {}

    async def read(self, kind: str, guild_id: int, load: Callable[[], Awaitable[T]]) -> T:
        entry = self._entries.get((kind, guild_id))
        now = self._clock()
        if entry is not None and (self._ttl is None or now - entry[0] < self._ttl):
            return cast(T, entry[1])
        version = self._versions.get(guild_id, 0)
        value = await load()
        if self._versions.get(guild_id, 0) == version:  # no write came in between
            self._entries[(kind, guild_id)] = (now, value)
        return value

    def drop(self, guild_id: int) -> None:
        self._versions[guild_id] = self._versions.get(guild_id, 0) + 1
        for key in [k for k in self._entries if k[1] == guild_id]:
            del self._entries[key]


def _writes(method: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Drop the server's cached reads before and after a write to its rules."""

    @functools.wraps(method)
    async def write(self: GuildStore, guild_id: int, *args: Any, **kwargs: Any) -> T:
        self._cache.drop(guild_id)
        try:
            return await method(self, guild_id, *args, **kwargs)
        finally:
            self._cache.drop(guild_id)

    return write


class GuildStore:
    """Per-server settings and rules."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache = _Cache(None if db.engine == "sqlite" else SHARED_TTL)

    # ------------------------------------------------------------------ settings

    async def settings(self, guild_id: int) -> GuildSettings:
        """Return a server's settings (defaults when it never set any)."""
        return await self._cache.read("settings", guild_id, lambda: self._settings(guild_id))

    async def _settings(self, guild_id: int) -> GuildSettings:
        row = await self._db.fetchone(
            f"SELECT {_SETTINGS} FROM guild_settings WHERE guild_id = ?", (guild_id,)
        )
        return GuildSettings.from_row(row) if row else GuildSettings(guild_id)

    @_writes
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
            (
                guild_id,
                *(int(v) if isinstance(v, bool) else v for v in fields.values()),
                time.time(),
            ),
        )
        assert row is not None
        return GuildSettings.from_row(row)

    # ------------------------------------------------------------------ quota rules

    @_writes
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

    @_writes
    async def clear_quota_rule(self, guild_id: int, kind: str, target_id: int) -> bool:
        """Remove a role's or user's quota rule; True if there was one."""
        changed = await self._db.execute(
            "DELETE FROM quota_rules WHERE guild_id = ? AND kind = ? AND target_id = ?",
            (guild_id, kind, target_id),
        )
        return changed == 1

    async def quota_rules(self, guild_id: int) -> list[QuotaRule]:
        """Return a server's quota rules, users first."""
        rules = await self._cache.read("quota", guild_id, lambda: self._quota_rules(guild_id))
        return list(rules)

    async def _quota_rules(self, guild_id: int) -> tuple[QuotaRule, ...]:
        rows = await self._db.fetchall(
            f"SELECT {_QUOTA_RULE} FROM quota_rules "
            "WHERE guild_id = ? ORDER BY kind DESC, target_id",
            (guild_id,),
        )
        return tuple(QuotaRule(**dict(r)) for r in rows)

    # ------------------------------------------------------------------ blocked members

    @_writes
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

    @_writes
    async def unblock_user(self, guild_id: int, user_id: int) -> bool:
        """Unblock a user; True if they were blocked."""
        changed = await self._db.execute(
            "DELETE FROM blocked_users WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return changed == 1

    async def blocked_user(self, guild_id: int, user_id: int) -> BlockedUser | None:
        """Return the block on a user, or None."""
        return next((b for b in await self.blocked_users(guild_id) if b.user_id == user_id), None)

    async def blocked_users(self, guild_id: int) -> list[BlockedUser]:
        """Return a server's blocked users, most recent first."""
        users = await self._cache.read("blocked", guild_id, lambda: self._blocked_users(guild_id))
        return list(users)

    async def _blocked_users(self, guild_id: int) -> tuple[BlockedUser, ...]:
        rows = await self._db.fetchall(
            f"SELECT {_BLOCKED_USER} FROM blocked_users "
            "WHERE guild_id = ? ORDER BY blocked_at DESC",
            (guild_id,),
        )
        return tuple(BlockedUser(**dict(r)) for r in rows)

    # ------------------------------------------------------------------ blocklist

    @_writes
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

    @_writes
    async def remove_prompt_rule(self, guild_id: int, rule_id: int) -> bool:
        """Remove a blocklist entry; True if it existed."""
        changed = await self._db.execute(
            "DELETE FROM prompt_rules WHERE guild_id = ? AND id = ?", (guild_id, rule_id)
        )
        return changed == 1

    async def prompt_rules(self, guild_id: int) -> list[PromptRule]:
        """Return a server's blocklist, oldest first."""
        rules = await self._cache.read("prompt", guild_id, lambda: self._prompt_rules(guild_id))
        return list(rules)

    async def _prompt_rules(self, guild_id: int) -> tuple[PromptRule, ...]:
        rows = await self._db.fetchall(
            f"SELECT {_PROMPT_RULE} FROM prompt_rules WHERE guild_id = ? ORDER BY id",
            (guild_id,),
        )
        return tuple(PromptRule.from_row(r) for r in rows)
