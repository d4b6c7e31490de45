"""Who a member is in a server: their roles now, and their server-wide permissions.

An interaction's ``permissions`` are the member's in the channel it came from,
overwrites included: a member given Manage Messages in one channel has it there only.
Moderator rights are the server's, so they are computed from the server's roles
(:func:`server_permissions`, as Discord computes a member's base permissions: the owner
and Administrator have every permission, a timed-out member only View Channel and Read
Message History), never from the channel's.

A press outside the server (on a result sent by DM) carries neither roles nor
permissions, and the member may have left or been banned since: :meth:`Members.of`
asks Discord for the member (``GET /guilds/{id}/members/{user}``) and refuses the
press when they are not in the server any more. The bot asks for the ``guilds`` intent
only, so it keeps no member list that could be out of date; the server's roles come
from the gateway's cache, or from Discord when this process does not hold that server.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

import aiohttp
import discord

from bot.errors import NotAllowed, ServiceUnavailable
from bot.store import Store
from bot.ui.replies import member_role_ids

log = logging.getLogger(__name__)

# What a timed-out member keeps (Discord's rule; the owner and Administrator keep all).
TIMED_OUT_KEEPS = discord.Permissions(view_channel=True, read_message_history=True)


class NotMember(NotAllowed):
    """The member is not in the server (left, kicked or banned), or the bot is not."""

    def __init__(self) -> None:
        super().__init__("refusal.not_a_member")


@dataclass(frozen=True)
class ServerMember:
    """A member of one server as the server sees them now."""

    guild_id: int
    user_id: int
    role_ids: tuple[int, ...]
    permissions: discord.Permissions  # server-wide: roles, owner, Administrator, timeout


def is_moderator(
    permissions: discord.Permissions, role_ids: Collection[int], moderator_role_id: int | None
) -> bool:
    """Whether a member may moderate: by server-wide permissions, or the moderator role.

    ``permissions`` are the member's in the server (:func:`server_permissions`): Manage
    Messages or Administrator there qualify, as does the server's moderator role.
    """
    if permissions.manage_messages or permissions.administrator:
        return True
    return moderator_role_id is not None and moderator_role_id in role_ids


def server_permissions(
    guild: discord.Guild, user_id: int, role_ids: Iterable[int], *, timed_out: bool = False
) -> discord.Permissions:
    """Return a member's permissions in the server, whatever any channel's overwrites say."""
    if guild.owner_id == user_id:
        return discord.Permissions.all()
    value = 0
    for role in (guild.default_role, *(guild.get_role(r) for r in role_ids)):
        if role is not None:
            value |= role.permissions.value
    permissions = discord.Permissions(value)
    if permissions.administrator:
        return discord.Permissions.all()
    if timed_out:
        return discord.Permissions(value & TIMED_OUT_KEEPS.value)
    return permissions


def _knows_roles(guild: discord.Guild | None) -> bool:
    """Whether a cached guild came with its roles and owner (GUILD_CREATE), not a stub."""
    return (
        guild is not None
        and not guild.unavailable
        and guild.owner_id is not None
        and guild.get_role(guild.id) is not None
    )


class Members:
    """The member behind an interaction, in the server whose rules apply to it."""

    def __init__(self, client: discord.Client, store: Store) -> None:
        self._client = client
        self._store = store

    async def moderates(self, interaction: discord.Interaction[Any], guild_id: int) -> bool:
        """Whether who ran or pressed ``interaction`` may moderate the server ``guild_id``.

        By the server's permissions, not the channel's: Manage Messages or Administrator
        server-wide (the owner has both), or the configured moderator role. A permission
        given in one channel's overwrites does not count. Raises NotMember or
        ServiceUnavailable as :meth:`of` does.
        """
        member = await self.of(interaction, guild_id)
        settings = await self._store.guilds.settings(guild_id)
        return is_moderator(member.permissions, member.role_ids, settings.moderator_role_id)

    async def of(self, interaction: discord.Interaction[Any], guild_id: int) -> ServerMember:
        """Return who pressed or ran ``interaction``, as a member of the server ``guild_id``.

        In that server, the roles are the interaction's own (Discord sends them current).
        Anywhere else (a DM), the member is fetched from Discord; NotMember is raised when
        they are not in the server, ServiceUnavailable when Discord cannot say.
        """
        user = interaction.user
        if interaction.guild_id == guild_id and isinstance(user, discord.Member):
            guild = await self._guild(guild_id)
            return self._member(guild, user)
        return await self.fetch(guild_id, user.id)

    async def fetch(self, guild_id: int, user_id: int) -> ServerMember:
        """Ask Discord for a member of a server (NotMember if they are not in it)."""
        guild = await self._guild(guild_id)
        try:
            member = await guild.fetch_member(user_id)
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info("guild %s: user %s is not a member (HTTP %s)", guild_id, user_id, exc.status)
            raise NotMember() from None
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("guild %s: could not fetch member %s: %r", guild_id, user_id, exc)
            raise ServiceUnavailable("refusal.membership_unknown") from None
        return self._member(guild, member)

    async def _guild(self, guild_id: int) -> discord.Guild:
        guild = self._client.get_guild(guild_id)
        if guild is not None and _knows_roles(guild):
            return guild
        try:  # a server of another process's shards, or not yet (re)sent by the gateway
            return await self._client.fetch_guild(guild_id)
        except (discord.NotFound, discord.Forbidden) as exc:
            log.info("guild %s: not reachable by the bot (HTTP %s)", guild_id, exc.status)
            raise NotMember() from None
        except (discord.HTTPException, aiohttp.ClientError, OSError, TimeoutError) as exc:
            log.warning("guild %s: could not fetch its roles: %r", guild_id, exc)
            raise ServiceUnavailable("refusal.membership_unknown") from None

    @staticmethod
    def _member(guild: discord.Guild, member: discord.Member) -> ServerMember:
        roles = member_role_ids(member)
        permissions = server_permissions(guild, member.id, roles, timed_out=member.is_timed_out())
        return ServerMember(guild.id, member.id, roles, permissions)
