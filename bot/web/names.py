"""Names the dashboard shows: servers' and members', never a request to Discord per tile.

A name comes from the gateway's cache when this process has one (the bot's own process),
else from Discord's REST API (``python -m bot web`` has no gateway), remembered for a few
minutes in a bounded cache, failures too. A page asks for at most
:data:`LOOKUPS_PER_PAGE` names it does not know; the others show the member's id until
a later page has them.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Iterable

import discord

NAME_CACHE_SECONDS = 300.0
CACHE_SIZE = 10_000
LOOKUPS_PER_PAGE = 10


class _Cache:
    """A bounded map of names (None: Discord had none) that forgets after a while."""

    def __init__(self, seconds: float, size: int) -> None:
        self._seconds = seconds
        self._size = size
        self._items: OrderedDict[int, tuple[str | None, float]] = OrderedDict()

    def get(self, key: int) -> tuple[bool, str | None]:
        """Return (known, name): known is False when missing or too old."""
        item = self._items.get(key)
        if item is None or time.monotonic() - item[1] >= self._seconds:
            return False, None
        self._items.move_to_end(key)
        return True, item[0]

    def put(self, key: int, name: str | None) -> None:
        self._items[key] = (name, time.monotonic())
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)


class Names:
    """Server and member names for the pages of one dashboard."""

    def __init__(
        self, client: discord.Client, *, seconds: float = NAME_CACHE_SECONDS, size: int = CACHE_SIZE
    ) -> None:
        self._client = client
        self._servers = _Cache(seconds, size)
        self._users = _Cache(seconds, size)

    async def server(self, guild_id: int) -> str:
        """Return a server's name (its id when Discord will not say)."""
        guild = self._client.get_guild(guild_id)
        if guild is not None and guild.name:
            return guild.name
        known, name = self._servers.get(guild_id)
        if not known:
            try:
                name = (await self._client.fetch_guild(guild_id)).name
            except (discord.HTTPException, OSError, TimeoutError):
                name = None
            self._servers.put(guild_id, name)
        return name or str(guild_id)

    async def members(self, guild_id: int | None, user_ids: Iterable[int]) -> dict[int, str]:
        """Return the names known of ``user_ids`` (their server nickname where cached).

        Members missing from the result are shown by id.
        """
        guild = self._client.get_guild(guild_id) if guild_id is not None else None
        names: dict[int, str] = {}
        wanted: list[int] = []
        for user_id in dict.fromkeys(user_ids):
            member = guild.get_member(user_id) if guild is not None else None
            user = member or self._client.get_user(user_id)
            if user is not None:
                names[user_id] = user.display_name
                continue
            known, name = self._users.get(user_id)
            if known:
                if name:
                    names[user_id] = name
            elif len(wanted) < LOOKUPS_PER_PAGE:
                wanted.append(user_id)
        for user_id, name in zip(
            wanted, await asyncio.gather(*(self._fetch(u) for u in wanted)), strict=True
        ):
            self._users.put(user_id, name)
            if name:
                names[user_id] = name
        return names

    async def _fetch(self, user_id: int) -> str | None:
        try:
            user = await self._client.fetch_user(user_id)
        except (discord.HTTPException, OSError, TimeoutError):
            return None
        return user.display_name
