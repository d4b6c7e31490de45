"""Routes: guilds, their channels, roles and members."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from aiohttp import web

from tests.fakes.fake_discord.errors import ApiError, json_response
from tests.fakes.fake_discord.records import FakeGuild, RecordedRequest
from tests.fakes.fake_discord.state import FakeState

if TYPE_CHECKING:
    from tests.fakes.fake_discord.rest import Route


class GuildRoutes(FakeState):
    """``/guilds/{id}``."""

    def _guild_routes(self) -> list[Route]:
        """Guilds, their channels, roles and members."""
        return [
            ("GET", "/guilds/{gid}", self._get_guild),
            ("GET", "/guilds/{gid}/channels", self._get_guild_channels),
            ("GET", "/guilds/{gid}/roles", self._get_guild_roles),
            ("GET", "/guilds/{gid}/members/{uid}", self._get_member),
        ]

    def _check_guild(self, m: dict[str, str]) -> FakeGuild:
        guild = self.guilds.get(int(m["gid"]))
        if guild is None:
            raise ApiError(404, 10004, "Unknown Guild")
        return guild

    def _get_guild(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        guild = self.guild_payload(self._check_guild(m))
        for key in ("members", "channels", "threads", "presences", "voice_states"):
            guild.pop(key, None)
        return json_response(guild)

    def _get_guild_channels(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return json_response(self.guild_payload(self._check_guild(m))["channels"])

    def _get_guild_roles(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        guild = self._check_guild(m)
        return json_response([copy.deepcopy(r) for r in guild.roles.values()])

    def _get_member(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        guild = self._check_guild(m)
        user = self.users.get(int(m["uid"]))
        if user is None or user.id not in guild.member_ids:
            raise ApiError(404, 10007, "Unknown Member")
        return json_response(self.member_payload(user, guild=guild))
