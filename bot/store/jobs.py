"""JobStore: every statement on the job ledger (``jobs``) and its images (``job_images``).

Quota units are :class:`bot.store.quota.QuotaStore`'s, counts :class:`bot.store.queue.QueueStore`'s.

Each write that changes a job is one conditional statement that returns the updated
row (``RETURNING *``), or None when its condition did not hold, so that repeating a
write is harmless and callers need not read the job again.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import fields
from typing import Any

from bot.errors import StorageError
from bot.store.database import Database, placeholders
from bot.store.queue import GENERATING
from bot.store.rows import (
    DRAFT_COLUMNS,
    JOB_UPDATABLE,
    TERMINAL_STATES,
    InputImage,
    Job,
    JobDraft,
    JobFilter,
    encode_column,
    encode_draft,
)

_ADDED_COLUMNS = tuple(f.name for f in fields(Job) if f.name not in DRAFT_COLUMNS)
_ROWS_PER_INSERT = 100  # well within either engine's limit on a statement's parameters
_FINISHED = (
    f"state IN ({', '.join(repr(s) for s in TERMINAL_STATES)}) AND delivery_state != 'pending'"
)

_LEASE = ", lease_owner = ?, lease_until = ?, lease_token = lease_token + 1"


class LeaseLost(StorageError):
    """A fenced write found the job's lease held by another token: stop working on it."""


def _fence(token: int | None) -> tuple[str, tuple[int, ...]]:
    """Return the SQL condition (and its parameter) that the lease is still ``token``."""
    return ("", ()) if token is None else (" AND lease_token = ?", (token,))


