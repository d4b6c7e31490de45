"""Gallery: what the dashboard's pages read of the ledger, and thumbnails made once."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bot.dashboard.thumbnails import BadImage, make_thumbnail
from bot.store import GalleryFilter, InputImage, Job, ModAction, Store

log = logging.getLogger(__name__)

PAGE_SIZE = 24
# At most this many thumbnails are made at once (CPU in worker threads; 2 cores here).
THUMBNAIL_WORKERS = 2


@dataclass(frozen=True)
class Lineage:
    """A job's parent and children (rerolls, edits, remixes made from it)."""

    parent: Job | None
    children: list[Job]


class Gallery:
    """Jobs, images, lineage and log entries for the dashboard."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.page_size = PAGE_SIZE
        self._workers = asyncio.Semaphore(THUMBNAIL_WORKERS)

    async def page(self, filters: GalleryFilter) -> list[Job]:
        """Return one page of jobs, newest first (``filters.before_id`` pages on).

        A page names its servers, or one member (their own images): never everything.
        """
        if filters.guild_ids is None and filters.user_id is None:
            return []
        return await self._store.web.gallery(filters, limit=self.page_size)

    async def job(self, job_id: int) -> Job | None:
        """Return a job by id, or None (the caller decides who may see it)."""
        return await self._store.jobs.get(job_id)

    async def lineage(self, job: Job) -> Lineage:
        """Return the job's parent and children."""
        parent = await self._store.jobs.get(job.parent_id) if job.parent_id else None
        return Lineage(parent, await self._store.web.children(job.id))

    async def actions(self, job: Job) -> list[ModAction]:
        """Return the moderator log's entries about the job, oldest first."""
        return await self._store.web.job_actions(job.guild_id, job.id)

    async def inputs(self, job: Job) -> list[InputImage]:
        """Return the job's reference images."""
        return await self._store.jobs.inputs(job.id) if job.input_count else []

    async def positions(self, job: Job) -> list[int]:
        """Return the positions of the job's images whose bytes are stored."""
        return await self._store.web.image_positions(job.id)

    async def first_images(self, jobs: Sequence[Job]) -> dict[int, int]:
        """Return each succeeded job's first stored image position, by job id (one query)."""
        return await self._store.web.first_images([j.id for j in jobs if j.state == "succeeded"])

    async def input_image(self, job: Job, position: int) -> tuple[str, bytes] | None:
        """Return a reference image's ``(content type, bytes)``, or None."""
        return await self._store.web.input_image(job.id, position)

    async def image(self, job: Job, position: int) -> tuple[str, bytes] | None:
        """Return a result image's ``(content type, bytes)``, or None."""
        return await self._store.web.image(job.id, position)

    async def thumbnail(self, job: Job, position: int) -> bytes | None:
        """Return the image's WebP thumbnail, made and stored the first time; None if none."""
        stored = await self._store.web.thumbnail(job.id, position)
        if stored is not None:
            return stored
        image = await self._store.web.image(job.id, position)
        if image is None:
            return None
        async with self._workers:
            try:
                data = await asyncio.to_thread(make_thumbnail, image[1])
            except BadImage as exc:
                log.warning("job %s image %s: no thumbnail: %s", job.id, position, exc.reason)
                return None
        await self._store.web.save_thumbnail(job.id, position, data)
        return data

    async def images_today(self, guild_ids: Sequence[int]) -> dict[int, int]:
        """Return the images each server made since 00:00 UTC."""
        now = time.time()
        return await self._store.web.images_since(guild_ids, now - now % 86400)

    async def known_servers(self, guild_ids: Sequence[int]) -> set[int]:
        """Return those of ``guild_ids`` with a job or settings in the ledger."""
        return set(await self._store.web.known_servers(guild_ids))

    async def models(self, guild_ids: Sequence[int]) -> list[str]:
        """Return the models used in these servers."""
        return await self._store.web.models_of(guild_ids)
