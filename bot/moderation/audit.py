"""AuditLog: compact posts to a server's audit channel (``/imagemod config log_channel``).

A post never breaks the action that caused it: a Discord failure is logged and the
post is dropped. Posts made on the way to answering a member run in the background.
A post is in the server's language (its preferred locale, the ``guild_locale`` of its
interactions), so callers hand over a builder that takes the language.

A finished job's post carries its reference images, as many as Discord takes: each
within the server's upload limit (``filesize_limit``), 10 files and 25 MiB per
request. The embed says which are attached and which were too large; if the post
with files is refused all the same, it is posted again without them (and says so).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence

import discord

from bot.background import Background
from bot.i18n import ENGLISH, Lang, locale_of
from bot.store import InputImage, Store
from bot.ui.moderation import ReferenceFiles
from bot.ui.parts import DEFAULT_UPLOAD_LIMIT, MAX_FILES, REQUEST_LIMIT, REQUEST_OVERHEAD

log = logging.getLogger(__name__)

EmbedBuilder = Callable[[Lang], discord.Embed]
# Builds a post that carries reference images, told which of them go with it.
ReferencesBuilder = Callable[[Lang, ReferenceFiles], discord.Embed]

REQUEST_BUDGET = REQUEST_LIMIT - REQUEST_OVERHEAD


def attachable(
    images: Sequence[InputImage], file_limit: int
) -> tuple[list[InputImage], ReferenceFiles]:
    """Return the images one message can carry, in order, and what became of each.

    Each file within ``file_limit``, at most 10 files and 25 MiB in all; an image whose
    bytes retention removed is neither (the embed counts it as no longer kept).
    """
    chosen: list[InputImage] = []
    too_large = used = 0
    for image in images:
        if image.data is None:
            continue
        size = len(image.data)
        if size > file_limit or used + size > REQUEST_BUDGET or len(chosen) == MAX_FILES:
            too_large += 1
            continue
        chosen.append(image)
        used += size
    return chosen, ReferenceFiles(attached=len(chosen), too_large=too_large)


def as_files(images: Sequence[InputImage]) -> list[discord.File]:
    """Return images (checked by :func:`attachable`) as files to attach."""
    return [discord.File(io.BytesIO(i.data or b""), filename=i.filename) for i in images]


class AuditLog:
    """Post embeds to a server's audit channel; failures are logged, not raised."""

    def __init__(self, client: discord.Client, store: Store, background: Background) -> None:
        self._client = client
        self._store = store
        self._background = background

    def locale(self, guild_id: int) -> Lang:
        """Return the server's language: its preferred locale, from the client's cache."""
        guild = self._client.get_guild(guild_id)
        return locale_of(guild.preferred_locale) if guild is not None else ENGLISH

    def file_limit(self, guild_id: int) -> int:
        """Return the largest file the server's channels take (its boosts raise it)."""
        guild = self._client.get_guild(guild_id)
        return guild.filesize_limit if guild is not None else DEFAULT_UPLOAD_LIMIT

    async def post(
        self, guild_id: int, build: EmbedBuilder, *, channel_id: int | None = None
    ) -> bool:
        """Post the embed to the server's log channel; False if it failed."""
        if channel_id is None:
            channel_id = (await self._store.guilds.settings(guild_id)).log_channel_id
        if channel_id is None:
            return False
        return await self._send(guild_id, channel_id, build(self.locale(guild_id))) is None

    async def post_with_references(
        self, guild_id: int, build: ReferencesBuilder, images: Sequence[InputImage]
    ) -> bool:
        """Post the embed with the reference images that fit; False if nothing was posted.

        A post refused with its files (too large after all, no Attach Files permission)
        is made again without them, its embed saying they could not be attached.
        """
        channel_id = (await self._store.guilds.settings(guild_id)).log_channel_id
        if channel_id is None:
            return False
        lang = self.locale(guild_id)
        chosen, references = attachable(images, self.file_limit(guild_id))
        refused = await self._send(guild_id, channel_id, build(lang, references), chosen)
        if refused is None:
            return True
        if not chosen:
            return False
        log.info(
            "guild %s: audit post with %d reference images refused (HTTP %s); posting without",
            guild_id,
            len(chosen),
            refused.status,
        )
        without = ReferenceFiles(too_large=references.too_large, not_attached=len(chosen))
        return await self._send(guild_id, channel_id, build(lang, without)) is None

    async def _send(
        self,
        guild_id: int,
        channel_id: int,
        embed: discord.Embed,
        images: Sequence[InputImage] = (),
    ) -> discord.HTTPException | None:
        """Send one post; return Discord's refusal (logged), or None when it was posted."""
        channel = self._client.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            await channel.send(
                embed=embed,
                files=as_files(images),
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:
            log.warning(
                "guild %s: audit post to channel %s failed: HTTP %s (code %s)",
                guild_id,
                channel_id,
                exc.status,
                exc.code,
            )
            return exc
        return None

    def post_soon(self, guild_id: int, build: EmbedBuilder) -> None:
        """Post in the background (for callers that must answer the member first)."""
        self._background.spawn(self.post(guild_id, build), "audit-post")

    async def wait_idle(self) -> None:
        """Wait until every background post has finished (for tests)."""
        await self._background.wait_idle("audit-post")
