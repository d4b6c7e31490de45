"""A job's page and its files: images, references, thumbnails, and Delete.

``/jobs/{job_id}`` shows a job to the moderators of its server and to its requester (404
to anyone else, whatever the id): its images full size from the stored bytes, prompt,
options, seed, cost and timings, its reference images, its lineage as thumbnails, its
moderator log, and for moderators the actions: delete the result (the Discord message
too), block the member and add a blocklist entry from the prompt (the last two are forms
of the Settings page, :mod:`bot.web.settings`). Files are sent with
``Cache-Control: private`` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from aiohttp import web

from bot.client import LemonBot
from bot.errors import Refusal
from bot.i18n import Lang
from bot.moderation.blocklist import MAX_PATTERN_LENGTH
from bot.moderation.config import MAX_REASON_LENGTH
from bot.store.rows import Job
from bot.ui.details import cost_text
from bot.web.access import VIEWER, parse_id

IMAGE_CACHE = "private, max-age=86400"


class Dashboard(Protocol):
    """What the job pages use of :class:`bot.web.app.Dashboard` (which imports this module)."""

    bot: LemonBot

    def lang(self, request: web.Request) -> Lang:
        """Return the viewer's language."""
        ...

    def moderates(self, request: web.Request, guild_id: int) -> bool:
        """Whether the viewer moderates ``guild_id``."""
        ...

    def render(
        self, request: web.Request, template: str, /, *, status: int = 200, **context: object
    ) -> web.Response:
        """Render a page for the viewer."""
        ...

    async def visible_job(self, request: web.Request) -> Job:
        """Return the job of the URL if the viewer may see it; or 404."""
        ...

    async def tiles(self, jobs: list[Job]) -> Sequence[object]:
        """Return gallery tiles of ``jobs``."""
        ...

    async def member_names(self, guild_id: int | None, user_ids: Iterable[int]) -> dict[int, str]:
        """Return the names known of ``user_ids``."""
        ...


def _image(found: tuple[str, bytes] | None) -> tuple[str, bytes]:
    """Return a stored file's type (anything but an image goes as bytes) and bytes; or 404."""
    if found is None:
        raise web.HTTPNotFound()
    content_type, data = found
    if not content_type.startswith("image/"):
        content_type = "application/octet-stream"
    return content_type, data


class JobPages:
    """The handlers of a job's page, its files and its Delete."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.bot = dashboard.bot

    async def page(
        self, request: web.Request, job: Job, *, status: int = 200, refusal: str | None = None
    ) -> web.Response:
        """Render a job's page, with a refusal to show if an action was refused."""
        dashboard, gallery = self.dashboard, self.bot.gallery
        viewer = request[VIEWER]
        lineage = await gallery.lineage(job)
        moderator = dashboard.moderates(request, job.guild_id)
        visible = {
            j.id
            for j in (lineage.parent, *lineage.children)
            if j is not None
            and (j.user_id == viewer.user_id or dashboard.moderates(request, j.guild_id))
        }
        actions = await gallery.actions(job) if moderator else []
        parent = lineage.parent if lineage.parent and lineage.parent.id in visible else None
        children = [c for c in lineage.children if c.id in visible]
        people = [job.user_id, *(j.user_id for j in (*children, *([parent] if parent else [])))]
        people += [a.moderator_id for a in actions if a.moderator_id is not None]
        if job.deleted_by is not None:
            people.append(job.deleted_by)
        return dashboard.render(
            request,
            "job.html",
            status=status,
            job=job,
            names=await dashboard.member_names(job.guild_id, people),
            positions=await gallery.positions(job),
            references=[i.position for i in await gallery.inputs(job) if i.data is not None],
            cost=cost_text(job),
            parent=parent,
            parent_tiles=await dashboard.tiles([parent]) if parent else [],
            children=await dashboard.tiles(children),
            actions=actions,
            moderate=moderator,
            max_reason=MAX_REASON_LENGTH,
            max_pattern=MAX_PATTERN_LENGTH,
            can_delete=job.deleted_at is None and job.delivered_message_id is not None,
            done=request.query.get("done", "") if refusal is None else "",
            refusal=refusal,
        )

    async def job(self, request: web.Request) -> web.StreamResponse:
        """One job: images, prompt, options, seed, cost, lineage, log entries, actions."""
        return await self.page(request, await self.dashboard.visible_job(request))

    async def image(self, request: web.Request) -> web.StreamResponse:
        """Send a result image, full size, from the stored bytes (private cache only)."""
        job = await self.dashboard.visible_job(request)
        position = parse_id(request.match_info["position"])
        found = await self.bot.gallery.image(job, position) if position is not None else None
        content_type, data = _image(found)
        headers = {"Cache-Control": IMAGE_CACHE}
        if request.query.get("download") == "1":
            extension = content_type.rpartition("/")[2].replace("jpeg", "jpg")
            name = f"lemonbot-{job.id}-{position}.{extension}"
            headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return web.Response(body=data, content_type=content_type, headers=headers)

    async def reference(self, request: web.Request) -> web.StreamResponse:
        """Send one of the job's reference images (moderators and the requester only)."""
        job = await self.dashboard.visible_job(request)
        position = parse_id(request.match_info["position"])
        found = await self.bot.gallery.input_image(job, position) if position is not None else None
        content_type, data = _image(found)
        return web.Response(
            body=data, content_type=content_type, headers={"Cache-Control": IMAGE_CACHE}
        )

    async def thumbnail(self, request: web.Request) -> web.StreamResponse:
        """Send a result image's WebP thumbnail (made once, then stored)."""
        job = await self.dashboard.visible_job(request)
        position = parse_id(request.match_info["position"])
        data = await self.bot.gallery.thumbnail(job, position) if position is not None else None
        if data is None:
            raise web.HTTPNotFound()
        return web.Response(
            body=data, content_type="image/webp", headers={"Cache-Control": IMAGE_CACHE}
        )

    async def delete(self, request: web.Request) -> web.StreamResponse:
        """Delete the result (its Discord message), as Delete and /imagemod delete do."""
        job = await self.dashboard.visible_job(request)
        try:
            job = self.bot.moderation.deletable(job)
            said = await self.bot.moderation.delete_image(job, request[VIEWER].user_id, via="web")
        except Refusal as refusal:
            shown = refusal.render(self.dashboard.lang(request))
            return await self.page(request, job, status=409, refusal=shown)
        done = "gone" if said.key == "mod.deleted_gone" else "deleted"
        raise web.HTTPSeeOther(f"/jobs/{job.id}?done={done}")


def add_job_routes(app: web.Application, dashboard: Dashboard) -> None:
    """Add a job's page, its files and its Delete to the dashboard's application."""
    pages = JobPages(dashboard)
    app.router.add_get("/jobs/{job_id}", pages.job)
    app.router.add_get("/jobs/{job_id}/images/{position}", pages.image)
    app.router.add_get("/jobs/{job_id}/thumbs/{position}.webp", pages.thumbnail)
    app.router.add_get("/jobs/{job_id}/references/{position}", pages.reference)
    app.router.add_post("/jobs/{job_id}/delete", pages.delete)
