"""AuditLog: compact posts to a server's audit channel (``/imagemod config log_channel``).

A post never breaks the action that caused it: a Discord failure is logged and the
post is dropped. Posts made on the way to answering a member run in the background.
A post is in the server's language (its preferred locale, the ``guild_locale`` of its
interactions), so callers hand over a builder that takes the language.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Sequence

import discord

from bot.background import Background
from bot.i18n import ENGLISH, Lang, locale_of
from bot.store import InputImage, Store

log = logging.getLogger(__name__)

EmbedBuilder = Callable[[Lang], discord.Embed]


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

    async def post(
        self,
        guild_id: int,
        build: EmbedBuilder,
        *,
        channel_id: int | None = None,
        files: Sequence[InputImage] = (),
    ) -> bool:
        """Post the embed (and ``files``) to the server's log channel; False if it failed."""
        if channel_id is None:
            channel_id = (await self._store.guilds.settings(guild_id)).log_channel_id
        if channel_id is None:
            return False
        channel = self._client.get_partial_messageable(channel_id, guild_id=guild_id)
        attached = [discord.File(io.BytesIO(f.data), filename=f.filename) for f in files if f.data]
        try:
            await channel.send(
                embed=build(self.locale(guild_id)),
                files=attached,
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
            return False
        return True

    def post_soon(self, guild_id: int, build: EmbedBuilder) -> None:
        """Post in the background (for callers that must answer the member first)."""
        self._background.spawn(self.post(guild_id, build), "audit-post")

    async def wait_idle(self) -> None:
        """Wait until every background post has finished (for tests)."""
        await self._background.wait_idle("audit-post")
