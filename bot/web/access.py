"""Who sees which server: the bot's own view of the member, checked again within 60 s.

A user sees a server only if the bot is in it and, as the bot fetches them from Discord
now, the user owns it, has Manage Server or the moderator rights the bot itself goes by
server-wide (Manage Messages or Administrator: :func:`bot.moderation.members.is_moderator`),
or has the server's moderator role. The list of servers the user is in comes from
Discord's OAuth2 answer at sign-in; what they may do there, from the bot. Only servers
the bot knows are asked about: in this process's gateway cache, or with a job or
settings in the ledger (a ``python -m bot web`` process has no gateway cache).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiohttp import web

from bot.client import LemonBot
from bot.errors import NotAllowed, ServiceUnavailable
from bot.moderation.members import is_moderator
from bot.store.rows import WebSession

log = logging.getLogger(__name__)
VIEWER = web.RequestKey("viewer", WebSession)  # the signed-in session of a request


MAX_ID = 2**63 - 1  # the largest id either database holds


def parse_id(value: str | None) -> int | None:
    """Return the id (or position) a URL or form gives, or None if it is not one."""
    if not (value and value.isascii() and value.isdigit() and len(value) < 20):
        return None
    number = int(value)
    return number if number <= MAX_ID else None


def moderated_guild(request: web.Request) -> int:
    """Return the server of the URL if the viewer moderates it; else 404, whatever its id."""
    guild_id = parse_id(request.match_info.get("guild_id"))
    if guild_id is None or guild_id not in request[VIEWER].moderated_ids:
        raise web.HTTPNotFound()
    return guild_id


RECHECK_SECONDS = 60.0
MAX_SERVERS = 200  # servers of one user checked (Discord lists at most 200 per page)
CONCURRENCY = 4


async def moderated_servers(bot: LemonBot, user_id: int, guild_ids: Sequence[int]) -> list[int]:
    """Return the servers of ``guild_ids`` that ``user_id`` moderates, as the bot sees it."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def moderates(guild_id: int) -> bool:
        async with gate:
            try:
                member = await bot.members.fetch(guild_id, user_id)
            except NotAllowed:  # the bot is not there, or the user is not any more
                return False
            except ServiceUnavailable:
                log.warning("guild %s: could not check user %s's rights", guild_id, user_id)
                return False  # unknown: not shown until the next check
            if member.permissions.manage_guild:
                return True
            role = (await bot.moderation.settings(guild_id)).moderator_role_id
            return is_moderator(member.permissions, member.role_ids, role)

    # Only servers the bot knows: in this process's gateway cache, or in the ledger (a
    # job or settings). A user's other servers cost no request to Discord.
    known = await bot.gallery.known_servers(guild_ids)
    candidates = [g for g in guild_ids if g in known or bot.get_guild(g) is not None]
    candidates = candidates[:MAX_SERVERS]
    answers = await asyncio.gather(*(moderates(g) for g in candidates))
    return [g for g, yes in zip(candidates, answers, strict=True) if yes]
