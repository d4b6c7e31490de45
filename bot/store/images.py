"""ImageStore: a job's result images (``job_images``): saved, filled in, read, freed.

The rows are written fenced by the job's lease (through :class:`bot.store.jobs.JobStore`)
where a process that lost the job must not write over the one that took it.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.database import Database
from bot.store.jobs import JobStore
from bot.store.rows import StoredImage


class ImageStore:
    """The images of the job ledger."""

    def __init__(self, db: Database, jobs: JobStore) -> None:
        self._db = db
        self._jobs = jobs

    async def save_images(
        self, job_id: int, images: Sequence[StoredImage], *, token: int | None = None
    ) -> None:
        """Store a job's downloaded images (replacing any stored before).

        With ``token``, only while this process holds the job (else :class:`LeaseLost`).
        """
        async with self._db.transaction():
            if token is not None:
                await self._jobs.check_lease(job_id, token)
            await self._db.execute("DELETE FROM job_images WHERE job_id = ?", (job_id,))
            await self._db.executemany(
                "INSERT INTO job_images (job_id, position, url, content_type, data) "
                "VALUES (?, ?, ?, ?, ?)",
                [(job_id, i.position, i.url, i.content_type, i.data) for i in images],
            )

    async def fill_images(self, job_id: int, images: Sequence[StoredImage]) -> None:
        """Store the downloaded bytes of images saved before as URLs only."""
        await self._db.executemany(
            "UPDATE job_images SET content_type = ?, data = ? WHERE job_id = ? AND position = ?",
            [(i.content_type, i.data, job_id, i.position) for i in images],
        )

    async def load_images(self, job_id: int) -> list[StoredImage]:
        """Return a job's stored images in order."""
        rows = await self._db.fetchall(
            "SELECT position, url, content_type, data FROM job_images "
            "WHERE job_id = ? ORDER BY position",
            (job_id,),
        )
        return [StoredImage(**dict(r)) for r in rows]

    async def has_images(self, job_id: int) -> bool:
        """Whether any image of the job is stored (without reading the bytes)."""
        sql = "SELECT 1 FROM job_images WHERE job_id = ? LIMIT 1"
        return await self._db.fetchone(sql, (job_id,)) is not None

    async def drop_image_data(self, job_id: int) -> None:
        """Free the stored bytes of a delivered job's images (URLs are kept)."""
        await self._db.execute("UPDATE job_images SET data = NULL WHERE job_id = ?", (job_id,))
