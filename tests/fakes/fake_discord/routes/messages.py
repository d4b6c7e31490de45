"""Routes: channels and their messages; the message store."""

from __future__ import annotations

import copy
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.fake_discord.constants import (
    FLAG_COMPONENTS_V2,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    MESSAGE_DEFAULT,
    MESSAGE_REPLY,
    now_iso,
    snowflake,
)
from tests.fakes.fake_discord.errors import ApiError, form_error, json_response, no_content
from tests.fakes.fake_discord.limits import check_message
from tests.fakes.fake_discord.records import (
    FakeInteraction,
    RecordedRequest,
)
from tests.fakes.fake_discord.state import FakeState

# How long Discord remembers a channel message nonce for enforce_nonce.
NONCE_WINDOW_SECONDS = 5 * 60

if TYPE_CHECKING:
    from tests.fakes.fake_discord.rest import Route


class MessageRoutes(FakeState):
    """``/channels/{id}`` and the message model behind every route that posts."""

    def _message_routes(self) -> list[Route]:
        """Channels and their messages."""
        return [
            ("GET", "/channels/{cid}", self._get_channel),
            ("GET", "/channels/{cid}/messages", self._list_channel_messages),
            ("POST", "/channels/{cid}/messages", self._post_channel_message),
            ("GET", "/channels/{cid}/messages/{mid}", self._get_channel_message),
            ("PATCH", "/channels/{cid}/messages/{mid}", self._edit_channel_message),
            ("DELETE", "/channels/{cid}/messages/{mid}", self._delete_channel_message),
            ("POST", "/channels/{cid}/typing", self._typing),
        ]

    # ------------------------------------------------------------------ messages

    @staticmethod
    def _validate_content(message: dict[str, Any]) -> None:
        check_message(message)
        if not (
            (message.get("content") or "").strip()
            or message.get("embeds")
            or message.get("attachments")
            or message.get("components")
            or message.get("sticker_items")
            or message.get("poll")
            or message["flags"] & FLAG_LOADING
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")

    def _create_message(
        self,
        rec: RecordedRequest,
        payload: dict[str, Any],
        *,
        channel_id: int,
        msg_type: int = MESSAGE_DEFAULT,
        flags: int = 0,
        interaction: FakeInteraction | None = None,
        size_limit: int | None = None,
    ) -> dict[str, Any]:
        ephemeral = bool(flags & FLAG_EPHEMERAL)
        attachments = self._attachments_for(
            rec, payload, [], size_limit=size_limit or self.upload_limit, ephemeral=ephemeral
        )
        message_id = snowflake()
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "type": msg_type,
            "content": payload.get("content") or "",
            "author": self.bot_user.payload(),
            "embeds": copy.deepcopy(payload.get("embeds") or []),
            "attachments": attachments or [],
            "components": copy.deepcopy(payload.get("components") or []),
            "flags": flags,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": bool(payload.get("tts", False)),
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
        }
        if payload.get("sticker_ids"):
            message["sticker_items"] = [
                {"id": str(s), "name": "sticker", "format_type": 1} for s in payload["sticker_ids"]
            ]
        if payload.get("poll"):
            message["poll"] = copy.deepcopy(payload["poll"])
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        if channel_id in self.channels:
            message["guild_id"] = self.channels[channel_id]["guild_id"]
        if interaction is not None:
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "name": interaction.name,
                "command_type": 1,
                "user": interaction.user.payload(),
                "authorizing_integration_owners": copy.deepcopy(
                    interaction.payload.get("authorizing_integration_owners", {})
                ),
            }
            if interaction.original_id is not None:
                message["interaction_metadata"]["original_response_message_id"] = str(
                    interaction.original_id
                )
        self._validate_content(message)
        self.messages[message_id] = message
        if not ephemeral:
            self._channel_messages.setdefault(channel_id, []).append(message_id)
        return message

    def _edit_message(
        self,
        rec: RecordedRequest,
        message: dict[str, Any],
        *,
        size_limit: int | None = None,
        payload: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        if payload is None:
            payload = rec.json if isinstance(rec.json, dict) else {}
        edited = copy.deepcopy(message)
        if "content" in payload:
            edited["content"] = payload["content"] or ""
        if "embeds" in payload:
            edited["embeds"] = copy.deepcopy(payload["embeds"] or [])
        if "components" in payload:
            edited["components"] = copy.deepcopy(payload["components"] or [])
        if "flags" in payload and payload["flags"] is not None:
            keep = edited["flags"] & ~(FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2)
            edited["flags"] = keep | (
                int(payload["flags"]) & (FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2)
            )
        attachments = self._attachments_for(
            rec,
            payload,
            edited["attachments"],
            size_limit=size_limit or self.upload_limit,
            ephemeral=bool(edited["flags"] & FLAG_EPHEMERAL),
        )
        if attachments is not None:
            edited["attachments"] = attachments
        edited["flags"] &= ~FLAG_LOADING
        edited["edited_timestamp"] = now_iso()
        self._validate_content(edited)
        message.clear()
        message.update(edited)
        return message

    def _delete_message(self, message_id: int) -> None:
        message = self.messages.pop(message_id, None)
        if message is not None:
            self.deleted_messages[message_id] = message

    @staticmethod
    def _out(message: dict[str, Any]) -> dict[str, Any]:
        return copy.deepcopy(message)

    # ------------------------------------------------------------------ channels

    def _get_channel(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return json_response(self._channel_object(int(m["cid"])))

    def _list_channel_messages(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        channel_id = int(m["cid"])
        self._channel_object(channel_id)
        limit = max(1, min(100, int(rec.query.get("limit", "50"))))
        newest_first = list(reversed(self.channel_messages(channel_id)))[:limit]
        return json_response([self._out(msg) for msg in newest_first])

    def _post_channel_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        channel_id = int(m["cid"])
        self._channel_object(channel_id)
        if channel_id in self._forbidden_channels:
            raise ApiError(403, 50013, "Missing Permissions")
        recipient = self._dm_recipient.get(channel_id)
        if recipient is not None and recipient in self._blocked_dm_users:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        payload = rec.json if isinstance(rec.json, dict) else {}
        nonce = payload.get("nonce")
        key = (channel_id, str(nonce))
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self._nonces.get(key)
            if seen is not None and time.monotonic() - seen[1] < NONCE_WINDOW_SECONDS:
                existing = self.messages.get(seen[0])
                if existing is not None:  # Discord answers with the message it already made
                    return json_response(self._out(existing))
        reference = payload.get("message_reference")
        referenced: dict[str, Any] | None = None
        if reference:
            ref_id = int(reference.get("message_id") or 0)
            referenced = self.messages.get(ref_id)
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise form_error(
                    "message_reference",
                    "MESSAGE_REFERENCE_UNKNOWN_MESSAGE",
                    "Unknown message",
                )
        flags = int(payload.get("flags") or 0) & (
            FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2
        )
        message = self._create_message(
            rec,
            payload,
            channel_id=channel_id,
            size_limit=self.dm_upload_limit if recipient is not None else self.upload_limit,
            msg_type=MESSAGE_REPLY if referenced is not None else MESSAGE_DEFAULT,
            flags=flags,
        )
        if referenced is not None:
            message["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
            }
            if "guild_id" in referenced:
                message["message_reference"]["guild_id"] = referenced["guild_id"]
            ref_copy = self._out(referenced)
            ref_copy.pop("referenced_message", None)
            message["referenced_message"] = ref_copy
        if nonce is not None:
            self._nonces[key] = (int(message["id"]), time.monotonic())
        self._changed()
        return json_response(self._out(message))

    def _channel_message(self, m: dict[str, str]) -> dict[str, Any]:
        channel_id = int(m["cid"])
        self._channel_object(channel_id)
        message = self.messages.get(int(m["mid"]))
        if (
            message is None
            or int(message["channel_id"]) != channel_id
            or message["flags"] & FLAG_EPHEMERAL
        ):
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def _get_channel_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return json_response(self._out(self._channel_message(m)))

    def _edit_channel_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        message = self._channel_message(m)
        if int(message["author"]["id"]) != self.bot_user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        size_limit = (
            self.dm_upload_limit if int(message["channel_id"]) in self._dm_recipient else None
        )
        self._edit_message(rec, message, size_limit=size_limit)
        self._changed()
        return json_response(self._out(message))

    def _delete_channel_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        message = self._channel_message(m)
        self._delete_message(int(message["id"]))
        self._changed()
        return no_content()

    def _typing(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        self._channel_object(int(m["cid"]))
        return no_content()
