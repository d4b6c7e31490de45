"""A fake Discord (REST API v10 + websocket gateway) on 127.0.0.1 for lemonbot's tests.

One ``aiohttp.web`` server plays Discord well enough for an unmodified discord.py 2.x
client (``commands.Bot`` with app commands) to log in, sync its slash commands, receive
interactions over the gateway and answer them. It is also usable in-process: unit tests
build an interaction payload with :meth:`FakeDiscord.interaction_payload` (or a ready
``discord.Interaction`` with :meth:`FakeDiscord.build_interaction`) and the REST calls
made while answering it land here.

Pointing discord.py at the fake
-------------------------------
Two class attributes, set before the client starts (nothing in the bot changes)::

    discord.http.Route.BASE = fake.api_base                  # http://127.0.0.1:PORT/api/v10
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)

``Route.BASE`` also covers the interaction-callback and webhook routes (discord.py
builds them with the same ``Route``). For a child process, put
``tests/fakes/sitecustomize`` on ``PYTHONPATH`` and set
``LEMONBOT_FAKE_DISCORD_URL=http://127.0.0.1:PORT``: its ``sitecustomize.py`` does
the two assignments at interpreter start. The bot must log in with
:attr:`FakeDiscord.bot_token` (``"fake-bot-token"``); any other token gets 401 on
``GET /users/@me`` (discord.py turns that into ``LoginFailure``) and close code 4004 on
IDENTIFY.

Gateway (``ws://127.0.0.1:PORT/gateway``)
------------------------------------------
Plain-text JSON frames (also when the client asks for ``compress=zlib-stream``: discord.py
only decompresses binary frames). HELLO (op 10) -> HEARTBEAT (op 1) is ACKed (op 11) ->
IDENTIFY (op 2) gets ``READY`` (guild unavailable) then ``GUILD_CREATE`` (full guild:
two text channels, roles, members). RESUME (op 6) of a known session gets ``RESUMED``
(or op 9 when :attr:`FakeDiscord.allow_resume` is false). REQUEST_GUILD_MEMBERS (op 8)
gets one ``GUILD_MEMBERS_CHUNK``. Interactions are sent as ``INTERACTION_CREATE``.
``GET /gateway`` and ``GET /gateway/bot`` are served too (only ``AutoShardedClient``
calls the latter; a plain ``Client`` goes straight to ``DEFAULT_GATEWAY``).

REST routes (under ``/api/v10``)
--------------------------------
- ``GET /gateway``, ``GET /gateway/bot``
- ``GET /users/@me``, ``GET /users/{id}``, ``POST /users/@me/channels`` (create DM)
- ``GET /oauth2/applications/@me`` (and ``/applications/@me``)
- ``GET|PUT|POST /applications/{app}/commands``, ``GET|PATCH|DELETE .../commands/{id}``,
  the same under ``/applications/{app}/guilds/{guild}/commands``
- ``POST /interactions/{id}/{token}/callback`` (JSON or multipart; ``with_response``)
- ``POST /webhooks/{app}/{token}`` (followup, ``wait``),
  ``GET|PATCH|DELETE /webhooks/{app}/{token}/messages/{@original|id}``
- ``GET /channels/{id}``, ``GET|POST /channels/{id}/messages``,
  ``GET|PATCH|DELETE /channels/{id}/messages/{id}``, ``POST /channels/{id}/typing``
- ``GET /guilds/{id}``, ``GET /guilds/{id}/channels``, ``GET /guilds/{id}/roles``,
  ``GET /guilds/{id}/members/{user}``
- ``GET /attachments/{id}/{filename}`` (outside ``/api/v10``): the uploaded bytes.
- Anything else: 404 ``{"message": "404: Not Found", "code": 0}``, recorded in
  :attr:`FakeDiscord.unhandled`.

Every request is recorded in :attr:`FakeDiscord.requests` (:class:`RecordedRequest`:
method, path relative to ``/api/v10``, query, headers without ``Authorization``,
``authorized`` flag, JSON body or parsed ``payload_json``, uploaded files, status).
Responses carry ``Content-Type: application/json`` exactly (discord.py only parses
JSON when the header is exactly that). Messages are validated like Discord does it
in the common cases: empty message -> 400/50006, content over 2000 characters -> 400/50035,
a file over the size limit -> 413/40005, unknown reply target -> 400/50035.

Fault switches
--------------
- :meth:`FakeDiscord.expire_token` / :meth:`FakeDiscord.expire_all_tokens`: webhook
  requests with the token -> 401 ``{"code": 50027, "message": "Invalid Webhook Token"}``;
  the callback route -> 404 10062 Unknown interaction.
- :meth:`FakeDiscord.unknown_interaction`: webhook requests -> 404 10015 Unknown Webhook,
  callback -> 404 10062.
- :meth:`FakeDiscord.rate_limit_next`: 429 with ``Via``, ``Retry-After``,
  ``X-RateLimit-*`` and ``{"retry_after": ..., "global": false}``: discord.py retries
  it transparently after ``retry_after`` seconds.
- :meth:`FakeDiscord.forbid_channel`: channel message POST -> 403 50013 Missing Permissions
  (and ``app_permissions`` of interactions in that channel lose send/attach/embed).
- :meth:`FakeDiscord.delete_channel`: any route on the channel -> 404 10003 Unknown Channel.
- :meth:`FakeDiscord.block_dms`: messages to that user's DM channel -> 403 50007.
- :meth:`FakeDiscord.fail_next`: any status/code for the next ``count`` matching requests
  (avoid 5xx on purpose: discord.py retries those after sleeping 1 s, 3 s, ...).
- :meth:`FakeDiscord.drop_gateway`: close the websocket; discord.py resumes.

Synchronisation is condition based: :meth:`FakeDiscord.wait_for` re-evaluates a predicate
on every request, gateway event and state change, without fixed sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import mimetypes
import re
import secrets
import socket
import struct
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote

from aiohttp import BodyPartReader, WSMsgType, web

__all__ = [
    "ATTACH_FILES",
    "DEFAULT_ATTACHMENT_SIZE_LIMIT",
    "DEFAULT_BOT_TOKEN",
    "EMBED_LINKS",
    "MANAGE_MESSAGES",
    "SEND_MESSAGES",
    "FakeDiscord",
    "FakeInteraction",
    "FakeUser",
    "RecordedEdit",
    "RecordedRequest",
    "UploadedFile",
    "snowflake",
]

T = TypeVar("T")

DISCORD_EPOCH_MS = 1_420_070_400_000
API_PREFIX = "/api/v10"
DEFAULT_BOT_TOKEN = "fake-bot-token"
DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
DEFAULT_HEARTBEAT_INTERVAL_MS = 41_250

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
EVERYONE_PERMISSIONS = (
    ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
)
ALL_PERMISSIONS = (1 << 51) - 1

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15
_SETTABLE_FLAGS = (
    FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2
)

# Message types.
MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19
MESSAGE_CHAT_INPUT_COMMAND = 20

# Interaction callback types.
CB_PONG = 1
CB_CHANNEL_MESSAGE = 4
CB_DEFERRED_CHANNEL_MESSAGE = 5
CB_DEFERRED_UPDATE = 6
CB_UPDATE_MESSAGE = 7
CB_AUTOCOMPLETE_RESULT = 8
CB_MODAL = 9
_CALLBACK_TYPES = {1, 4, 5, 6, 7, 8, 9, 10, 12}

# Application command option types.
OPT_SUB_COMMAND = 1
OPT_SUB_COMMAND_GROUP = 2
OPT_STRING = 3
OPT_INTEGER = 4
OPT_BOOLEAN = 5
OPT_USER = 6
OPT_CHANNEL = 7
OPT_ROLE = 8
OPT_MENTIONABLE = 9
OPT_NUMBER = 10
OPT_ATTACHMENT = 11

_JOINED_AT = "2024-01-01T00:00:00.000000+00:00"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_last_snowflake = 0


def snowflake() -> int:
    """Return a new, strictly increasing 64-bit snowflake based on Discord's epoch."""
    global _last_snowflake
    now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    candidate = (now_ms << 22) | (1 << 17)  # worker 1, process 0, increment 0
    _last_snowflake = max(_last_snowflake + 1, candidate)
    return _last_snowflake


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # Built by hand: web.json_response appends "; charset=utf-8", and discord.py only
    # parses a body whose Content-Type is exactly "application/json".
    all_headers = {"Content-Type": "application/json"}
    if headers:
        all_headers.update(headers)
    return web.Response(status=status, body=json.dumps(data).encode(), headers=all_headers)


