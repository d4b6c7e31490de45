"""Building interactions and sending them to the bot."""

from __future__ import annotations

import copy
import secrets
from datetime import UTC, datetime
from typing import Any

from tests.fakes.fake_discord.constants import (
    EVERYONE_PERMISSIONS,
    OPT_ATTACHMENT,
    OPT_BOOLEAN,
    OPT_CHANNEL,
    OPT_INTEGER,
    OPT_MENTIONABLE,
    OPT_NUMBER,
    OPT_ROLE,
    OPT_STRING,
    OPT_SUB_COMMAND,
    OPT_SUB_COMMAND_GROUP,
    OPT_USER,
    USE_APPLICATION_COMMANDS,
    snowflake,
)
from tests.fakes.fake_discord.records import FakeInteraction, FakeUser, UploadedFile
from tests.fakes.fake_discord.state import FakeState


class Interactions(FakeState):
    """Build INTERACTION_CREATE payloads and dispatch them."""

    # ------------------------------------------------------------------ interactions

    def _find_command(
        self, name: str, cmd_type: int = 1, guild_id: int | None = None
    ) -> tuple[dict[str, Any] | None, int | None]:
        """A synced command by name and type: the guild's first, then the global one."""
        gid = guild_id or self.guild_id
        for cmd in self.guild_commands.get(gid, []):
            if cmd["name"] == name and cmd.get("type", 1) == cmd_type:
                return cmd, gid
        for cmd in self.global_commands:
            if cmd["name"] == name and cmd.get("type", 1) == cmd_type:
                return cmd, None
        return None, None

    def interaction_payload(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user: FakeUser | None = None,
        channel_id: int | None = None,
        type: int = 2,
        focused: str | None = None,
        command_id: int | None = None,
        attachment_size_limit: int | None = None,
        locale: str | None = None,
        guild_locale: str | None = None,
        app_permissions: int | None = None,
        in_guild: bool = True,
    ) -> dict[str, Any]:
        """Build (and register) a full INTERACTION_CREATE payload for a slash command.

        ``name`` may hold subcommands (``"quota show"``). ``options`` maps option names to
        values; their types come from the registered command definition if the command was
        synced, else from the Python type (bool, int, float, str, :class:`FakeUser`).
        User options take a :class:`FakeUser` or an id; attachment options take an
        :class:`UploadedFile` / ``(filename, bytes[, content_type])``. ``type=4`` builds
        an autocomplete interaction with ``focused`` marked. ``in_guild=False`` builds a
        bot-DM interaction (``user`` instead of ``member``).
        """
        if type not in (2, 4):
            raise ValueError("only application command (2) and autocomplete (4) are supported")
        if type == 4 and focused is None:
            raise ValueError("an autocomplete interaction needs focused=<option name>")
        user = user or self.alice
        options = dict(options or {})
        parts = name.split()
        if not parts:
            raise ValueError("empty command name")
        guild = self.guild_of_channel(channel_id or self.channel_id) if in_guild else None
        cmd, cmd_guild = self._find_command(parts[0], 1, guild.id if guild else None)
        defs: list[dict[str, Any]] | None = cmd.get("options", []) if cmd is not None else None

        resolved: dict[str, dict[str, Any]] = {}
        data_options: list[dict[str, Any]] = []
        target = data_options
        for depth, sub in enumerate(parts[1:], start=1):
            sub_def = None
            if defs is not None:
                sub_def = next((o for o in defs if o["name"] == sub), None)
                if sub_def is None or sub_def["type"] not in (
                    OPT_SUB_COMMAND,
                    OPT_SUB_COMMAND_GROUP,
                ):
                    raise ValueError(f"/{parts[0]} has no subcommand {sub!r}")
            sub_type = (
                sub_def["type"]
                if sub_def
                else (OPT_SUB_COMMAND_GROUP if depth < len(parts) - 1 else OPT_SUB_COMMAND)
            )
            node: dict[str, Any] = {"name": sub, "type": sub_type, "options": []}
            target.append(node)
            target = node["options"]
            defs = sub_def.get("options", []) if sub_def is not None else None

        if defs is not None:
            known = {o["name"]: o for o in defs}
            unknown = set(options) - set(known)
            if unknown:
                raise ValueError(f"/{name} has no option(s) {sorted(unknown)}")
            if type == 2:
                missing = [
                    o["name"] for o in defs if o.get("required") and o["name"] not in options
                ]
                if missing:
                    raise ValueError(f"/{name} is missing required option(s) {missing}")
        else:
            known = {}
        if focused is not None and focused not in options:
            raise ValueError(f"focused option {focused!r} has no value")

        for opt_name, value in options.items():
            opt_def = known.get(opt_name)
            target.append(
                self._option(opt_name, value, opt_def, opt_name == focused, resolved, channel_id)
            )

        data: dict[str, Any] = {
            "id": str(cmd["id"] if cmd is not None else (command_id or snowflake())),
            "name": parts[0],
            "type": 1,
        }
        if command_id is not None:
            data["id"] = str(command_id)
        if data_options:
            data["options"] = data_options
        if resolved:
            data["resolved"] = resolved
        if cmd_guild is not None:
            data["guild_id"] = str(cmd_guild)

        return self._interaction_envelope(
            type,
            data,
            name=name,
            user=user,
            channel_id=channel_id,
            in_guild=in_guild,
            locale=locale,
            guild_locale=guild_locale,
            app_permissions=app_permissions,
            attachment_size_limit=attachment_size_limit,
        )

    def _interaction_envelope(
        self,
        type: int,
        data: dict[str, Any],
        *,
        name: str,
        user: FakeUser,
        channel_id: int | None = None,
        in_guild: bool = True,
        locale: str | None = None,
        guild_locale: str | None = None,
        app_permissions: int | None = None,
        attachment_size_limit: int | None = None,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Wrap ``data`` in an INTERACTION_CREATE payload as Discord sends it; register it.

        The guild is the channel's (the default channel's by default); ``locale`` is
        the member's (:attr:`FakeUser.locale`) and ``guild_locale`` the guild's unless
        given.
        """
        if attachment_size_limit is None:
            attachment_size_limit = self.upload_limit if in_guild else self.dm_upload_limit
        interaction_id = snowflake()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": type,
            "token": token,
            "version": 1,
            "locale": locale or user.locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": attachment_size_limit,
            "data": data,
        }
        if message is not None:
            payload["message"] = copy.deepcopy(message)
        guild = None
        if in_guild:
            cid = channel_id or self.channel_id
            guild = self.guild_of_channel(cid) or self.guild()
            channel = self._channel_object(cid) if cid in self.channels else None
            if channel is None:
                channel = self._text_channel(cid, f"channel-{cid}", 0)
            channel["permissions"] = str(self.permissions_of(user, cid, guild))
            glocale = guild_locale or guild.locale
            payload.update(
                {
                    "guild_id": str(guild.id),
                    "guild": {"id": str(guild.id), "locale": glocale, "features": []},
                    "guild_locale": glocale,
                    "channel_id": str(cid),
                    "channel": channel,
                    "member": {
                        **self.member_payload(user, guild=guild),
                        "permissions": str(self.permissions_of(user, cid, guild)),
                    },
                    "app_permissions": str(
                        app_permissions
                        if app_permissions is not None
                        else self.app_permissions(cid)
                    ),
                    "authorizing_integration_owners": {"0": str(guild.id)},
                    "context": 0,
                }
            )
        else:
            cid = channel_id or self._dm_channel_for(user.id)
            payload.update(
                {
                    "channel_id": str(cid),
                    "channel": self._dm_channel_payload(cid, user.id),
                    "user": user.payload(),
                    "app_permissions": str(
                        app_permissions
                        if app_permissions is not None
                        else (EVERYONE_PERMISSIONS & ~USE_APPLICATION_COMMANDS)
                    ),
                    "authorizing_integration_owners": {"0": "0"},
                    "context": 1,
                }
            )
        interaction = FakeInteraction(
            id=interaction_id,
            token=token,
            type=type,
            name=name,
            user=user,
            channel_id=cid,
            guild_id=guild.id if guild is not None else None,
            payload=copy.deepcopy(payload),
            created_at=datetime.now(UTC),
            attachment_size_limit=attachment_size_limit,
            _fake=self,
        )
        self.interactions[interaction_id] = interaction
        self._by_token[token] = interaction
        self._changed()
        return payload

    def _option(
        self,
        name: str,
        value: Any,
        opt_def: dict[str, Any] | None,
        focused: bool,
        resolved: dict[str, dict[str, Any]],
        channel_id: int | None,
    ) -> dict[str, Any]:
        if opt_def is not None:
            opt_type = int(opt_def["type"])
        elif isinstance(value, bool):
            opt_type = OPT_BOOLEAN
        elif isinstance(value, int):
            opt_type = OPT_INTEGER
        elif isinstance(value, float):
            opt_type = OPT_NUMBER
        elif isinstance(value, FakeUser):
            opt_type = OPT_USER
        elif isinstance(value, UploadedFile | tuple) or (
            isinstance(value, dict) and "filename" in value
        ):
            opt_type = OPT_ATTACHMENT
        elif isinstance(value, str):
            opt_type = OPT_STRING
        else:
            raise ValueError(f"cannot infer the option type of {name}={value!r}")

        option: dict[str, Any] = {"name": name, "type": opt_type}
        if focused:
            option["focused"] = True
            option["value"] = value  # Discord sends what was typed so far
            return option
        if opt_type == OPT_STRING:
            option["value"] = str(value)
        elif opt_type == OPT_INTEGER:
            option["value"] = int(value)
        elif opt_type == OPT_NUMBER:
            option["value"] = float(value)
        elif opt_type == OPT_BOOLEAN:
            option["value"] = bool(value)
        elif opt_type in (OPT_USER, OPT_MENTIONABLE) and (
            isinstance(value, FakeUser) or int(value) in self.users
        ):
            user = value if isinstance(value, FakeUser) else self.users[int(value)]
            option["value"] = str(user.id)
            resolved.setdefault("users", {})[str(user.id)] = user.payload()
            member = self.member_payload(user, with_user=False)
            member["permissions"] = str(self.permissions_of(user, channel_id))
            resolved.setdefault("members", {})[str(user.id)] = member
        elif opt_type in (OPT_ROLE, OPT_MENTIONABLE) and self._role_object(int(value)):
            option["value"] = str(int(value))
            resolved.setdefault("roles", {})[str(int(value))] = self._role_object(int(value))
        elif opt_type == OPT_CHANNEL:
            cid = int(value)
            channel = self._channel_object(cid)
            resolved.setdefault("channels", {})[str(cid)] = {
                "id": str(cid),
                "name": channel.get("name", ""),
                "type": channel["type"],
                "permissions": str(self.app_permissions(cid)),
            }
            option["value"] = str(cid)
        elif opt_type == OPT_ATTACHMENT:
            attachment = value if isinstance(value, dict) else self.upload_attachment(*value)
            option["value"] = attachment["id"]
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
        else:
            option["value"] = str(value)
        return option

    async def invoke(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        user: FakeUser | None = None,
        *,
        timeout: float = 10.0,
        **payload_kwargs: Any,
    ) -> FakeInteraction:
        """Send a slash command to the connected bot (INTERACTION_CREATE over the gateway).

        Takes the keyword arguments of :meth:`interaction_payload`. Returns at once
        (after the dispatch is written); wait with :meth:`wait_for_callback` & co.
        """
        payload = self.interaction_payload(name, options, user=user, **payload_kwargs)
        await self.dispatch("INTERACTION_CREATE", payload, timeout=timeout)
        return self.interactions[int(payload["id"])]

    async def autocomplete(
        self,
        name: str,
        options: dict[str, Any],
        focused: str,
        user: FakeUser | None = None,
        *,
        timeout: float = 10.0,
        **payload_kwargs: Any,
    ) -> list[dict[str, Any]]:
        """Send an autocomplete interaction and return the choices the bot answered."""
        interaction = await self.invoke(
            name, options, user, type=4, focused=focused, timeout=timeout, **payload_kwargs
        )
        await self.wait_for(
            lambda: interaction.choices is not None or interaction.callbacks,
            timeout,
            what="autocomplete result",
        )
        if interaction.choices is None:
            raise AssertionError(f"autocomplete answered with {interaction.callbacks!r}")
        return interaction.choices

    def build_interaction(
        self, client: Any, name: str, options: dict[str, Any] | None = None, **kw: Any
    ) -> Any:
        """Build a ``discord.Interaction`` for ``client`` (logged in here) without the gateway."""
        import discord  # local: the server itself does not need discord.py

        payload = self.interaction_payload(name, options, **kw)
        return discord.Interaction(data=payload, state=client._connection)  # type: ignore[arg-type]
