"""WebStore: the dashboard's rows: sessions, thumbnails, and the gallery's reads."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from bot.store.database import Database, Row, placeholders
from bot.store.rows import GalleryFilter, Job, ModAction, WebSession, columns_of

_ACTION = columns_of(ModAction)
_SESSION = columns_of(WebSession)
# A date window this narrow (or narrower) is bounded by its ids first (see gallery()).
NARROW_WINDOW_SECONDS = 31 * 86400
# A server's distinct models, each the least one greater than the last (both engines).
_MODELS_OF_GUILD = (
    "WITH RECURSIVE found(model) AS ("
    "SELECT MIN(model) FROM jobs WHERE guild_id = ? "
    "UNION ALL "
    "SELECT (SELECT MIN(model) FROM jobs WHERE guild_id = ? AND model > found.model) "
    "FROM found WHERE found.model IS NOT NULL"
    ") SELECT model FROM found WHERE model IS NOT NULL"
)


def _ids(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(",") if part)


def _text(ids: Sequence[int]) -> str:
    return ",".join(str(i) for i in ids)


def _session(row: Row) -> WebSession:
    data = dict(row)
    data["guild_ids"] = _ids(data["guild_ids"])
    data["moderated_ids"] = _ids(data["moderated_ids"])
    return WebSession(**data)


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class WebStore:
    """Sessions (hashed ids), thumbnails, and the gallery's job queries."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # ------------------------------------------------------------------ sessions

    async def create_session(self, session: WebSession) -> None:
        """Store a new session."""
        await self._db.execute(
            f"INSERT INTO web_sessions ({_SESSION}) VALUES ({placeholders(10)})",
            (
                session.id_hash,
                session.user_id,
                session.username,
                session.locale,
                _text(session.guild_ids),
                _text(session.moderated_ids),
                session.checked_at,
                session.created_at,
                session.expires_at,
                session.revoked_at,
            ),
        )

    async def session(self, id_hash: str) -> WebSession | None:
        """Return a session by its hash, whatever its state (the caller checks it)."""
        row = await self._db.fetchone(
            f"SELECT {_SESSION} FROM web_sessions WHERE id_hash = ?", (id_hash,)
        )
        return _session(row) if row else None

    async def set_moderated(self, id_hash: str, guild_ids: Sequence[int], at: float) -> None:
        """Record which servers the session's user moderates, as checked at ``at``."""
        await self._db.execute(
            "UPDATE web_sessions SET moderated_ids = ?, checked_at = ? WHERE id_hash = ?",
            (_text(guild_ids), at, id_hash),
        )

    async def revoke_session(self, id_hash: str) -> None:
        """Revoke a session (logout): it signs nobody in any more."""
        await self._db.execute(
            "UPDATE web_sessions SET revoked_at = ? WHERE id_hash = ? AND revoked_at IS NULL",
            (time.time(), id_hash),
        )

    async def revoke_user(self, user_id: int) -> int:
        """Revoke every session of a user; return how many."""
        return await self._db.execute(
            "UPDATE web_sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL",
            (time.time(), user_id),
        )

    async def delete_expired(self, before: float) -> int:
        """Forget sessions expired or revoked before ``before``."""
        return await self._db.execute(
            "DELETE FROM web_sessions WHERE expires_at < ? OR revoked_at < ?", (before, before)
        )

    # ------------------------------------------------------------------ thumbnails

    async def thumbnail(self, job_id: int, position: int) -> bytes | None:
        """Return a stored thumbnail, or None."""
        row = await self._db.fetchone(
            "SELECT data FROM job_thumbnails WHERE job_id = ? AND position = ?",
            (job_id, position),
        )
        return bytes(row["data"]) if row else None

    async def save_thumbnail(self, job_id: int, position: int, data: bytes) -> None:
        """Store a thumbnail (a second maker's copy is dropped: they are the same)."""
        await self._db.execute(
            "INSERT INTO job_thumbnails (job_id, position, data) VALUES (?, ?, ?) "
            "ON CONFLICT (job_id, position) DO NOTHING",
            (job_id, position, data),
        )

    async def image(self, job_id: int, position: int) -> tuple[str, bytes] | None:
        """Return one stored result image's ``(content type, bytes)``, or None."""
        row = await self._db.fetchone(
            "SELECT content_type, data FROM job_images WHERE job_id = ? AND position = ?",
            (job_id, position),
        )
        if row is None or row["data"] is None:
            return None
        return str(row["content_type"]), bytes(row["data"])

    async def first_images(self, job_ids: Sequence[int]) -> dict[int, int]:
        """Return each job's first stored image position (jobs without one are left out)."""
        if not job_ids:
            return {}
        rows = await self._db.fetchall(
            "SELECT job_id, MIN(position) AS position FROM job_images "
            f"WHERE job_id IN ({placeholders(len(job_ids))}) AND data IS NOT NULL "
            "GROUP BY job_id",
            tuple(job_ids),
        )
        return {int(r["job_id"]): int(r["position"]) for r in rows}

    async def input_image(self, job_id: int, position: int) -> tuple[str, bytes] | None:
        """Return one reference image's ``(content type, bytes)``, or None."""
        row = await self._db.fetchone(
            "SELECT content_type, data FROM job_inputs WHERE job_id = ? AND position = ?",
            (job_id, position),
        )
        if row is None or row["data"] is None:
            return None
        return str(row["content_type"]), bytes(row["data"])

    async def image_positions(self, job_id: int) -> list[int]:
        """Return the positions of a job's stored images with bytes, in order."""
        rows = await self._db.fetchall(
            "SELECT position FROM job_images WHERE job_id = ? AND data IS NOT NULL "
            "ORDER BY position",
            (job_id,),
        )
        return [int(r["position"]) for r in rows]

    # ------------------------------------------------------------------ gallery

    async def gallery(self, filters: GalleryFilter, *, limit: int) -> list[Job]:
        """Return the jobs matching ``filters``, newest first, at most ``limit``."""
        clauses: list[str] = []
        params: list[Any] = []
        if filters.guild_ids is not None:
            if not filters.guild_ids:
                return []
            clauses.append(f"guild_id IN ({placeholders(len(filters.guild_ids))})")
            params.extend(filters.guild_ids)
        scope, scope_params = list(clauses), list(params)
        for column in ("user_id", "model", "state"):
            value = getattr(filters, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if filters.text:
            clauses.append("LOWER(prompt) LIKE ? ESCAPE '\\'")
            params.append(_like(filters.text))
        window: list[str] = []
        window_params: list[float] = []
        if filters.since is not None:
            window.append("created_at >= ?")
            window_params.append(filters.since)
        if filters.until is not None:
            window.append("created_at < ?")
            window_params.append(filters.until)
        if window:
            # A window of at most a month ending by now: its jobs have ids between the
            # least and the greatest of them (read from jobs_guild_created), so the scan
            # newest first (jobs_guild_recent) starts and stops there instead of reading
            # every newer job. ``id + 0``: else PostgreSQL walks the primary key from one
            # end to the window's first row. A wider window is dense among the newest
            # jobs: it is scanned newest first, unbounded, as reading its bounds would
            # cost a pass over most of the server. Its terms are kept either way, ``+``:
            # not an index's, so that no engine sorts a wide window's rows instead.
            end = filters.until if filters.until is not None else time.time()
            if filters.since is not None and end - filters.since <= NARROW_WINDOW_SECONDS:
                within = " AND ".join([*scope, *window])
                clauses.append(
                    f"id >= (SELECT MIN(id + 0) FROM jobs WHERE {within}) "
                    f"AND id <= (SELECT MAX(id + 0) FROM jobs WHERE {within})"
                )
                params.extend([*scope_params, *window_params] * 2)
            clauses.extend(f"+{term}" for term in window)
            params.extend(window_params)
        if filters.with_inputs:
            clauses.append("input_count > 0")
        if filters.before_id is not None:
            clauses.append("id < ?")
            params.append(filters.before_id)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        rows = await self._db.fetchall(
            f"SELECT * FROM jobs {where}ORDER BY id DESC LIMIT ?", (*params, limit)
        )
        return [Job.from_row(r) for r in rows]

    async def children(self, job_id: int) -> list[Job]:
        """Return the jobs made from this one (rerolls, edits, remixes), oldest first."""
        rows = await self._db.fetchall(
            "SELECT * FROM jobs WHERE parent_id = ? ORDER BY id", (job_id,)
        )
        return [Job.from_row(r) for r in rows]

    async def job_actions(self, guild_id: int, job_id: int) -> list[ModAction]:
        """Return the moderator log's entries about one job, oldest first."""
        rows = await self._db.fetchall(
            f"SELECT {_ACTION} FROM mod_actions WHERE guild_id = ? AND target = ? ORDER BY id",
            (guild_id, f"job:{job_id}"),
        )
        return [ModAction(**dict(r)) for r in rows]

    async def images_since(self, guild_ids: Sequence[int], since: float) -> dict[int, int]:
        """Return the images each server made since ``since`` (succeeded jobs' images)."""
        if not guild_ids:
            return {}
        rows = await self._db.fetchall(
            "SELECT j.guild_id AS guild_id, COUNT(i.position) AS images FROM jobs j "
            "JOIN job_images i ON i.job_id = j.id WHERE j.state = 'succeeded' "
            f"AND j.created_at >= ? AND j.guild_id IN ({placeholders(len(guild_ids))}) "
            "GROUP BY j.guild_id",
            (since, *guild_ids),
        )
        return {int(r["guild_id"]): int(r["images"]) for r in rows}

    async def known_servers(self, guild_ids: Sequence[int]) -> list[int]:
        """Return those of ``guild_ids`` the ledger knows: with a job or settings."""
        if not guild_ids:
            return []
        marks = placeholders(len(guild_ids))
        rows = await self._db.fetchall(
            f"SELECT DISTINCT guild_id FROM jobs WHERE guild_id IN ({marks}) "
            f"UNION SELECT guild_id FROM guild_settings WHERE guild_id IN ({marks})",
            (*guild_ids, *guild_ids),
        )
        return [int(r["guild_id"]) for r in rows]

    async def models_of(self, guild_ids: Sequence[int]) -> list[str]:
        """Return the models used in these servers (for the gallery's filter), sorted.

        One index seek per model and server (jobs_guild_model, a loose index scan), not
        a read of every job of the server.
        """
        found: set[str] = set()
        for guild_id in dict.fromkeys(guild_ids):
            rows = await self._db.fetchall(_MODELS_OF_GUILD, (guild_id, guild_id))
            found.update(str(r["model"]) for r in rows)
        return sorted(found)
