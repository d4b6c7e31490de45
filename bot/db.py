"""Database: the SQLite job ledger; every SQL statement of the bot is a method here.

One aiosqlite connection in WAL mode serves the whole process. Every statement runs
inside :meth:`Database.transaction`, which serialises transactions with an asyncio
lock and opens them with ``BEGIN IMMEDIATE``, so a read-check-write (such as a quota
reservation) is atomic even with many concurrent commands. Transactions nest: a
method called inside an open transaction joins it.

Schema changes are numbered, append-only files in ``bot/migrations`` applied in
order at start; ``PRAGMA user_version`` records the last one applied.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import aiosqlite

log = logging.getLogger(__name__)

ACTIVE_STATES = ("queued", "submitted", "running")
TERMINAL_STATES = ("succeeded", "failed", "timed_out", "cancelled")
MIGRATION_NAME = re.compile(r"^V(\d+)__[\w-]+\.sql$")
JOB_FIELDS = frozenset(
    {
        "task_id",
        "poll_url",
        "message_id",
        "result_urls",
        "revised_prompt",
        "error_code",
        "error_message",
        "submitted_at",
        "finished_at",
    }
)


@dataclass(frozen=True)
class JobDraft:
    """Everything known about a job before it is stored."""

    guild_id: int
    channel_id: int
    user_id: int
    api_user: str
    application_id: int
    interaction_id: int | None
    interaction_token: str | None
    token_expires_at: float | None
    upload_limit: int
    model: str
    options: dict[str, Any]
    prompt: str
    request: dict[str, Any]
    quota_units: int
    quota_window: str = ""  # set by QuotaService when it reserves


@dataclass(frozen=True)
class Job:
    """One row of the job ledger."""

    id: int
    guild_id: int
    channel_id: int
    user_id: int
    api_user: str
    application_id: int
    interaction_id: int | None
    interaction_token: str | None
    token_expires_at: float | None
    message_id: int | None
    upload_limit: int
    model: str
    options: dict[str, Any]
    prompt: str
    request: dict[str, Any]
    state: str
    task_id: str | None
    poll_url: str | None
    quota_units: int
    quota_state: str
    quota_window: str
    result_urls: list[str]
    revised_prompt: str | None
    error_code: str | None
    error_message: str | None
    delivery_state: str
    delivered_via: str | None
    delivered_channel_id: int | None
    delivered_message_id: int | None
    created_at: float
    submitted_at: float | None
    finished_at: float | None
    delivered_at: float | None
    updated_at: float
    deleted_by: int | None = None
    deleted_at: float | None = None

    @property
    def terminal(self) -> bool:
        """Whether the generation has ended (delivery may still be pending)."""
        return self.state in TERMINAL_STATES

    @classmethod
    def from_row(cls, row: aiosqlite.Row) -> Job:
        """Build a Job from a ``SELECT * FROM jobs`` row."""
        data = dict(row)
        data["options"] = json.loads(data["options"])
        data["request"] = json.loads(data["request"])
        data["result_urls"] = json.loads(data["result_urls"] or "[]")
        return cls(**data)


@dataclass(frozen=True)
class StoredImage:
    """A downloaded image kept until it has been delivered."""

    position: int
    url: str | None
    content_type: str
    data: bytes | None


@dataclass(frozen=True)
class GuildSettings:
    """A server's own settings; None means "use the bot-wide default"."""

    guild_id: int
    daily_limit: int | None = None
    quota_period: str = "day"
    max_running_per_user: int | None = None
    max_running_per_guild: int | None = None
    log_channel_id: int | None = None
    moderator_role_id: int | None = None


GUILD_SETTING_FIELDS = frozenset(
    {
        "daily_limit",
        "quota_period",
        "max_running_per_user",
        "max_running_per_guild",
        "log_channel_id",
        "moderator_role_id",
    }
)


QUOTA_RULE_COLUMNS = "guild_id, kind, target_id, limit_units, set_by, set_at"
BLOCKED_USER_COLUMNS = "guild_id, user_id, reason, blocked_by, blocked_at"
PROMPT_RULE_COLUMNS = "id, guild_id, pattern, is_regex, added_by, added_at"