class JobStore:
    """The job ledger."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def insert_many(
        self, drafts: Sequence[tuple[JobDraft, Sequence[InputImage]]], *, now: float | None = None
    ) -> list[Job]:
        """Store new jobs (each with its inputs) in one transaction; return them in order.

        A few multi-row statements rather than one per job. The ids a statement assigns
        grow in the order of its rows (on both engines), so sorting the rows it returns
        by id gives them back in the order of ``drafts``.
        """
        now = time.time() if now is None else now
        row_sql = f"({placeholders(len(DRAFT_COLUMNS))}, 'queued', 'reserved', ?, ?)"
        jobs: list[Job] = []
        async with self._db.transaction():
            for start in range(0, len(drafts), _ROWS_PER_INSERT):
                chunk = drafts[start : start + _ROWS_PER_INSERT]
                stored = [encode_draft(draft) for draft, _ in chunk]
                params: list[Any] = []
                for values in stored:
                    params += [*values.values(), now, now]
                # Only what the database adds: decoding the whole row again costs more
                # than the insert itself.
                rows = await self._db.fetchall(
                    f"INSERT INTO jobs ({', '.join(DRAFT_COLUMNS)}, state, quota_state, "
                    f"created_at, updated_at) VALUES {', '.join([row_sql] * len(chunk))} "
                    f"RETURNING {', '.join(_ADDED_COLUMNS)}",
                    params,
                )
                added = sorted(rows, key=lambda r: int(r["id"]))
                jobs += [Job.from_row({**v, **r}) for v, r in zip(stored, added, strict=True)]
            images = [
                (job.id, i.position, i.filename, i.content_type, i.data)
                for job, (_, inputs) in zip(jobs, drafts, strict=True)
                for i in inputs
            ]
            if images:
                await self._db.executemany(
                    "INSERT INTO job_inputs (job_id, position, filename, content_type, data) "
                    "VALUES (?, ?, ?, ?, ?)",
                    images,
                )
        return jobs

    async def inputs(self, job_id: int) -> list[InputImage]:
        """Return a job's reference images in order (bytes None once retention took them)."""
        rows = await self._db.fetchall(
            "SELECT position, filename, content_type, data FROM job_inputs "
            "WHERE job_id = ? ORDER BY position",
            (job_id,),
        )
        return [InputImage(**dict(r)) for r in rows]

    async def keep_inputs(self, job_id: int, images: Sequence[InputImage]) -> None:
        """Replace a job's reference images by what is kept of them (same positions)."""
        if not images:
            return
        await self._db.executemany(
            "UPDATE job_inputs SET filename = ?, content_type = ?, data = ? "
            "WHERE job_id = ? AND position = ?",
            [(i.filename, i.content_type, i.data, job_id, i.position) for i in images],
        )

    async def get(self, job_id: int) -> Job | None:
        """Return one job, or None."""
        row = await self._db.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return Job.from_row(row) if row else None

    async def finished_tasks(self, limit: int) -> list[Job]:
        """Return the latest succeeded task jobs, newest first (their timings teach polls)."""
        rows = await self._db.fetchall(
            "SELECT * FROM jobs WHERE state = 'succeeded' AND task_id IS NOT NULL "
            "AND submitted_at IS NOT NULL AND finished_at IS NOT NULL ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [Job.from_row(r) for r in rows]

    async def queued(self) -> list[Job]:
        """Return every queued job, oldest first (the dispatch order)."""
        rows = await self._db.fetchall("SELECT * FROM jobs WHERE state = 'queued' ORDER BY id")
        return [Job.from_row(r) for r in rows]

    async def search(self, filters: JobFilter, *, limit: int = 50, offset: int = 0) -> list[Job]:
        """Return jobs matching every given filter, newest first."""
        clauses: list[str] = []
        params: list[Any] = []
        for column in ("guild_id", "user_id", "model", "state"):
            value = getattr(filters, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if filters.since is not None:
            clauses.append("created_at >= ?")
            params.append(filters.since)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        rows = await self._db.fetchall(
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
        token: int | None = None,
        lease_to: tuple[str, float] | None = None,
        **fields: Any,
    ) -> Job | None:
        """Move a job to ``to_state`` if it is in one of ``from_states``; set ``fields``.

        Returns the updated job, or None (and changes nothing) when the job was not in
        ``from_states``, which makes every transition safe to attempt twice. With
        ``token``, the write also needs the lease still held with that token (fencing:
        a process that lost the job to another cannot write over it). ``lease_to``
        (owner, until) leases the job in the same write, its token raised.
        """
        unknown = set(fields) - JOB_UPDATABLE
        if unknown:
            raise ValueError(f"not job fields: {sorted(unknown)}")
        sources = tuple(from_states)
        assignments = "".join(f", {name} = ?" for name in fields)
        values = [encode_column(name, value) for name, value in fields.items()]
        fence, fenced = _fence(token)
        lease, leased = ("", ()) if lease_to is None else (_LEASE, lease_to)
        return await self._update_one(
            f"UPDATE jobs SET state = ?, updated_at = ?{assignments}{lease} "
            f"WHERE id = ? AND state IN ({placeholders(len(sources))}){fence} RETURNING *",
            (
                to_state,
                time.time() if now is None else now,
                *values,
                *leased,
                job_id,
                *sources,
                *fenced,
            ),
        )

    async def submit(self, job_id: int, *, owner: str, lease_until: float) -> Job | None:
        """Move a queued job to ``submitted``, leased to ``owner``; None if not queued."""
        now = time.time()
        return await self._update_one(
            "UPDATE jobs SET state = 'submitted', submitted_at = ?, updated_at = ?, "
            "lease_owner = ?, lease_until = ?, lease_token = lease_token + 1 "
            "WHERE id = ? AND state = 'queued' RETURNING *",
            (now, now, owner, lease_until, job_id),
        )

    async def claim(
        self, *, owner: str, lease_until: float, limit: int, everything: bool = False
    ) -> list[Job]:
        """Lease to ``owner`` the jobs that need work and nobody holds; return them.

        Work is a create or poll (``submitted``, ``running``) or a pending delivery.
        A lease that expired is taken over, its token raised. ``everything`` takes every
        such job whatever its lease (the one process of an SQLite ledger, at its start).
        Several processes never claim one job: PostgreSQL skips rows another claim holds.
        """
        now = time.time()
        free = "" if everything else " AND (lease_until IS NULL OR lease_until < ?)"
        rows = await self._db.fetchall(
            "UPDATE jobs SET lease_owner = ?, lease_until = ?, lease_token = lease_token + 1 "
            f"WHERE id IN (SELECT id FROM jobs WHERE ({GENERATING} OR "
            f"(state IN ({', '.join(repr(s) for s in TERMINAL_STATES)}) "
            f"AND delivery_state = 'pending')){free} ORDER BY id LIMIT ?"
            f"{self._db.skip_locked}) RETURNING *",
            (owner, lease_until, *(() if everything else (now,)), limit),
        )
        return sorted((Job.from_row(r) for r in rows), key=lambda job: job.id)

    async def renew(self, owner: str, lease_until: float, job_ids: Sequence[int]) -> set[int]:
        """Extend ``owner``'s leases of ``job_ids``; return the ids it still holds."""
        if not job_ids:
            return set()
        rows = await self._db.fetchall(
            f"UPDATE jobs SET lease_until = ? WHERE lease_owner = ? "
            f"AND id IN ({placeholders(len(job_ids))}) RETURNING id",
            (lease_until, owner, *job_ids),
        )
        return {int(r["id"]) for r in rows}

    async def give_back(self, owner: str) -> int:
        """End ``owner``'s leases now (it stops cleanly): others may take its jobs at once.

        The token is left as it is; the next claim raises it, fencing ``owner`` off.
        """
        return await self._db.execute(
            "UPDATE jobs SET lease_until = ? WHERE lease_owner = ? AND lease_until >= ?",
            (0.0, owner, time.time()),
        )

    async def unacknowledged(self, older_than: float) -> list[Job]:
        """Return queued jobs whose first answer was not recorded by ``older_than``."""
        rows = await self._db.fetchall(
            "SELECT * FROM jobs WHERE state = 'queued' AND acknowledged_at IS NULL "
            "AND interaction_token IS NOT NULL AND created_at < ? ORDER BY id",
            (older_than,),
        )
        return [Job.from_row(r) for r in rows]

    async def acknowledge(self, job_id: int, message_id: int | None) -> None:
        """Record that the member got the first answer, and the message it created."""
        await self.acknowledge_many([(job_id, message_id)])

    async def acknowledge_many(self, answered: Sequence[tuple[int, int | None]]) -> None:
        """Record first answers (job id, message id) in one transaction."""
        now = time.time()
        await self._db.executemany(
            "UPDATE jobs SET acknowledged_at = ?, message_id = COALESCE(?, message_id), "
            "updated_at = ? WHERE id = ?",
            [(now, message_id, now, job_id) for job_id, message_id in answered],
        )

    async def record_part(
        self,
        job_id: int,
        part: int,
        *,
        via: str,
        channel_id: int,
        message_id: int,
        token: int | None = None,
    ) -> None:
        """Record that part ``part`` of a job's outcome was posted (the first names the path).

        Recording a part twice changes nothing. With ``token``, raise :class:`LeaseLost`
        if another process holds the job now: it delivers the rest, this one stops.
        """
        first = ", delivered_via = ?, delivered_channel_id = ?, delivered_message_id = ?"
        fence, fenced = _fence(token)
        changed = await self._db.execute(
            f"UPDATE jobs SET parts_delivered = ?{first if part == 0 else ''} "
            f"WHERE id = ? AND parts_delivered = ?{fence}",
            (
                part + 1,
                *((via, channel_id, message_id) if part == 0 else ()),
                job_id,
                part,
                *fenced,
            ),
        )
        if not changed and token is not None:
            await self.check_lease(job_id, token)

    async def mark_delivered(
        self,
        job_id: int,
        *,
        via: str,
        channel_id: int | None,
        message_id: int | None,
        delivered: bool = True,
        token: int | None = None,
    ) -> Job | None:
        """Record how a job's outcome reached the user, once; forget its interaction token.

        The path of a first part already posted (see :meth:`record_part`) is kept.
        """
        now = time.time()
        fence, fenced = _fence(token)
        return await self._update_one(
            "UPDATE jobs SET delivery_state = ?, delivered_via = COALESCE(delivered_via, ?), "
            "delivered_channel_id = COALESCE(delivered_channel_id, ?), "
            "delivered_message_id = COALESCE(delivered_message_id, ?), delivered_at = ?, "
            "interaction_token = NULL, updated_at = ? "
            f"WHERE id = ? AND delivery_state = 'pending'{fence} RETURNING *",
            (
                "delivered" if delivered else "failed",
                via,
                channel_id,
                message_id,
                now,
                now,
                job_id,
                *fenced,
            ),
        )

    async def mark_deleted(self, job_id: int, moderator_id: int) -> Job | None:
        """Record that a moderator (or the requester) deleted a job's delivered message."""
        now = time.time()
        return await self._update_one(
            "UPDATE jobs SET deleted_by = ?, deleted_at = ?, updated_at = ? "
            "WHERE id = ? AND deleted_at IS NULL RETURNING *",
            (moderator_id, now, now, job_id),
        )

    async def redact_before(self, cutoff: float) -> int:
        """Strip prompts, options and images (and thumbnails) of finished jobs before ``cutoff``.

        Counts, models, states and quota units stay, so usage history survives.
        """
        blank = self._db.blank_json_key
        async with self._db.transaction():
            for table in ("job_images", "job_inputs", "job_thumbnails"):
                await self._db.execute(
                    f"DELETE FROM {table} WHERE job_id IN "
                    f"(SELECT id FROM jobs WHERE created_at < ? AND {_FINISHED})",
                    (cutoff,),
                )
            return await self._db.execute(
                f"UPDATE jobs SET prompt = '', options = {blank('options', 'prompt')}, "
                f"request = {blank('request', 'prompt')}, result_urls = NULL, "
                "revised_prompt = NULL, interaction_token = NULL, error_message = NULL "
                f"WHERE created_at < ? AND prompt != '' AND {_FINISHED}",
                (cutoff,),
            )

    async def check_lease(self, job_id: int, token: int) -> None:
        """Raise LeaseLost unless the job's lease is still ``token`` (row locked till commit)."""
        held = await self._db.fetchone(
            "UPDATE jobs SET updated_at = updated_at WHERE id = ? AND lease_token = ? RETURNING id",
            (job_id, token),
        )
        if held is None:
            raise LeaseLost(f"job {job_id}: lease {token} is no longer held")

    async def held(self, job_id: int, token: int) -> Job:
        """Return the job as it is now if ``token`` still holds it, unexpired; else LeaseLost.

        Checked before anything goes out to Discord: a lease that ran out may be taken
        over at any moment (and another claim of this process may hold it already), so a
        post made under it could be made twice.
        """
        row = await self._db.fetchone("SELECT * FROM jobs WHERE id = ?", (job_id,))
        job = Job.from_row(row) if row else None
        if job is None or job.lease_token != token:
            raise LeaseLost(f"job {job_id}: lease {token} is no longer held")
        if job.lease_until is not None and job.lease_until < time.time():
            raise LeaseLost(f"job {job_id}: lease {token} ran out")
        return job

    async def _update_one(self, sql: str, params: Sequence[Any]) -> Job | None:
        row = await self._db.fetchone(sql, params)
        return Job.from_row(row) if row else None

    # ------------------------------------------------------------------ images
