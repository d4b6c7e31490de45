"""Routes: channels and their messages; the message store."""

from __future__ import annotations

import copy
import hashlib
import hmac
import mimetypes
import struct
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from tests.fakes.fake_discord.constants import (
    FLAG_COMPONENTS_V2,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    MESSAGE_DEFAULT,
    MESSAGE_REPLY,
    PNG_SIGNATURE,
    now_iso,
    snowflake,
)
from tests.fakes.fake_discord.errors import ApiError, form_error, json_response, no_content
from tests.fakes.fake_discord.limits import check_message, check_upload_sizes
from tests.fakes.fake_discord.records import (
    FakeInteraction,
    FakeUser,
    RecordedRequest,
    UploadedFile,
)
from tests.fakes.fake_discord.state import FakeState

CDN_URL_LIFETIME_SECONDS = 24 * 60 * 60
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
    def _guess_type(upload: UploadedFile) -> str:
        guessed, _ = mimetypes.guess_type(upload.filename)
        if guessed:
            return guessed
        if upload.content_type and upload.content_type != "application/octet-stream":
            return upload.content_type
        return "application/octet-stream"

    def _store_attachment(
        self, upload: UploadedFile, *, description: str | None, ephemeral: bool = False
    ) -> dict[str, Any]:
        attachment_id = snowflake()
        self._attachments[attachment_id] = upload
        url = self._signed_cdn_url(attachment_id, upload.filename)
        attachment: dict[str, Any] = {
            "id": str(attachment_id),
            "filename": upload.filename,
            "size": len(upload.data),
            "url": url,
            "proxy_url": url,
            "content_type": self._guess_type(upload),
            "flags": 0,
        }
        if description is not None:
            attachment["description"] = description
        if ephemeral:
            attachment["ephemeral"] = True
        if upload.data.startswith(PNG_SIGNATURE) and len(upload.data) >= 24:
            width, height = struct.unpack(">II", upload.data[16:24])
            attachment["width"], attachment["height"] = width, height
        return attachment

    def _signed_cdn_url(self, attachment_id: int, filename: str) -> str:
        """A CDN URL signed like Discord's (``?ex=<expiry>&is=<issued>&hm=<hmac>&``)."""
        issued = int(time.time())
        ex, is_ = f"{issued + CDN_URL_LIFETIME_SECONDS:x}", f"{issued:x}"
        hm = self._cdn_signature(attachment_id, filename, ex, is_)
        path = f"/attachments/{attachment_id}/{quote(filename)}"
        return f"{self.base_url}{path}?ex={ex}&is={is_}&hm={hm}&"

    def _cdn_signature(self, attachment_id: int, filename: str, ex: str, is_: str) -> str:
        message = f"{attachment_id}/{filename}/{ex}/{is_}".encode()
        return hmac.new(self._cdn_secret, message, hashlib.sha256).hexdigest()

    def upload_attachment(
        self,
        filename: str,
        data: bytes,
        content_type: str | None = None,
        *,
        width: int | None = None,
        height: int | None = None,
    ) -> dict[str, Any]:
        """Store bytes a member uploads; return the attachment object Discord sends.

        For an attachment option (``options={"image": fake.upload_attachment(...)}``)
        or a message of a member. Its ``url`` serves the bytes from the fake's CDN route
        and is signed like Discord's (``?ex=..&is=..&hm=..``); PNG sizes are read from
        the header unless given.
        """
        attachment = self._store_attachment(
            UploadedFile(filename, data, content_type), description=None
        )
        if content_type:
            attachment["content_type"] = content_type
        if width is not None and height is not None:
            attachment["width"], attachment["height"] = width, height
        return attachment

    def add_member_message(
        self,
        user: FakeUser,
        content: str = "",
        *,
        channel_id: int | None = None,
        attachments: Iterable[dict[str, Any]] = (),
    ) -> dict[str, Any]:
        """Post a message as a member (e.g. the target of a message command).

        ``attachments`` are objects from :meth:`upload_attachment`.
        """
        cid = channel_id or self.channel_id
        message_id = snowflake()
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(cid),
            "type": MESSAGE_DEFAULT,
            "content": content,
            "author": user.payload(),
            "embeds": [],
            "attachments": [copy.deepcopy(a) for a in attachments],
            "components": [],
            "flags": 0,
            "timestamp": now_iso(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
        }
        if cid in self.channels:
            message["guild_id"] = self.channels[cid]["guild_id"]
        self.messages[message_id] = message
        self._channel_messages.setdefault(cid, []).append(message_id)
        self._changed()
        return message

    def _attachments_for(
        self,
        rec: RecordedRequest,
        payload: dict[str, Any],
        existing: list[dict[str, Any]],
        *,
        size_limit: int,
        ephemeral: bool,
    ) -> list[dict[str, Any]] | None:
        """New attachment list of a message, or None when it does not change."""
        files = rec.files
        check_upload_sizes((len(upload.data) for upload in files), size_limit)
        indexes = rec.file_indexes or list(range(len(files)))
        by_index = dict(zip(indexes, files, strict=True))
        used: set[int] = set()
        wanted = payload.get("attachments")
        if wanted is None:
            if not files:
                return None
            result = list(existing)
        else:
            result = []
            existing_by_id = {int(a["id"]): a for a in existing}
            for entry in wanted:
                try:
                    ref = int(entry["id"])
                except (KeyError, TypeError, ValueError):
                    raise form_error(
                        "attachments", "BASE_TYPE_REQUIRED", "id is required"
                    ) from None
                if ref in by_index:
                    upload = by_index[ref]
                    if entry.get("filename"):
                        upload = UploadedFile(entry["filename"], upload.data, upload.content_type)
                    result.append(
                        self._store_attachment(
                            upload, description=entry.get("description"), ephemeral=ephemeral
                        )
                    )
                    used.add(ref)
                elif ref in existing_by_id:
                    result.append(existing_by_id[ref])
                else:
                    raise form_error(
                        "attachments", "ATTACHMENT_NOT_FOUND", f"Unknown attachment id {ref}"
                    )
        for index, upload in zip(indexes, files, strict=True):
            if index not in used:
                result.append(self._store_attachment(upload, description=None, ephemeral=ephemeral))
        return result

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
