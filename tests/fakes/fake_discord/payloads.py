"""Builders of Discord objects: roles, channels, members, the guild."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from tests.fakes.fake_discord.constants import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    ATTACH_FILES,
    EMBED_LINKS,
    EVERYONE_PERMISSIONS,
    JOINED_AT,
    OVERWRITE_MEMBER,
    OVERWRITE_ROLE,
    SEND_MESSAGES,
    VIEW_CHANNEL,
    snowflake,
)
from tests.fakes.fake_discord.errors import ApiError
from tests.fakes.fake_discord.records import FakeGuild, FakeUser
from tests.fakes.fake_discord.state import FakeState


class Payloads(FakeState):
    """The guild model and the objects Discord sends for it."""

    # ------------------------------------------------------------------ guild model

    @staticmethod
    def _role(
        role_id: int, name: str, position: int, permissions: int, *, managed: bool = False
    ) -> dict[str, Any]:
        return {
            "id": str(role_id),
            "name": name,
            "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "position": position,
            "permissions": str(permissions),
            "managed": managed,
            "mentionable": False,
            "flags": 0,
        }

    def _text_channel(
        self, channel_id: int, name: str, position: int, guild_id: int | None = None
    ) -> dict[str, Any]:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(guild_id or self.guild_id),
            "name": name,
            "position": position,
            "topic": None,
            "nsfw": False,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "last_message_id": None,
            "permission_overwrites": [],
            "flags": 0,
        }

    def add_user(
        self,
        username: str,
        *,
        roles: Iterable[int] = (),
        guild: FakeGuild | int | None = None,
        locale: str = "en-US",
    ) -> FakeUser:
        """Add a member to a guild (the default one unless ``guild`` is given).

        Add them before the client connects to have them in GUILD_CREATE.
        """
        user = FakeUser(snowflake(), username, roles=list(roles), locale=locale)
        self.users[user.id] = user
        self.guild(guild).member_ids.append(user.id)
        return user

    def add_role(
        self, name: str, permissions: int = 0, *, guild: FakeGuild | int | None = None
    ) -> int:
        """Add a role with ``permissions`` to a guild (the default one); return its id.

        Add it before the client connects to have it in GUILD_CREATE.
        """
        g = self.guild(guild)
        role_id = snowflake()
        position = max(int(r["position"]) for r in g.roles.values()) + 1
        g.roles[role_id] = self._role(role_id, name, position, permissions)
        self._changed()
        return role_id

    def add_guild(
        self,
        name: str,
        *,
        channels: Iterable[str] = ("general",),
        members: Iterable[FakeUser] = (),
        locale: str = "en-US",
        guild_id: int | None = None,
    ) -> FakeGuild:
        """Add a guild (owner: :attr:`owner`) with text channels, the bot and ``members``.

        ``guild_id`` picks the id, e.g. one that lands on a given shard (see
        :meth:`guild_id_for_shard`). Add it before the client connects.
        """
        gid = guild_id or snowflake()
        roles = {
            gid: self._role(gid, "@everyone", 0, EVERYONE_PERMISSIONS),
        }
        channel_ids = []
        for position, channel_name in enumerate(channels):
            cid = snowflake()
            self.channels[cid] = self._text_channel(cid, channel_name, position, gid)
            channel_ids.append(cid)
        member_ids = [self.bot_user.id, self.owner.id]
        member_ids += [m.id for m in members if m.id not in member_ids]
        guild = FakeGuild(gid, name, self.owner.id, roles, channel_ids, member_ids, locale)
        self.guilds[gid] = guild
        self._changed()
        return guild

    def guild(self, guild: FakeGuild | int | None = None) -> FakeGuild:
        """A guild by id or object; the default guild for None."""
        if isinstance(guild, FakeGuild):
            return guild
        return self.guilds[guild or self.guild_id]

    def guild_of_channel(self, channel_id: int) -> FakeGuild | None:
        """The guild a channel belongs to (None for DMs and unknown channels)."""
        channel = self.channels.get(channel_id)
        return self.guilds.get(int(channel["guild_id"])) if channel else None

    def guild_permissions_of(self, user: FakeUser, guild: FakeGuild | int | None = None) -> int:
        """A member's server-wide permissions: @everyone and their roles (owner and
        Administrator get everything); what ``Member.guild_permissions`` computes."""
        g = self.guild(guild)
        if user.id == g.owner_id:
            return ALL_PERMISSIONS
        perms = int(g.roles[g.everyone_role_id]["permissions"])
        for role_id in user.roles:
            role = g.roles.get(role_id)
            if role is not None:
                perms |= int(role["permissions"])
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def permissions_of(
        self, user: FakeUser, channel_id: int | None = None, guild: FakeGuild | int | None = None
    ) -> int:
        """A member's permissions in a channel, as Discord computes an interaction's.

        The server-wide permissions, then the channel's overwrites in Discord's order:
        @everyone's, the member's roles' (all denies, then all allows), the member's own.
        Owner and Administrator get everything; without View Channel, nothing. Without a
        known channel: the server-wide permissions.
        """
        if guild is None and channel_id is not None:
            guild = self.guild_of_channel(channel_id)
        g = self.guild(guild)
        perms = self.guild_permissions_of(user, g)
        channel = self.channels.get(channel_id) if channel_id is not None else None
        if perms == ALL_PERMISSIONS or channel is None or int(channel["guild_id"]) != g.id:
            return perms
        overwrites = {int(o["id"]): o for o in channel.get("permission_overwrites", [])}

        def apply(value: int, allow: int, deny: int) -> int:
            return (value & ~deny) | allow

        everyone = overwrites.get(g.everyone_role_id)
        if everyone is not None:
            perms = apply(perms, int(everyone["allow"]), int(everyone["deny"]))
        allow = deny = 0
        for role_id in user.roles:
            found = overwrites.get(role_id)
            if found is not None and found["type"] == OVERWRITE_ROLE and role_id in g.roles:
                allow |= int(found["allow"])
                deny |= int(found["deny"])
        perms = apply(perms, allow, deny)
        own = overwrites.get(user.id)
        if own is not None and own["type"] == OVERWRITE_MEMBER:
            perms = apply(perms, int(own["allow"]), int(own["deny"]))
        return perms if perms & VIEW_CHANNEL else 0

    def set_overwrite(
        self, channel_id: int, target: FakeUser | int, *, allow: int = 0, deny: int = 0
    ) -> None:
        """Give a member (a :class:`FakeUser`) or a role (its id) an overwrite in a channel.

        As a moderator's edit in the channel's settings: the channel object (GUILD_CREATE,
        ``GET /channels/{id}``) lists it, and the ``permissions`` of the interactions in
        that channel include it. ``allow=0, deny=0`` removes it.
        """
        channel = self.channels[channel_id]
        is_member = isinstance(target, FakeUser)
        target_id = target.id if isinstance(target, FakeUser) else int(target)
        kept = [o for o in channel["permission_overwrites"] if int(o["id"]) != target_id]
        if allow or deny:
            kept.append(
                {
                    "id": str(target_id),
                    "type": OVERWRITE_MEMBER if is_member else OVERWRITE_ROLE,
                    "allow": str(allow),
                    "deny": str(deny),
                }
            )
        channel["permission_overwrites"] = kept
        self._changed()

    def remove_member(self, user: FakeUser, guild: FakeGuild | int | None = None) -> None:
        """The member leaves the guild (or is kicked or banned): the guild no longer lists
        them and ``GET /guilds/{id}/members/{user}`` answers 404 10007 Unknown Member."""
        g = self.guild(guild)
        if user.id in g.member_ids:
            g.member_ids.remove(user.id)
        self._changed()

    def app_permissions(self, channel_id: int | None = None) -> int:
        """The bot's permissions in a channel (reduced in forbidden channels)."""
        perms = self.permissions_of(self.bot_user, channel_id)
        if channel_id is not None and channel_id in self._forbidden_channels:
            perms &= ~(SEND_MESSAGES | ATTACH_FILES | EMBED_LINKS)
        return perms

    def member_payload(
        self, user: FakeUser, *, with_user: bool = True, guild: FakeGuild | int | None = None
    ) -> dict[str, Any]:
        """A guild member object (roles: those of the guild)."""
        g = self.guild(guild)
        data: dict[str, Any] = {
            "roles": [str(r) for r in user.roles if r in g.roles],
            "nick": None,
            "avatar": None,
            "banner": None,
            "joined_at": JOINED_AT,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if with_user:
            data["user"] = user.payload()
        return data

    def _ready_user_payload(self) -> dict[str, Any]:
        data = self.bot_user.payload()
        data.update(
            {"verified": True, "mfa_enabled": False, "flags": 0, "email": None, "locale": "en-US"}
        )
        return data

    def guild_payload(self, guild: FakeGuild | int | None = None) -> dict[str, Any]:
        """The full guild object sent in GUILD_CREATE (of the default guild by default)."""
        g = self.guild(guild)
        members = [self.users[uid] for uid in g.member_ids if uid in self.users]
        return {
            "id": str(g.id),
            "name": g.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(g.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": g.locale,
            "system_channel_id": str(g.channel_ids[0]) if g.channel_ids else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": [],
            "application_id": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "roles": [copy.deepcopy(r) for r in g.roles.values()],
            "emojis": [],
            "stickers": [],
            "joined_at": JOINED_AT,
            "large": False,
            "unavailable": False,
            "member_count": len(members),
            "voice_states": [],
            "members": [self.member_payload(u, guild=g) for u in members],
            "channels": [
                copy.deepcopy(self.channels[cid])
                for cid in g.channel_ids
                if cid in self.channels and cid not in self._deleted_channels
            ],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _role_object(self, role_id: int) -> dict[str, Any] | None:
        """A copy of a role of any guild, or None."""
        for guild in self.guilds.values():
            if role_id in guild.roles:
                return copy.deepcopy(guild.roles[role_id])
        return None

    def _channel_object(self, channel_id: int) -> dict[str, Any]:
        if channel_id in self._deleted_channels:
            raise ApiError(404, 10003, "Unknown Channel")
        channel = self.channels.get(channel_id)
        if channel is not None:
            return copy.deepcopy(channel)
        recipient = self._dm_recipient.get(channel_id)
        if recipient is not None:
            return self._dm_channel_payload(channel_id, recipient)
        raise ApiError(404, 10003, "Unknown Channel")

    def _dm_channel_payload(self, channel_id: int, user_id: int) -> dict[str, Any]:
        user = self.users.get(user_id) or FakeUser(user_id, f"user{user_id}")
        return {
            "id": str(channel_id),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [user.payload()],
        }
