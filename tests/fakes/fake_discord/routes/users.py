"""Routes: gateway info, users, DMs, the application and its commands."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.fake_discord.constants import snowflake
from tests.fakes.fake_discord.errors import ApiError, form_error, json_response, no_content
from tests.fakes.fake_discord.limits import check_command, check_commands
from tests.fakes.fake_discord.records import RecordedRequest
from tests.fakes.fake_discord.state import FakeState

if TYPE_CHECKING:
    from tests.fakes.fake_discord.rest import Route


class UserRoutes(FakeState):
    """``/gateway``, ``/users``, ``/applications`` (with commands)."""

    def _user_routes(self) -> list[Route]:
        """Gateway info, users, DMs, the application and its commands."""
        return [
            ("GET", "/gateway", self._get_gateway),
            ("GET", "/gateway/bot", self._get_gateway_bot),
            ("GET", "/users/@me", self._get_me),
            ("POST", "/users/@me/channels", self._create_dm),
            ("GET", "/users/{uid}", self._get_user),
            ("GET", "/oauth2/applications/@me", self._get_application),
            ("GET", "/applications/@me", self._get_application),
            ("GET", "/applications/{app}/commands", self._list_commands),
            ("PUT", "/applications/{app}/commands", self._put_commands),
            ("POST", "/applications/{app}/commands", self._post_command),
            ("GET", "/applications/{app}/commands/{cmd}", self._get_command),
            ("PATCH", "/applications/{app}/commands/{cmd}", self._patch_command),
            ("DELETE", "/applications/{app}/commands/{cmd}", self._delete_command),
            ("GET", "/applications/{app}/guilds/{gid}/commands", self._list_commands),
            ("PUT", "/applications/{app}/guilds/{gid}/commands", self._put_commands),
            ("POST", "/applications/{app}/guilds/{gid}/commands", self._post_command),
            ("GET", "/applications/{app}/guilds/{gid}/commands/{cmd}", self._get_command),
            ("PATCH", "/applications/{app}/guilds/{gid}/commands/{cmd}", self._patch_command),
            ("DELETE", "/applications/{app}/guilds/{gid}/commands/{cmd}", self._delete_command),
        ]

    # ------------------------------------------------------------------ simple routes

    def _get_gateway(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return json_response({"url": self.gateway_url})

    def _get_gateway_bot(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return json_response(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    def _get_me(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return json_response(self._ready_user_payload())

    def _get_user(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        user = self.users.get(int(m["uid"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return json_response(user.payload())

    def _get_application(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return json_response(
            {
                "id": str(self.application_id),
                "name": "lemonbot",
                "icon": None,
                "description": "Fake lemonbot application",
                "summary": "",
                "type": None,
                "hook": True,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": "0" * 64,
                "owner": self.owner.payload(),
                "team": None,
                "flags": 0,
                "tags": [],
                "redirect_uris": [],
                "interactions_endpoint_url": None,
                "role_connections_verification_url": None,
                "approximate_guild_count": 1,
                "integration_types_config": {"0": {}},
                "bot": self._ready_user_payload(),
            }
        )

    def _create_dm(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        body = rec.json if isinstance(rec.json, dict) else {}
        try:
            user_id = int(body["recipient_id"])
        except (KeyError, TypeError, ValueError):
            raise form_error(
                "recipient_id", "BASE_TYPE_REQUIRED", "This field is required"
            ) from None
        channel_id = self._dm_channel_for(user_id)
        self._changed()
        return json_response(self._dm_channel_payload(channel_id, user_id))

    def _dm_channel_for(self, user_id: int) -> int:
        channel_id = self.dm_channels.get(user_id)
        if channel_id is None:
            channel_id = snowflake()
            self.dm_channels[user_id] = channel_id
            self._dm_recipient[channel_id] = user_id
        return channel_id

    # ------------------------------------------------------------------ commands

    def _command_scope(self, m: dict[str, str]) -> int | None:
        if int(m["app"]) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")
        if "gid" in m and m["gid"] is not None:
            if int(m["gid"]) not in self.guilds:
                raise ApiError(403, 50001, "Missing Access")
            return int(m["gid"])
        return None

    def _commands_of(self, scope: int | None) -> list[dict[str, Any]]:
        if scope is None:
            return self.global_commands
        return self.guild_commands.setdefault(scope, [])

    def _stored_command(self, scope: int | None, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("name"):
            raise form_error("name", "BASE_TYPE_REQUIRED", "This field is required")
        cmd_type = int(body.get("type", 1))
        if cmd_type == 1 and not re.fullmatch(r"[-_\w]{1,32}", body["name"]):
            raise form_error("name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        key = (scope, body["name"], cmd_type)
        cmd_id = self._command_ids.setdefault(key, snowflake())
        cmd = copy.deepcopy(body)
        cmd.update(
            {
                "id": str(cmd_id),
                "application_id": str(self.application_id),
                "version": str(snowflake()),
                "type": cmd_type,
                "description": body.get("description", ""),
                "default_member_permissions": body.get("default_member_permissions"),
                "nsfw": body.get("nsfw", False),
            }
        )
        if scope is not None:
            cmd["guild_id"] = str(scope)
        else:
            cmd.setdefault("contexts", None)
            cmd.setdefault("integration_types", [0])
        return cmd

    def _list_commands(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return json_response(copy.deepcopy(self._commands_of(self._command_scope(m))))

    def _put_commands(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        scope = self._command_scope(m)
        if not isinstance(rec.json, list):
            raise form_error("_root", "LIST_TYPE_CONVERT", "Must be a list")
        check_commands(rec.json)
        names = [c.get("name") for c in rec.json]
        keys = [(c.get("name"), int(c.get("type") or 1)) for c in rec.json]
        if len(set(keys)) != len(keys):
            raise form_error("_root", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Duplicate name")
        commands = [self._stored_command(scope, c) for c in rec.json]
        if scope is None:
            self.global_commands = commands
        else:
            self.guild_commands[scope] = commands
        self.command_syncs.append((scope, [str(n) for n in names]))
        return json_response(copy.deepcopy(commands))

    def _post_command(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        scope = self._command_scope(m)
        check_command(rec.json if isinstance(rec.json, dict) else {})
        cmd = self._stored_command(scope, rec.json)
        commands = self._commands_of(scope)
        existing = [i for i, c in enumerate(commands) if c["id"] == cmd["id"]]
        if existing:
            commands[existing[0]] = cmd
        else:
            commands.append(cmd)
        return json_response(copy.deepcopy(cmd), 200 if existing else 201)

    def _find_stored_command(self, m: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
        commands = self._commands_of(self._command_scope(m))
        for index, cmd in enumerate(commands):
            if cmd["id"] == m["cmd"]:
                return commands, index
        raise ApiError(404, 10063, "Unknown application command")

    def _get_command(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        commands, index = self._find_stored_command(m)
        return json_response(copy.deepcopy(commands[index]))

    def _patch_command(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        commands, index = self._find_stored_command(m)
        merged = {**commands[index], **(rec.json or {})}
        check_command(merged)
        commands[index] = self._stored_command(self._command_scope(m), merged)
        return json_response(copy.deepcopy(commands[index]))

    def _delete_command(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        commands, index = self._find_stored_command(m)
        del commands[index]
        return no_content()