@dataclass(frozen=True)
class QuotaRule:
    """A role's or a user's quota; ``limit_units`` None means unlimited."""

    guild_id: int
    kind: str
    target_id: int
    limit_units: int | None
    set_by: int
    set_at: float


@dataclass(frozen=True)
class BlockedUser:
    """A user who may not use /imagine in a server."""

    guild_id: int
    user_id: int
    reason: str | None
    blocked_by: int
    blocked_at: float


@dataclass(frozen=True)
class PromptRule:
    """A blocked word or regular expression of a server."""

    id: int
    guild_id: int
    pattern: str
    is_regex: bool
    added_by: int
    added_at: float


@dataclass(frozen=True)
class ModAction:
    """One entry of the moderator action log."""

    id: int
    guild_id: int
    moderator_id: int | None
    action: str
    target: str | None
    detail: str | None
    created_at: float


class Database:
    """The bot's SQLite database; open it with :meth:`open` (an async context manager)."""

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path | str) -> AsyncIterator[Database]:
        """Open (creating folders as needed), migrate, and close on exit."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute("PRAGMA busy_timeout=5000")
            db = cls(conn)
            await db.migrate()
            yield db
        finally:
            await conn.close()

    # ------------------------------------------------------------------ plumbing

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Run the body as one ``BEGIN IMMEDIATE`` transaction; nested calls join it."""
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield
            return
        async with self._lock:
            self._owner = task
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    await self._conn.rollback()
                    raise
                await self._conn.commit()
            finally:
                self._owner = None

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self.transaction():
            rows = await self._conn.execute_fetchall(sql, params)  # one thread hop
            return list(rows)

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    async def _execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute one statement and return the number of rows it changed."""
        async with self.transaction():
            cursor = await self._conn.execute(sql, params)
            count = cursor.rowcount
            await cursor.close()
            return count

    async def migrate(self) -> int:
        """Apply pending migrations in order; return the schema version."""
        row = await self._fetchone("PRAGMA user_version")
        current = int(row[0]) if row else 0
        for version, name, sql in _migrations():
            if version <= current:
                continue
            log.info("applying migration %s", name)
            async with self.transaction():
                for statement in _statements(sql):
                    await self._conn.execute(statement)
                await self._conn.execute(f"PRAGMA user_version = {version:d}")
            current = version
        return current

    # ------------------------------------------------------------------ jobs

    async def insert_job(self, draft: JobDraft, *, now: float | None = None) -> int:
        """Store a new job in state ``queued`` with its quota reserved; return its id."""
        now = time.time() if now is None else now
        async with self.transaction():
            cursor = await self._conn.execute(
                """
                INSERT INTO jobs (
                    guild_id, channel_id, user_id, api_user, application_id,
                    interaction_id, interaction_token, token_expires_at, upload_limit,
                    model, options, prompt, request, state,
                    quota_units, quota_state, quota_window, created_at, updated_at
                ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'queued', ?, 'reserved', ?, ?, ?)
                """,
                (
                    draft.guild_id,
                    draft.channel_id,
                    draft.user_id,
                    draft.api_user,
                    draft.application_id,
                    draft.interaction_id,
                    draft.interaction_token,
                    draft.token_expires_at,
                    draft.upload_limit,
                    draft.model,
                    json.dumps(draft.options),
                    draft.prompt,
                    json.dumps(draft.request),
                    draft.quota_units,
                    draft.quota_window,
                    now,
                    now,
                ),
            )
            job_id = cursor.lastrowid
            await cursor.close()
        assert job_id is not None
        return job_id

    async def get_job(self, job_id: int) -> Job | None:
        """Return one job, or None."""
        row = await self._fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return Job.from_row(row) if row else None

    async def open_jobs(self) -> list[Job]:
        """Return jobs that are still generating or whose outcome is not yet delivered."""
        rows = await self._fetchall(
            "SELECT * FROM jobs WHERE state IN ('queued', 'submitted', 'running') "
            "OR delivery_state = 'pending' ORDER BY id"
        )
        return [Job.from_row(r) for r in rows]

    async def list_jobs(
        self,
        *,
        guild_id: int | None = None,
        user_id: int | None = None,
        model: str | None = None,
        state: str | None = None,
        since: float | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[Job]:
        """Return jobs matching every given filter, newest first."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("guild_id", guild_id),
            ("user_id", user_id),
            ("model", model),
            ("state", state),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            clauses.append("created_at >= ?")
            params.append(since)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        rows = await self._fetchall(
            f"SELECT * FROM jobs {where}ORDER BY id DESC LIMIT ? OFFSET ?",
            (*params, limit, offset),
        )
        return [Job.from_row(r) for r in rows]

    async def transition(
        self,
        job_id: int,
        from_states: Iterable[str],
        to_state: str,
        *,
        now: float | None = None,
        **fields: Any,
    ) -> bool:
        """Move a job to ``to_state`` if it is in one of ``from_states``; set ``fields``.

        Returns False (and changes nothing) when the job was not in ``from_states``,
        which makes every transition safe to attempt twice.
        """
        unknown = set(fields) - JOB_FIELDS
        if unknown:
            raise ValueError(f"not job fields: {sorted(unknown)}")
        sources = tuple(from_states)
        values = {k: (json.dumps(v) if k == "result_urls" else v) for k, v in fields.items()}
        assignments = "".join(f", {name} = ?" for name in values)
        placeholders = ", ".join("?" for _ in sources)
        changed = await self._execute(
            f"UPDATE jobs SET state = ?, updated_at = ?{assignments} "
            f"WHERE id = ? AND state IN ({placeholders})",
            (to_state, time.time() if now is None else now, *values.values(), job_id, *sources),
        )
        return changed == 1

    async def set_message_id(self, job_id: int, message_id: int) -> None:
        """Record the id of the progress message the interaction response created."""
        await self._execute(
            "UPDATE jobs SET message_id = ?, updated_at = ? WHERE id = ?",
            (message_id, time.time(), job_id),
        )

    async def mark_delivered(
        self,
        job_id: int,
        *,
        via: str,
        channel_id: int | None,
        message_id: int | None,
        delivered: bool = True,
    ) -> bool:
        """Record how a job's outcome reached the user; forget its interaction token."""
        changed = await self._execute(
            "UPDATE jobs SET delivery_state = ?, delivered_via = ?, delivered_channel_id = ?, "
            "delivered_message_id = ?, delivered_at = ?, interaction_token = NULL, "
            "updated_at = ? WHERE id = ? AND delivery_state = 'pending'",
            (
                "delivered" if delivered else "failed",
                via,
                channel_id,
                message_id,
                time.time(),
                time.time(),
                job_id,
            ),
        )
        return changed == 1

    # ------------------------------------------------------------------ quota

    async def set_quota_state(self, job_id: int, to_state: str) -> bool:
        """Move a job's reservation from ``reserved`` to ``settled`` or ``released`` once."""
        changed = await self._execute(
            "UPDATE jobs SET quota_state = ? WHERE id = ? AND quota_state = 'reserved'",
            (to_state, job_id),
        )
        return changed == 1

    async def refund_settled(self, job_id: int) -> bool:
        """Give back a settled charge (the result could never be delivered); True once."""
        changed = await self._execute(
            "UPDATE jobs SET quota_state = 'released' WHERE id = ? AND quota_state = 'settled'",
            (job_id,),
        )
        return changed == 1

    async def quota_used(self, guild_id: int, user_id: int, window: str) -> int:
        """Return the units reserved or settled by a user in a quota window."""
        row = await self._fetchone(
            "SELECT COALESCE(SUM(quota_units), 0) FROM jobs "
            "WHERE guild_id = ? AND user_id = ? AND quota_window = ? "
            "AND quota_state IN ('reserved', 'settled')",
            (guild_id, user_id, window),
        )
        return int(row[0]) if row else 0

    async def active_counts(self) -> dict[tuple[int, int], int]:
        """Return the number of generating jobs per (guild, user), in one query."""
        rows = await self._fetchall(
            "SELECT guild_id, user_id, COUNT(*) FROM jobs "
            "WHERE state IN ('submitted', 'running') GROUP BY guild_id, user_id"
        )
        return {(int(r[0]), int(r[1])): int(r[2]) for r in rows}

    async def count_active(self, guild_id: int, user_id: int | None = None) -> int:
        """Return how many jobs of a guild (or one of its users) are still generating."""
        sql = "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND state IN ('submitted', 'running')"
        params: tuple[Any, ...] = (guild_id,)
        if user_id is not None:
            sql += " AND user_id = ?"
            params += (user_id,)
        row = await self._fetchone(sql, params)
        return int(row[0]) if row else 0

    # ------------------------------------------------------------------ images

    async def save_images(self, job_id: int, images: Sequence[StoredImage]) -> None:
        """Store a job's downloaded images (replacing any stored before)."""
        async with self.transaction():
            await self._conn.execute("DELETE FROM job_images WHERE job_id = ?", (job_id,))
            await self._conn.executemany(
                "INSERT INTO job_images (job_id, position, url, content_type, data) "
                "VALUES (?, ?, ?, ?, ?)",
                [(job_id, i.position, i.url, i.content_type, i.data) for i in images],
            )

    async def load_images(self, job_id: int) -> list[StoredImage]:
        """Return a job's stored images in order."""
        rows = await self._fetchall(
            "SELECT position, url, content_type, data FROM job_images "
            "WHERE job_id = ? ORDER BY position",
            (job_id,),
        )
        return [StoredImage(r[0], r[1], r[2], r[3]) for r in rows]

    async def drop_image_data(self, job_id: int) -> None:
        """Free the stored bytes of a delivered job's images (URLs are kept)."""
        await self._execute("UPDATE job_images SET data = NULL WHERE job_id = ?", (job_id,))

    async def queued_jobs(self) -> list[Job]:
        """Return every queued job, oldest first (the dispatch order)."""
        rows = await self._fetchall("SELECT * FROM jobs WHERE state = 'queued' ORDER BY id")
        return [Job.from_row(r) for r in rows]

    async def count_queued(self, guild_id: int, user_id: int | None = None) -> int:
        """Return how many jobs of a guild (or one of its users) wait for a slot."""
        sql = "SELECT COUNT(*) FROM jobs WHERE guild_id = ? AND state = 'queued'"
        params: tuple[Any, ...] = (guild_id,)
        if user_id is not None:
            sql += " AND user_id = ?"
            params += (user_id,)
        row = await self._fetchone(sql, params)
        return int(row[0]) if row else 0

    async def queue_position(self, job_id: int) -> int:
        """Return a queued job's 1-based place in its server's queue."""
        row = await self._fetchone(
            "SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND id <= ? "
            "AND guild_id = (SELECT guild_id FROM jobs WHERE id = ?)",
            (job_id, job_id),
        )
        return int(row[0]) if row else 0

    async def mark_deleted(self, job_id: int, moderator_id: int) -> bool:
        """Record that a moderator deleted a job's delivered message."""
        changed = await self._execute(
            "UPDATE jobs SET deleted_by = ?, deleted_at = ?, updated_at = ? "
            "WHERE id = ? AND deleted_at IS NULL",
            (moderator_id, time.time(), time.time(), job_id),
        )
        return changed == 1

    async def redact_jobs_before(self, cutoff: float) -> int:
        """Strip prompts, options and image URLs from finished jobs older than ``cutoff``.

        Counts, models, states and quota units stay, so usage history survives.
        """
        async with self.transaction():
            await self._conn.execute(
                "DELETE FROM job_images WHERE job_id IN (SELECT id FROM jobs "
                "WHERE created_at < ? AND state IN ('succeeded', 'failed', 'timed_out', "
                "'cancelled') AND delivery_state != 'pending')",
                (cutoff,),
            )
            return await self._execute(
                "UPDATE jobs SET prompt = '', options = json_set(options, '$.prompt', ''), "
                "request = json_set(request, '$.prompt', ''), result_urls = NULL, "
                "revised_prompt = NULL, interaction_token = NULL, error_message = NULL "
                "WHERE created_at < ? AND prompt != '' AND state IN ('succeeded', 'failed', "
                "'timed_out', 'cancelled') AND delivery_state != 'pending'",
                (cutoff,),
            )

    # ------------------------------------------------------------------ servers

    async def guild_settings(self, guild_id: int) -> GuildSettings:
        """Return a server's settings (defaults when it never set any)."""
        row = await self._fetchone(
            "SELECT guild_id, daily_limit, quota_period, max_running_per_user, "
            "max_running_per_guild, log_channel_id, moderator_role_id "
            "FROM guild_settings WHERE guild_id = ?",
            (guild_id,),
        )
        return GuildSettings(**dict(row)) if row else GuildSettings(guild_id)

    async def update_guild_settings(self, guild_id: int, **fields: Any) -> GuildSettings:
        """Set some of a server's settings (None resets one to the default)."""
        unknown = set(fields) - GUILD_SETTING_FIELDS
        if unknown:
            raise ValueError(f"not guild settings: {sorted(unknown)}")
        async with self.transaction():
            await self._conn.execute(
                "INSERT INTO guild_settings (guild_id, updated_at) VALUES (?, ?) "
                "ON CONFLICT (guild_id) DO NOTHING",
                (guild_id, time.time()),
            )
            if fields:
                assignments = ", ".join(f"{name} = ?" for name in fields)
                await self._conn.execute(
                    f"UPDATE guild_settings SET {assignments}, updated_at = ? WHERE guild_id = ?",
                    (*fields.values(), time.time(), guild_id),
                )
            return await self.guild_settings(guild_id)

    async def set_quota_rule(
        self, guild_id: int, kind: str, target_id: int, limit_units: int | None, set_by: int
    ) -> None:
        """Set a role's or user's quota (None = unlimited), replacing any earlier rule."""
        await self._execute(
            "INSERT INTO quota_rules (guild_id, kind, target_id, limit_units, set_by, set_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (guild_id, kind, target_id) DO UPDATE SET "
            "limit_units = excluded.limit_units, set_by = excluded.set_by, "
            "set_at = excluded.set_at",
            (guild_id, kind, target_id, limit_units, set_by, time.time()),
        )

    async def clear_quota_rule(self, guild_id: int, kind: str, target_id: int) -> bool:
        """Remove a role's or user's quota rule; True if there was one."""
        changed = await self._execute(
            "DELETE FROM quota_rules WHERE guild_id = ? AND kind = ? AND target_id = ?",
            (guild_id, kind, target_id),
        )
        return changed == 1

    async def quota_rules(self, guild_id: int) -> list[QuotaRule]:
        """Return a server's quota rules, users first."""
        rows = await self._fetchall(
            f"SELECT {QUOTA_RULE_COLUMNS} FROM quota_rules "
            "WHERE guild_id = ? ORDER BY kind DESC, target_id",
            (guild_id,),
        )
        return [QuotaRule(**dict(r)) for r in rows]

    async def block_user(
        self, guild_id: int, user_id: int, reason: str | None, blocked_by: int
    ) -> None:
        """Block a user from /imagine in a server (updating the reason if blocked)."""
        await self._execute(
            "INSERT INTO blocked_users (guild_id, user_id, reason, blocked_by, blocked_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, user_id) DO UPDATE SET "
            "reason = excluded.reason, blocked_by = excluded.blocked_by",
            (guild_id, user_id, reason, blocked_by, time.time()),
        )

    async def unblock_user(self, guild_id: int, user_id: int) -> bool:
        """Unblock a user; True if they were blocked."""
        changed = await self._execute(
            "DELETE FROM blocked_users WHERE guild_id = ? AND user_id = ?", (guild_id, user_id)
        )
        return changed == 1

    async def blocked_user(self, guild_id: int, user_id: int) -> BlockedUser | None:
        """Return the block on a user, or None."""
        row = await self._fetchone(
            f"SELECT {BLOCKED_USER_COLUMNS} FROM blocked_users WHERE guild_id = ? AND user_id = ?",
            (guild_id, user_id),
        )
        return BlockedUser(**dict(row)) if row else None

    async def blocked_users(self, guild_id: int) -> list[BlockedUser]:
        """Return a server's blocked users, most recent first."""
        rows = await self._fetchall(
            f"SELECT {BLOCKED_USER_COLUMNS} FROM blocked_users "
            "WHERE guild_id = ? ORDER BY blocked_at DESC",
            (guild_id,),
        )
        return [BlockedUser(**dict(r)) for r in rows]

    async def add_prompt_rule(
        self, guild_id: int, pattern: str, is_regex: bool, added_by: int
    ) -> PromptRule:
        """Add a blocked word or regex to a server's blocklist (idempotent)."""
        async with self.transaction():
            await self._conn.execute(
                "INSERT INTO prompt_rules (guild_id, pattern, is_regex, added_by, added_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (guild_id, pattern, is_regex) DO NOTHING",
                (guild_id, pattern, int(is_regex), added_by, time.time()),
            )
            row = await self._fetchone(
                f"SELECT {PROMPT_RULE_COLUMNS} FROM prompt_rules "
                "WHERE guild_id = ? AND pattern = ? AND is_regex = ?",
                (guild_id, pattern, int(is_regex)),
            )
        assert row is not None
        return _prompt_rule(row)

    async def remove_prompt_rule(self, guild_id: int, rule_id: int) -> bool:
        """Remove a blocklist entry; True if it existed."""
        changed = await self._execute(
            "DELETE FROM prompt_rules WHERE guild_id = ? AND id = ?", (guild_id, rule_id)
        )
        return changed == 1

    async def prompt_rules(self, guild_id: int) -> list[PromptRule]:
        """Return a server's blocklist, oldest first."""
        rows = await self._fetchall(
            f"SELECT {PROMPT_RULE_COLUMNS} FROM prompt_rules WHERE guild_id = ? ORDER BY id",
            (guild_id,),
        )
        return [_prompt_rule(r) for r in rows]

    async def record_action(
        self,
        guild_id: int,
        moderator_id: int | None,
        action: str,
        target: str | None = None,
        detail: str | None = None,
    ) -> int:
        """Append to the moderator action log; return the entry id."""
        async with self.transaction():
            cursor = await self._conn.execute(
                "INSERT INTO mod_actions (guild_id, moderator_id, action, target, detail, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (guild_id, moderator_id, action, target, detail, time.time()),
            )
            action_id = cursor.lastrowid
            await cursor.close()
        assert action_id is not None
        return action_id

    async def actions(self, guild_id: int, limit: int = 50) -> list[ModAction]:
        """Return a server's latest moderator actions, newest first."""
        rows = await self._fetchall(
            "SELECT id, guild_id, moderator_id, action, target, detail, created_at "
            "FROM mod_actions WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        )
        return [ModAction(**dict(r)) for r in rows]

    # ------------------------------------------------------------------ key/value

    async def get_state(self, key: str) -> str | None:
        """Return a value of the bot's own key/value state."""
        row = await self._fetchone("SELECT value FROM bot_state WHERE key = ?", (key,))
        return str(row[0]) if row else None

    async def set_state(self, key: str, value: str) -> None:
        """Store a value of the bot's own key/value state."""
        await self._execute(
            "INSERT INTO bot_state (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def _prompt_rule(row: aiosqlite.Row) -> PromptRule:
    data = dict(row)
    data["is_regex"] = bool(data["is_regex"])
    return PromptRule(**data)


def _migrations() -> list[tuple[int, str, str]]:
    """Return ``(version, name, sql)`` for every migration file, in order."""
    found = []
    for entry in (resources.files("bot") / "migrations").iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migration numbers must run 1..n without gaps: {versions}")
    return found


def _statements(sql: str) -> list[str]:
    """Split a migration file into statements (the files hold no ';' in literals)."""
    lines = [line for line in sql.splitlines() if not line.lstrip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]