def _no_content() -> web.Response:
    return web.Response(status=204)


class ApiError(Exception):
    """An error answer of the fake API: ``{"message": ..., "code": ...}`` with a status."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        *,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers
        self.extra = extra

    def response(self) -> web.Response:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors is not None:
            body["errors"] = self.errors
        if self.extra:
            body.update(self.extra)
        return _json_response(body, self.status, self.headers)


def _form_error(field_name: str, code: str, message: str) -> ApiError:
    return ApiError(
        400,
        50035,
        "Invalid Form Body",
        errors={field_name: {"_errors": [{"code": code, "message": message}]}},
    )


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

    @property
    def payload(self) -> Any:
        """The JSON body, or the parsed ``payload_json`` part of a multipart body."""
        return self.json


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


@dataclass
class _Fault:
    method: str | None
    pattern: re.Pattern[str]
    remaining: int
    make: Callable[[], ApiError]

    def matches(self, method: str, path: str) -> bool:
        if self.method not in (None, "*") and self.method.upper() != method:
            return False
        return self.pattern.search(path) is not None


@dataclass
class _Session:
    id: str
    seq: int = 0
    shard: list[int] | None = None


@dataclass(eq=False)
class _Connection:
    ws: web.WebSocketResponse
    query: dict[str, str]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: _Session | None = None
    ready: bool = False


_Handler = Callable[[RecordedRequest, dict[str, str]], web.Response]


class FakeDiscord:
    """A fake Discord API + gateway; ``async with FakeDiscord() as fake: ...``."""

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        heartbeat_interval_ms: int = DEFAULT_HEARTBEAT_INTERVAL_MS,
        upload_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
    ) -> None:
        self.bot_token = bot_token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.upload_limit = upload_limit
        self.allow_resume = True

        self.bot_user = FakeUser(snowflake(), "lemonbot", bot=True)
        self.application_id = self.bot_user.id  # as for every modern Discord application
        self.guild_id = snowflake()
        self.guild_name = "Lemon Grove"
        self.everyone_role_id = self.guild_id
        self.mod_role_id = snowflake()
        self.bot_role_id = snowflake()
        self.channel_id = snowflake()
        self.channel2_id = snowflake()
        self.roles: dict[int, dict[str, Any]] = {
            self.everyone_role_id: self._role(
                self.everyone_role_id, "@everyone", 0, EVERYONE_PERMISSIONS
            ),
            self.mod_role_id: self._role(self.mod_role_id, "Moderator", 1, MANAGE_MESSAGES),
            self.bot_role_id: self._role(
                self.bot_role_id,
                "lemonbot",
                2,
                EVERYONE_PERMISSIONS | SEND_MESSAGES_IN_THREADS,
                managed=True,
            ),
        }
        self.owner = FakeUser(snowflake(), "owner")
        self.alice = FakeUser(snowflake(), "alice", global_name="Alice")
        self.bob = FakeUser(snowflake(), "bob", global_name="Bob")
        self.mod = FakeUser(snowflake(), "mod", roles=[self.mod_role_id], global_name="Mod")
        self.bot_user.roles = [self.bot_role_id]
        self.users: dict[int, FakeUser] = {
            u.id: u for u in (self.bot_user, self.owner, self.alice, self.bob, self.mod)
        }
        self.channels: dict[int, dict[str, Any]] = {
            self.channel_id: self._text_channel(self.channel_id, "general", 0),
            self.channel2_id: self._text_channel(self.channel2_id, "lemon-art", 1),
        }

        # Records and state.
        self.requests: list[RecordedRequest] = []
        self.unhandled: list[RecordedRequest] = []
        self.messages: dict[int, dict[str, Any]] = {}
        self.deleted_messages: dict[int, dict[str, Any]] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.command_syncs: list[tuple[int | None, list[str]]] = []
        self.dm_channels: dict[int, int] = {}  # user id -> DM channel id
        self.identify_payloads: list[dict[str, Any]] = []
        self.gateway_events: list[tuple[str, dict[str, Any]]] = []
        self.gateway_received: list[dict[str, Any]] = []
        self.connections = 0
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeats = 0

        self._channel_messages: dict[int, list[int]] = {}
        self._dm_recipient: dict[int, int] = {}  # DM channel id -> user id
        self._by_token: dict[str, FakeInteraction] = {}
        self._attachments: dict[int, UploadedFile] = {}
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._faults: list[_Fault] = []
        self._forbidden_channels: set[int] = set()
        self._deleted_channels: set[int] = set()
        self._blocked_dm_users: set[int] = set()
        self._sessions: dict[str, _Session] = {}
        self._open: set[_Connection] = set()
        self._active: _Connection | None = None
        self._changed_event = asyncio.Event()
        self._routes: list[tuple[str, re.Pattern[str], _Handler]] = []
        self._build_routes()

        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        """Bind 127.0.0.1 on a free port and start serving."""
        if self._runner is not None:
            return self
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway_handler)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._attachment_handler)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest_handler)
        app.router.add_route("*", "/{tail:.*}", self._outside_api_handler)
        runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            site = web.SockSite(runner, sock)
            await site.start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._port = sock.getsockname()[1]
        self._runner = runner
        return self

    async def stop(self) -> None:
        """Close every websocket (code 1001) and the server."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._active = None
        for conn in list(self._open):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"fake discord stopping")
        await runner.cleanup()
        self._changed()

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The TCP port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        """``http://127.0.0.1:PORT/api/v10``: the value for ``discord.http.Route.BASE``."""
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        """``ws://127.0.0.1:PORT/gateway``: the value for ``DiscordWebSocket.DEFAULT_GATEWAY``."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def env(self) -> dict[str, str]:
        """Environment for a child bot process (used with the sitecustomize folder)."""
        return {"LEMONBOT_FAKE_DISCORD_URL": self.base_url}

    # ------------------------------------------------------------------ waiting

    def _changed(self) -> None:
        event, self._changed_event = self._changed_event, asyncio.Event()
        event.set()

    async def wait_for(
        self, predicate: Callable[[], T], timeout: float = 10.0, *, what: str | None = None
    ) -> T:
        """Wait until ``predicate()`` is truthy and return its value.

        The predicate is re-evaluated after every request, gateway event and state
        change of the fake. Raises ``TimeoutError`` (with recent requests) on timeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = [f"{r.method} {r.path} -> {r.status}" for r in self.requests[-8:]]
                raise TimeoutError(
                    f"FakeDiscord.wait_for({what or getattr(predicate, '__name__', 'predicate')})"
                    f" timed out after {timeout}s; recent requests: {recent};"
                    f" unhandled: {[f'{r.method} {r.path}' for r in self.unhandled]}"
                )
            event = self._changed_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    @property
    def ready(self) -> bool:
        """Whether a gateway session is identified (or resumed) and got READY."""
        return self._active is not None and self._active.ready

    async def wait_ready(self, timeout: float = 10.0, *, commands: bool = True) -> None:
        """Wait until a client IDENTIFYed and got READY (and, by default, synced commands)."""
        await self.wait_for(
            lambda: self.ready and (not commands or bool(self.command_syncs)),
            timeout,
            what="ready" + (" and commands synced" if commands else ""),
        )

    async def wait_for_callback(
        self, interaction: FakeInteraction, timeout: float = 10.0
    ) -> tuple[int, Any]:
        """Wait for the interaction's callback; return ``(type, data)``."""
        await self.wait_for(lambda: interaction.callbacks, timeout, what="interaction callback")
        return interaction.callbacks[0]

    async def wait_for_edits(
        self, interaction: FakeInteraction, count: int = 1, timeout: float = 10.0
    ) -> list[RecordedEdit]:
        """Wait until ``@original`` was edited at least ``count`` times."""
        await self.wait_for(lambda: len(interaction.edits) >= count, timeout, what="edits")
        return interaction.edits

    async def wait_for_followups(
        self, interaction: FakeInteraction, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until at least ``count`` followups were posted."""
        await self.wait_for(
            lambda: len(interaction.followup_ids) >= count, timeout, what="followups"
        )
        return interaction.followups

    async def wait_for_message(
        self, channel_id: int, count: int = 1, timeout: float = 10.0
    ) -> list[dict[str, Any]]:
        """Wait until the channel holds at least ``count`` messages."""
        await self.wait_for(
            lambda: len(self.channel_messages(channel_id)) >= count, timeout, what="messages"
        )
        return self.channel_messages(channel_id)

    # ------------------------------------------------------------------ records

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Messages visible in a channel, oldest first (ephemeral ones are not listed)."""
        ids = self._channel_messages.get(channel_id, [])
        return [self.messages[i] for i in ids if i in self.messages]

    def dms(self, user_id: int | FakeUser) -> list[dict[str, Any]]:
        """Messages the bot sent to a user's DM channel."""
        uid = user_id.id if isinstance(user_id, FakeUser) else user_id
        channel_id = self.dm_channels.get(uid)
        return [] if channel_id is None else self.channel_messages(channel_id)

    def requests_to(self, method: str | None, path_regex: str) -> list[RecordedRequest]:
        """Recorded requests whose method and path (relative to /api/v10) match."""
        pattern = re.compile(path_regex)
        return [
            r
            for r in self.requests
            if (method in (None, "*") or r.method == method.upper()) and pattern.search(r.path)
        ]

    def clear_requests(self) -> None:
        """Forget recorded requests (and unhandled ones)."""
        self.requests.clear()
        self.unhandled.clear()

    def attachment_bytes(self, attachment: dict[str, Any] | int | str) -> bytes:
        """Bytes of a stored attachment (an attachment object or its id)."""
        aid = int(attachment["id"]) if isinstance(attachment, dict) else int(attachment)
        return self._attachments[aid].data

    def message_files(self, message: dict[str, Any]) -> list[UploadedFile]:
        """``(filename, bytes, content_type)`` of each attachment of a message."""
        return [
            UploadedFile(a["filename"], self.attachment_bytes(a), a.get("content_type"))
            for a in message.get("attachments", [])
        ]

    def original_files(self, interaction: FakeInteraction) -> list[UploadedFile]:
        """Files currently attached to the interaction's ``@original``."""
        original = interaction.original
        return [] if original is None else self.message_files(original)

    def get_interaction(self, interaction_id: int | str) -> FakeInteraction:
        """The :class:`FakeInteraction` with this id (e.g. of a payload's ``"id"``)."""
        return self.interactions[int(interaction_id)]

    @property
    def last_interaction(self) -> FakeInteraction | None:
        """The most recently issued interaction."""
        return next(reversed(self.interactions.values()), None)

    # ------------------------------------------------------------------ fault switches

    def expire_token(self, interaction: FakeInteraction) -> None:
        """Webhook requests with this token now get 401 50027 Invalid Webhook Token."""
        interaction.expired = True
        self._changed()

    def expire_all_tokens(self) -> None:
        """Expire the token of every interaction issued so far."""
        for interaction in self.interactions.values():
            interaction.expired = True
        self._changed()

    def unknown_interaction(self, interaction: FakeInteraction) -> None:
        """Webhook requests for this interaction now get 404 10015 Unknown Webhook."""
        interaction.unknown = True
        self._changed()

    def rate_limit_next(
        self,
        method: str | None,
        path_regex: str,
        count: int = 1,
        retry_after: float = 0.05,
        *,
        is_global: bool = False,
    ) -> None:
        """Answer the next ``count`` matching requests with a retryable 429.

        ``path_regex`` is searched in the path relative to ``/api/v10``
        (e.g. ``r"^/channels/\\d+/messages$"``); ``method`` None or ``"*"`` matches any.
        """

        def make() -> ApiError:
            return ApiError(
                429,
                0,
                "You are being rate limited.",
                headers={
                    "Via": "1.1 google",
                    "Retry-After": str(max(1, int(retry_after + 0.999))),
                    "X-RateLimit-Limit": "5",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                    "X-RateLimit-Scope": "global" if is_global else "user",
                    **({"X-RateLimit-Global": "true"} if is_global else {}),
                },
                extra={"retry_after": retry_after, "global": is_global},
            )

        self._faults.append(_Fault(method, re.compile(path_regex), count, make))

    def fail_next(
        self,
        method: str | None,
        path_regex: str,
        status: int,
        code: int = 0,
        count: int = 1,
        message: str | None = None,
    ) -> None:
        """Answer the next ``count`` matching requests with ``status`` and JSON ``code``.

        Matching as in :meth:`rate_limit_next`. Avoid 5xx unless the test can wait:
        discord.py retries those itself after sleeping 1 s, 3 s, ...
        """
        text = message or f"{status}: fake failure"
        self._faults.append(
            _Fault(method, re.compile(path_regex), count, lambda: ApiError(status, code, text))
        )

    def forbid_channel(self, channel_id: int) -> None:
        """Channel message POSTs there get 403 50013 Missing Permissions."""
        self._forbidden_channels.add(channel_id)
        self._changed()

    def allow_channel(self, channel_id: int) -> None:
        """Undo :meth:`forbid_channel`."""
        self._forbidden_channels.discard(channel_id)
        self._changed()

    def delete_channel(self, channel_id: int) -> None:
        """Requests on this channel get 404 10003 Unknown Channel."""
        self._deleted_channels.add(channel_id)
        self._changed()

    def block_dms(self, user: FakeUser | int) -> None:
        """Messages to the user's DM channel get 403 50007 Cannot send messages to this user."""
        self._blocked_dm_users.add(user.id if isinstance(user, FakeUser) else user)
        self._changed()

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

    def _text_channel(self, channel_id: int, name: str, position: int) -> dict[str, Any]:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(self.guild_id),
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

    def add_user(self, username: str, *, roles: Iterable[int] = ()) -> FakeUser:
        """Add a member to the guild (before the client connects, to be in GUILD_CREATE)."""
        user = FakeUser(snowflake(), username, roles=list(roles))
        self.users[user.id] = user
        return user

    def permissions_of(self, user: FakeUser, channel_id: int | None = None) -> int:
        """Guild-level permissions of a member (owner and administrators get everything)."""
        if user.id == self.owner.id:
            return ALL_PERMISSIONS
        perms = int(self.roles[self.everyone_role_id]["permissions"])
        for role_id in user.roles:
            role = self.roles.get(role_id)
            if role is not None:
                perms |= int(role["permissions"])
        if perms & ADMINISTRATOR:
            return ALL_PERMISSIONS
        return perms

    def app_permissions(self, channel_id: int | None = None) -> int:
        """The bot's permissions in a channel (reduced in forbidden channels)."""
        perms = self.permissions_of(self.bot_user)
        if channel_id is not None and channel_id in self._forbidden_channels:
            perms &= ~(SEND_MESSAGES | ATTACH_FILES | EMBED_LINKS)
        return perms

    def member_payload(self, user: FakeUser, *, with_user: bool = True) -> dict[str, Any]:
        """A guild member object."""
        data: dict[str, Any] = {
            "roles": [str(r) for r in user.roles],
            "nick": None,
            "avatar": None,
            "banner": None,
            "joined_at": _JOINED_AT,
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

    def guild_payload(self) -> dict[str, Any]:
        """The full guild object sent in GUILD_CREATE."""
        return {
            "id": str(self.guild_id),
            "name": self.guild_name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner.id),
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
            "preferred_locale": "en-US",
            "system_channel_id": str(self.channel_id),
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": [],
            "application_id": None,
            "max_members": 500000,
            "max_video_channel_users": 25,
            "roles": [copy.deepcopy(r) for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "joined_at": _JOINED_AT,
            "large": False,
            "unavailable": False,
            "member_count": len(self.users),
            "voice_states": [],
            "members": [self.member_payload(u) for u in self.users.values()],
            "channels": [
                copy.deepcopy(c)
                for cid, c in self.channels.items()
                if cid not in self._deleted_channels
            ],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

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

    # ------------------------------------------------------------------ interactions

    def _find_command(self, name: str) -> tuple[dict[str, Any] | None, int | None]:
        for cmd in self.guild_commands.get(self.guild_id, []):
            if cmd["name"] == name and cmd.get("type", 1) == 1:
                return cmd, self.guild_id
        for cmd in self.global_commands:
            if cmd["name"] == name and cmd.get("type", 1) == 1:
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
        attachment_size_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
        locale: str = "en-US",
        guild_locale: str = "en-US",
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
        cmd, cmd_guild = self._find_command(parts[0])
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

        interaction_id = snowflake()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": type,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": attachment_size_limit,
            "data": data,
        }
        if in_guild:
            cid = channel_id or self.channel_id
            channel = self._channel_object(cid) if cid in self.channels else None
            if channel is None:
                channel = self._text_channel(cid, f"channel-{cid}", 0)
            channel["permissions"] = str(self.permissions_of(user, cid))
            payload.update(
                {
                    "guild_id": str(self.guild_id),
                    "guild": {"id": str(self.guild_id), "locale": guild_locale, "features": []},
                    "guild_locale": guild_locale,
                    "channel_id": str(cid),
                    "channel": channel,
                    "member": {
                        **self.member_payload(user),
                        "permissions": str(self.permissions_of(user, cid)),
                    },
                    "app_permissions": str(
                        app_permissions
                        if app_permissions is not None
                        else self.app_permissions(cid)
                    ),
                    "authorizing_integration_owners": {"0": str(self.guild_id)},
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
            guild_id=self.guild_id if in_guild else None,
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
        elif isinstance(value, UploadedFile | tuple):
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
        elif opt_type in (OPT_ROLE, OPT_MENTIONABLE) and int(value) in self.roles:
            option["value"] = str(int(value))
            resolved.setdefault("roles", {})[str(int(value))] = copy.deepcopy(
                self.roles[int(value)]
            )
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
            upload = (
                UploadedFile(*value) if len(value) == 3 else UploadedFile(value[0], value[1], None)
            )
            attachment = self._store_attachment(upload, description=None)
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

    # ------------------------------------------------------------------ gateway

    async def _gateway_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = _Connection(ws=ws, query=dict(request.query))
        self._open.add(conn)
        self.connections += 1
        self._changed()
        try:
            await self._send(
                conn,
                {
                    "op": 10,
                    "s": None,
                    "t": None,
                    "d": {
                        "heartbeat_interval": self.heartbeat_interval_ms,
                        "_trace": ["fake-gateway"],
                    },
                },
            )
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_gateway_message(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
        finally:
            self._open.discard(conn)
            if self._active is conn:
                self._active = None
            self._changed()
        return ws

    async def _send(self, conn: _Connection, message: dict[str, Any]) -> None:
        async with conn.lock:
            await conn.ws.send_str(json.dumps(message))

    async def _send_dispatch(self, conn: _Connection, event: str, data: dict[str, Any]) -> None:
        assert conn.session is not None
        conn.session.seq += 1
        await self._send(conn, {"op": 0, "s": conn.session.seq, "t": event, "d": data})
        self.gateway_events.append((event, data))
        self._changed()

    async def _on_gateway_message(self, conn: _Connection, message: dict[str, Any]) -> None:
        op = message.get("op")
        data = message.get("d")
        if op == 1:
            self.heartbeats += 1
            await self._send(conn, {"op": 11, "s": None, "t": None, "d": None})
            return
        self.gateway_received.append(
            {"op": op, "d": {k: v for k, v in data.items() if k != "token"}}
            if isinstance(data, dict)
            else {"op": op, "d": data}
        )
        if op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op == 8:
            await self._request_members(conn, data or {})
        self._changed()

    async def _identify(self, conn: _Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self.bot_token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identify_count += 1
        self.identify_payloads.append(
            {
                k: copy.deepcopy(data.get(k))
                for k in (
                    "intents",
                    "properties",
                    "shard",
                    "presence",
                    "large_threshold",
                    "compress",
                )
                if k in data
            }
        )
        session = _Session(id=uuid.uuid4().hex, shard=data.get("shard"))
        self._sessions[session.id] = session
        conn.session = session
        ready: dict[str, Any] = {
            "v": 10,
            "user": self._ready_user_payload(),
            "user_settings": {},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "_trace": ["fake-gateway"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        await self._send_dispatch(conn, "READY", ready)
        await self._send_dispatch(conn, "GUILD_CREATE", self.guild_payload())
        conn.ready = True
        self._active = conn

    async def _resume(self, conn: _Connection, data: dict[str, Any]) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if data.get("token") != self.bot_token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if session is None or not self.allow_resume:
            await self._send(conn, {"op": 9, "s": None, "t": None, "d": False})
            return
        self.resume_count += 1
        conn.session = session
        await self._send_dispatch(conn, "RESUMED", {"_trace": ["fake-gateway"]})
        conn.ready = True
        self._active = conn

    async def _request_members(self, conn: _Connection, data: dict[str, Any]) -> None:
        if conn.session is None:
            return
        chunk: dict[str, Any] = {
            "guild_id": str(self.guild_id),
            "members": [self.member_payload(u) for u in self.users.values()],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(conn, "GUILD_MEMBERS_CHUNK", chunk)

    async def dispatch(self, event: str, data: dict[str, Any], *, timeout: float = 10.0) -> None:
        """Send a dispatch (op 0) to the connected client, waiting for one if needed."""
        await self.wait_for(lambda: self.ready, timeout, what="a connected client")
        assert self._active is not None
        await self._send_dispatch(self._active, event, data)

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close the active gateway websocket (the client reconnects and RESUMEs)."""
        conn, self._active = self._active, None
        self._changed()
        if conn is not None:
            await conn.ws.close(code=code, message=b"fake drop")

    # ------------------------------------------------------------------ REST plumbing

    async def _attachment_handler(self, request: web.Request) -> web.Response:
        upload = (
            self._attachments.get(int(request.match_info["attachment_id"]))
            if request.match_info["attachment_id"].isdigit()
            else None
        )
        if upload is None:
            return web.Response(status=404, text="not found")
        return web.Response(body=upload.data, headers={"Content-Type": self._guess_type(upload)})

    async def _outside_api_handler(self, request: web.Request) -> web.Response:
        rec = await self._record(request, request.path)
        rec.status = 404
        self.unhandled.append(rec)
        self._changed()
        return _json_response({"message": "404: Not Found", "code": 0}, 404)

    async def _record(self, request: web.Request, path: str) -> RecordedRequest:
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        rec = RecordedRequest(
            method=request.method,
            path=path,
            query=dict(request.query),
            headers=headers,
            authorized=request.headers.get("Authorization") == f"Bot {self.bot_token}",
        )
        content_type = request.content_type
        if content_type.startswith("multipart/"):
            rec.multipart = True
            reader = await request.multipart()
            indexed: list[tuple[int, UploadedFile]] = []
            position = 0
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):  # nested multipart: not Discord's
                    continue
                raw = await part.read(decode=False)
                part_name = part.name or ""
                filename = part.filename
                if part_name == "payload_json":
                    rec.json = json.loads(raw.decode() or "null")
                elif filename is not None or part_name.startswith("file"):
                    match = re.fullmatch(r"files\[(\d+)\]", part_name)
                    index = int(match.group(1)) if match else position
                    ctype = part.headers.get("Content-Type")
                    indexed.append((index, UploadedFile(filename or part_name, bytes(raw), ctype)))
                    position += 1
            indexed.sort(key=lambda item: item[0])
            rec.files = [f for _i, f in indexed]
            rec.file_indexes = [i for i, _f in indexed]
        else:
            body = await request.read()
            if body:
                try:
                    rec.json = json.loads(body)
                except ValueError:
                    rec.json = body.decode(errors="replace")
        self.requests.append(rec)
        return rec

    async def _rest_handler(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        rec = await self._record(request, path)
        try:
            response = self._respond(rec)
        except ApiError as error:
            response = error.response()
        rec.status = response.status
        self._changed()
        return response

    def _respond(self, rec: RecordedRequest) -> web.Response:
        for fault in self._faults:
            if fault.remaining > 0 and fault.matches(rec.method, rec.path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._faults.remove(fault)
                raise fault.make()
        for method, pattern, handler in self._routes:
            if method != rec.method:
                continue
            match = pattern.fullmatch(rec.path)
            if match is None:
                continue
            needs_auth = not rec.path.startswith(("/webhooks/", "/interactions/"))
            if needs_auth and not rec.authorized:
                raise ApiError(401, 0, "401: Unauthorized")
            return handler(rec, match.groupdict())
        self.unhandled.append(rec)
        return _json_response({"message": "404: Not Found", "code": 0}, 404)

    def _build_routes(self) -> None:
        snow = r"\d+"
        tok = r"[^/]+"
        app = rf"(?P<app>{snow})"
        gid = rf"(?P<gid>{snow})"
        cid = rf"(?P<cid>{snow})"
        mid = rf"(?P<mid>{snow})"
        wh = rf"/webhooks/{app}/(?P<token>{tok})"
        routes: list[tuple[str, str, _Handler]] = [
            ("GET", r"/gateway", self._get_gateway),
            ("GET", r"/gateway/bot", self._get_gateway_bot),
            ("GET", r"/users/@me", self._get_me),
            ("POST", r"/users/@me/channels", self._create_dm),
            ("GET", rf"/users/(?P<uid>{snow})", self._get_user),
            ("GET", r"/oauth2/applications/@me", self._get_application),
            ("GET", r"/applications/@me", self._get_application),
            ("GET", rf"/applications/{app}/commands", self._list_commands),
            ("PUT", rf"/applications/{app}/commands", self._put_commands),
            ("POST", rf"/applications/{app}/commands", self._post_command),
            ("GET", rf"/applications/{app}/commands/(?P<cmd>{snow})", self._get_command),
            ("PATCH", rf"/applications/{app}/commands/(?P<cmd>{snow})", self._patch_command),
            ("DELETE", rf"/applications/{app}/commands/(?P<cmd>{snow})", self._delete_command),
            ("GET", rf"/applications/{app}/guilds/{gid}/commands", self._list_commands),
            ("PUT", rf"/applications/{app}/guilds/{gid}/commands", self._put_commands),
            ("POST", rf"/applications/{app}/guilds/{gid}/commands", self._post_command),
            (
                "GET",
                rf"/applications/{app}/guilds/{gid}/commands/(?P<cmd>{snow})",
                self._get_command,
            ),
            (
                "PATCH",
                rf"/applications/{app}/guilds/{gid}/commands/(?P<cmd>{snow})",
                self._patch_command,
            ),
            (
                "DELETE",
                rf"/applications/{app}/guilds/{gid}/commands/(?P<cmd>{snow})",
                self._delete_command,
            ),
            ("POST", rf"/interactions/(?P<iid>{snow})/(?P<token>{tok})/callback", self._callback),
            ("POST", wh, self._execute_webhook),
            ("GET", wh + r"/messages/(?P<mid>@original|\d+)", self._get_webhook_message),
            ("PATCH", wh + r"/messages/(?P<mid>@original|\d+)", self._edit_webhook_message),
            ("DELETE", wh + r"/messages/(?P<mid>@original|\d+)", self._delete_webhook_message),
            ("GET", rf"/channels/{cid}", self._get_channel),
            ("GET", rf"/channels/{cid}/messages", self._list_channel_messages),
            ("POST", rf"/channels/{cid}/messages", self._post_channel_message),
            ("GET", rf"/channels/{cid}/messages/{mid}", self._get_channel_message),
            ("PATCH", rf"/channels/{cid}/messages/{mid}", self._edit_channel_message),
            ("DELETE", rf"/channels/{cid}/messages/{mid}", self._delete_channel_message),
            ("POST", rf"/channels/{cid}/typing", self._typing),
            ("GET", rf"/guilds/{gid}", self._get_guild),
            ("GET", rf"/guilds/{gid}/channels", self._get_guild_channels),
            ("GET", rf"/guilds/{gid}/roles", self._get_guild_roles),
            ("GET", rf"/guilds/{gid}/members/(?P<uid>{snow})", self._get_member),
        ]
        self._routes = [(m, re.compile(p), h) for m, p, h in routes]

    # ------------------------------------------------------------------ simple routes

    def _get_gateway(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return _json_response({"url": self.gateway_url})

    def _get_gateway_bot(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return _json_response(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    def _get_me(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return _json_response(self._ready_user_payload())

    def _get_user(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        user = self.users.get(int(m["uid"]))
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return _json_response(user.payload())

    def _get_application(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return _json_response(
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
            raise _form_error(
                "recipient_id", "BASE_TYPE_REQUIRED", "This field is required"
            ) from None
        channel_id = self._dm_channel_for(user_id)
        self._changed()
        return _json_response(self._dm_channel_payload(channel_id, user_id))

    def _dm_channel_for(self, user_id: int) -> int:
        channel_id = self.dm_channels.get(user_id)
        if channel_id is None:
            channel_id = snowflake()
            self.dm_channels[user_id] = channel_id
            self._dm_recipient[channel_id] = user_id
        return channel_id

    def _check_guild(self, m: dict[str, str]) -> None:
        if int(m["gid"]) != self.guild_id:
            raise ApiError(404, 10004, "Unknown Guild")

    def _get_guild(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        self._check_guild(m)
        guild = self.guild_payload()
        for key in ("members", "channels", "threads", "presences", "voice_states"):
            guild.pop(key, None)
        return _json_response(guild)

    def _get_guild_channels(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        self._check_guild(m)
        return _json_response(self.guild_payload()["channels"])

    def _get_guild_roles(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        self._check_guild(m)
        return _json_response([copy.deepcopy(r) for r in self.roles.values()])

    def _get_member(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        self._check_guild(m)
        user = self.users.get(int(m["uid"]))
        if user is None:
            raise ApiError(404, 10007, "Unknown Member")
        return _json_response(self.member_payload(user))

    # ------------------------------------------------------------------ commands

    def _command_scope(self, m: dict[str, str]) -> int | None:
        if int(m["app"]) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")
        if "gid" in m and m["gid"] is not None:
            if int(m["gid"]) != self.guild_id:
                raise ApiError(403, 50001, "Missing Access")
            return int(m["gid"])
        return None

    def _commands_of(self, scope: int | None) -> list[dict[str, Any]]:
        if scope is None:
            return self.global_commands
        return self.guild_commands.setdefault(scope, [])

    def _stored_command(self, scope: int | None, body: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("name"):
            raise _form_error("name", "BASE_TYPE_REQUIRED", "This field is required")
        cmd_type = int(body.get("type", 1))
        if cmd_type == 1 and not re.fullmatch(r"[-_\w]{1,32}", body["name"]):
            raise _form_error("name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
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
        return _json_response(copy.deepcopy(self._commands_of(self._command_scope(m))))

    def _put_commands(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        scope = self._command_scope(m)
        if not isinstance(rec.json, list):
            raise _form_error("_root", "LIST_TYPE_CONVERT", "Must be a list")
        names = [c.get("name") for c in rec.json]
        if len(set(names)) != len(names):
            raise _form_error("_root", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Duplicate name")
        commands = [self._stored_command(scope, c) for c in rec.json]
        if scope is None:
            self.global_commands = commands
        else:
            self.guild_commands[scope] = commands
        self.command_syncs.append((scope, [str(n) for n in names]))
        return _json_response(copy.deepcopy(commands))

    def _post_command(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        scope = self._command_scope(m)
        cmd = self._stored_command(scope, rec.json)
        commands = self._commands_of(scope)
        existing = [i for i, c in enumerate(commands) if c["id"] == cmd["id"]]
        if existing:
            commands[existing[0]] = cmd
        else:
            commands.append(cmd)
        return _json_response(copy.deepcopy(cmd), 200 if existing else 201)

    def _find_stored_command(self, m: dict[str, str]) -> tuple[list[dict[str, Any]], int]:
        commands = self._commands_of(self._command_scope(m))
        for index, cmd in enumerate(commands):
            if cmd["id"] == m["cmd"]:
                return commands, index
        raise ApiError(404, 10063, "Unknown application command")

    def _get_command(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        commands, index = self._find_stored_command(m)
        return _json_response(copy.deepcopy(commands[index]))

    def _patch_command(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        commands, index = self._find_stored_command(m)
        merged = {**commands[index], **(rec.json or {})}
        commands[index] = self._stored_command(self._command_scope(m), merged)
        return _json_response(copy.deepcopy(commands[index]))

    def _delete_command(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        commands, index = self._find_stored_command(m)
        del commands[index]
        return _no_content()

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
        url = f"{self.base_url}/attachments/{attachment_id}/{quote(upload.filename)}"
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
        if upload.data.startswith(_PNG_SIGNATURE) and len(upload.data) >= 24:
            width, height = struct.unpack(">II", upload.data[16:24])
            attachment["width"], attachment["height"] = width, height
        return attachment

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
        for upload in files:
            if len(upload.data) > size_limit:
                raise ApiError(413, 40005, "Request entity too large")
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
                    raise _form_error(
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
                    raise _form_error(
                        "attachments", "ATTACHMENT_NOT_FOUND", f"Unknown attachment id {ref}"
                    )
        for index, upload in zip(indexes, files, strict=True):
            if index not in used:
                result.append(self._store_attachment(upload, description=None, ephemeral=ephemeral))
        if len(result) > 10:
            raise _form_error(
                "attachments", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."
            )
        return result

    @staticmethod
    def _validate_content(message: dict[str, Any]) -> None:
        if len(message.get("content") or "") > 2000:
            raise _form_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
        if len(message.get("embeds") or []) > 10:
            raise _form_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
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
            "timestamp": _now_iso(),
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
            message["guild_id"] = str(self.guild_id)
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
        edited["edited_timestamp"] = _now_iso()
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

    # ------------------------------------------------------------------ interaction callback

    def _callback(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        interaction = self.interactions.get(int(m["iid"]))
        if (
            interaction is None
            or interaction.token != m["token"]
            or interaction.unknown
            or interaction.expired
        ):
            raise ApiError(404, 10062, "Unknown interaction")
        body = rec.json if isinstance(rec.json, dict) else {}
        cb_type = body.get("type")
        if cb_type not in _CALLBACK_TYPES:
            raise _form_error(
                "type", "BASE_TYPE_CHOICES", f"Value must be one of {sorted(_CALLBACK_TYPES)}."
            )
        if interaction.callbacks:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if interaction.type == 4 and cb_type != CB_AUTOCOMPLETE_RESULT:
            raise ApiError(400, 50035, "Invalid Form Body: autocomplete needs type 8")
        if interaction.type != 4 and cb_type == CB_AUTOCOMPLETE_RESULT:
            raise ApiError(400, 50035, "Invalid Form Body: type 8 is for autocomplete only")
        data = body.get("data")
        data_dict: dict[str, Any] = data if isinstance(data, dict) else {}
        message: dict[str, Any] | None = None
        if cb_type == CB_CHANNEL_MESSAGE:
            flags = int(data_dict.get("flags") or 0) & _SETTABLE_FLAGS
            message = self._create_message(
                rec,
                data_dict,
                channel_id=interaction.channel_id,
                msg_type=MESSAGE_CHAT_INPUT_COMMAND,
                flags=flags,
                interaction=interaction,
                size_limit=interaction.attachment_size_limit,
            )
            interaction.original_id = int(message["id"])
        elif cb_type == CB_DEFERRED_CHANNEL_MESSAGE:
            flags = (int(data_dict.get("flags") or 0) & FLAG_EPHEMERAL) | FLAG_LOADING
            message = self._create_message(
                rec,
                {},
                channel_id=interaction.channel_id,
                msg_type=MESSAGE_CHAT_INPUT_COMMAND,
                flags=flags,
                interaction=interaction,
            )
            interaction.original_id = int(message["id"])
        elif cb_type == CB_AUTOCOMPLETE_RESULT:
            choices = data_dict.get("choices")
            if not isinstance(choices, list) or len(choices) > 25:
                raise _form_error(
                    "data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            interaction.choices = copy.deepcopy(choices)
        elif cb_type == CB_MODAL:
            interaction.modal = copy.deepcopy(data_dict)
        elif cb_type == CB_UPDATE_MESSAGE:
            target_id = int(interaction.payload.get("message", {}).get("id", 0) or 0)
            target = self.messages.get(target_id)
            if target is not None:
                message = self._edit_message(rec, target, payload=data_dict)
        interaction.callbacks.append((cb_type, copy.deepcopy(data)))
        self._changed()

        with_response = rec.query.get("with_response", "").lower() in ("1", "true")
        if not with_response or cb_type in (CB_PONG, CB_AUTOCOMPLETE_RESULT):
            return _no_content()
        answer: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_loading": cb_type == CB_DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(message and message["flags"] & FLAG_EPHEMERAL),
            }
        }
        if message is not None:
            answer["interaction"]["response_message_id"] = message["id"]
            answer["resource"] = {"type": cb_type, "message": self._out(message)}
        return _json_response(answer)

    # ------------------------------------------------------------------ interaction webhooks

    def _webhook_interaction(self, m: dict[str, str]) -> FakeInteraction:
        if int(m["app"]) != self.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        interaction = self._by_token.get(m["token"])
        if interaction is None or interaction.expired:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if interaction.unknown:
            raise ApiError(404, 10015, "Unknown Webhook")
        return interaction

    def _webhook_message(self, interaction: FakeInteraction, mid: str) -> dict[str, Any]:
        if mid == "@original":
            message_id = interaction.original_id
        else:
            message_id = int(mid)
            if message_id != interaction.original_id and message_id not in interaction.followup_ids:
                message_id = None
        message = self.messages.get(message_id) if message_id is not None else None
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def _execute_webhook(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        interaction = self._webhook_interaction(m)
        if not interaction.callbacks:
            raise ApiError(404, 10015, "Unknown Webhook")
        payload = rec.json if isinstance(rec.json, dict) else {}
        flags = int(payload.get("flags") or 0) & _SETTABLE_FLAGS
        message = self._create_message(
            rec,
            payload,
            channel_id=interaction.channel_id,
            msg_type=MESSAGE_DEFAULT,
            flags=flags,
            interaction=interaction,
            size_limit=interaction.attachment_size_limit,
        )
        interaction.followup_ids.append(int(message["id"]))
        self._changed()
        if rec.query.get("wait", "").lower() in ("1", "true"):
            return _json_response(self._out(message))
        return _no_content()

    def _get_webhook_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        interaction = self._webhook_interaction(m)
        return _json_response(self._out(self._webhook_message(interaction, m["mid"])))

    def _edit_webhook_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        interaction = self._webhook_interaction(m)
        message = self._webhook_message(interaction, m["mid"])
        self._edit_message(rec, message, size_limit=interaction.attachment_size_limit)
        edit = RecordedEdit(
            message_id=int(message["id"]),
            payload=copy.deepcopy(rec.json) if isinstance(rec.json, dict) else {},
            files=list(rec.files),
        )
        if int(message["id"]) == interaction.original_id:
            interaction.edits.append(edit)
        else:
            interaction.followup_edits.append(edit)
        self._changed()
        return _json_response(self._out(message))

    def _delete_webhook_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        interaction = self._webhook_interaction(m)
        message = self._webhook_message(interaction, m["mid"])
        if int(message["id"]) == interaction.original_id:
            interaction.original_deleted = True
        self._delete_message(int(message["id"]))
        self._changed()
        return _no_content()

    # ------------------------------------------------------------------ channels

    def _get_channel(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        return _json_response(self._channel_object(int(m["cid"])))

    def _list_channel_messages(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        channel_id = int(m["cid"])
        self._channel_object(channel_id)
        limit = max(1, min(100, int(rec.query.get("limit", "50"))))
        newest_first = list(reversed(self.channel_messages(channel_id)))[:limit]
        return _json_response([self._out(msg) for msg in newest_first])

    def _post_channel_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        channel_id = int(m["cid"])
        self._channel_object(channel_id)
        if channel_id in self._forbidden_channels:
            raise ApiError(403, 50013, "Missing Permissions")
        recipient = self._dm_recipient.get(channel_id)
        if recipient is not None and recipient in self._blocked_dm_users:
            raise ApiError(403, 50007, "Cannot send messages to this user")
        payload = rec.json if isinstance(rec.json, dict) else {}
        reference = payload.get("message_reference")
        referenced: dict[str, Any] | None = None
        if reference:
            ref_id = int(reference.get("message_id") or 0)
            referenced = self.messages.get(ref_id)
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise _form_error(
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
        self._changed()
        return _json_response(self._out(message))

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
        return _json_response(self._out(self._channel_message(m)))

    def _edit_channel_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        message = self._channel_message(m)
        if int(message["author"]["id"]) != self.bot_user.id:
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._edit_message(rec, message)
        self._changed()
        return _json_response(self._out(message))

    def _delete_channel_message(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        message = self._channel_message(m)
        self._delete_message(int(message["id"]))
        self._changed()
        return _no_content()

    def _typing(self, rec: RecordedRequest, m: dict[str, str]) -> web.Response:
        self._channel_object(int(m["cid"]))
        return _no_content()
