"""What the fake records: requests, uploads, users, interactions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from tests.fakes.fake_discord.constants import DEFAULT_ATTACHMENT_SIZE_LIMIT, FLAG_EPHEMERAL

if TYPE_CHECKING:
    from tests.fakes.fake_discord.server import FakeDiscord


class UploadedFile(NamedTuple):
    """One file of a multipart upload: ``(filename, data, content_type)``."""

    filename: str
    data: bytes
    content_type: str | None


@dataclass
class RecordedRequest:
    """One REST request the fake received (the bot token itself is never kept)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    authorized: bool
    json: Any = None
    files: list[UploadedFile] = field(default_factory=list)
    multipart: bool = False
    status: int | None = None
    file_indexes: list[int] = field(default_factory=list, repr=False)
    bot: str | None = None  # label of the bot token used (see FakeDiscord.accept_token)
    peer: str | None = None  # the client's "host:port"

    @property
    def payload(self) -> Any:
        """The JSON body, or the parsed ``payload_json`` part of a multipart body."""
        return self.json


@dataclass
class Violation:
    """A request Discord would refuse: what was sent and what the fake answered."""

    kind: str  # "limit" or "spec"
    method: str
    path: str
    payload: Any
    status: int
    errors: Any

    def __str__(self) -> str:
        return f"{self.kind}: {self.method} {self.path} -> {self.status} {self.errors}"


@dataclass
class RecordedEdit:
    """One PATCH of an interaction message: its payload and uploaded files."""

    message_id: int
    payload: dict[str, Any]
    files: list[UploadedFile]


@dataclass
class FakeUser:
    """A user (and guild member) of the fake guild."""

    id: int
    username: str
    roles: list[int] = field(default_factory=list)
    global_name: str | None = None
    bot: bool = False
    locale: str = "en-US"  # the client's language, sent as an interaction's locale

    @property
    def mention(self) -> str:
        """``<@id>``."""
        return f"<@{self.id}>"

    def payload(self) -> dict[str, Any]:
        """The user object Discord sends."""
        data: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.global_name,
            "avatar": None,
            "public_flags": 0,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass
class FakeGuild:
    """A guild of the fake: its roles (the @everyone role's id is the guild's), channels
    and members."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, dict[str, Any]]
    channel_ids: list[int]
    member_ids: list[int]
    locale: str = "en-US"

    @property
    def everyone_role_id(self) -> int:
        """The @everyone role (same id as the guild)."""
        return self.id


@dataclass
class FakeInteraction:
    """An interaction the fake issued, and everything the bot did with it."""

    id: int
    token: str
    type: int
    name: str
    user: FakeUser
    channel_id: int
    guild_id: int | None
    payload: dict[str, Any]
    created_at: datetime
    callbacks: list[tuple[int, Any]] = field(default_factory=list)
    original_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    edits: list[RecordedEdit] = field(default_factory=list)
    followup_edits: list[RecordedEdit] = field(default_factory=list)
    choices: list[dict[str, Any]] | None = None
    modal: dict[str, Any] | None = None
    original_deleted: bool = False
    expired: bool = False
    unknown: bool = False
    attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT
    _fake: FakeDiscord | None = field(default=None, repr=False, compare=False)

    @property
    def original(self) -> dict[str, Any] | None:
        """The current ``@original`` message object (after edits), or None."""
        if self.original_id is None or self._fake is None:
            return None
        return self._fake.messages.get(self.original_id)

    @property
    def followups(self) -> list[dict[str, Any]]:
        """The followup messages (current state; deleted ones are left out)."""
        if self._fake is None:
            return []
        return [self._fake.messages[i] for i in self.followup_ids if i in self._fake.messages]

    @property
    def ephemeral(self) -> bool:
        """Whether the initial response was ephemeral."""
        original = self.original
        if original is not None:
            return bool(original["flags"] & FLAG_EPHEMERAL)
        for _type, data in self.callbacks:
            if isinstance(data, dict):
                return bool(int(data.get("flags") or 0) & FLAG_EPHEMERAL)
        return False

    @property
    def responded(self) -> bool:
        """Whether the interaction got its callback."""
        return bool(self.callbacks)
