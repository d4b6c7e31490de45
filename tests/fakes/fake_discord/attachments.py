"""The attachment store: uploads of the bot and of members, the signed CDN links."""

from __future__ import annotations

import copy
import hashlib
import hmac
import mimetypes
import struct
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from tests.fakes.fake_discord.constants import MESSAGE_DEFAULT, PNG_SIGNATURE, now_iso, snowflake
from tests.fakes.fake_discord.errors import form_error
from tests.fakes.fake_discord.limits import check_upload_sizes
from tests.fakes.fake_discord.records import FakeUser, RecordedRequest, UploadedFile
from tests.fakes.fake_discord.state import FakeState

CDN_URL_LIFETIME_SECONDS = 24 * 60 * 60


class Attachments(FakeState):
    """Stored files, their attachment objects, and member messages carrying them."""

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
