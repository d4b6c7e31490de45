"""The state every part of the fake shares (guild model, records, URLs)."""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.fake_discord.constants import (
    API_PREFIX,
    DEFAULT_ATTACHMENT_SIZE_LIMIT,
    DEFAULT_BOT_TOKEN,
    DEFAULT_HEARTBEAT_INTERVAL_MS,
    EVERYONE_PERMISSIONS,
    MANAGE_MESSAGES,
    SEND_MESSAGES_IN_THREADS,
    snowflake,
)
from tests.fakes.fake_discord.records import (
    FakeGuild,
    FakeInteraction,
    FakeUser,
    RecordedRequest,
    UploadedFile,
    Violation,
)

if TYPE_CHECKING:
    from tests.fakes.fake_discord.faults import Fault
    from tests.fakes.fake_discord.gateway import Connection, Session, ShardIdentify
    from tests.fakes.fake_discord.rest import Handler


class FakeState:
    """The fake's data; the mixins of :class:`FakeDiscord` work on it."""

    def __init__(
        self,
        *,
        bot_token: str = DEFAULT_BOT_TOKEN,
        heartbeat_interval_ms: int = DEFAULT_HEARTBEAT_INTERVAL_MS,
        upload_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
        dm_upload_limit: int = DEFAULT_ATTACHMENT_SIZE_LIMIT,
        validate_spec: bool = True,
        shards: int = 1,
    ) -> None:
        self.bot_token = bot_token
        # Accepted tokens -> the label requests and IDENTIFYs are recorded with.
        self.bot_tokens: dict[str, str] = {bot_token: "bot"}
        # What GET /gateway/bot recommends as "shards".
        self.recommended_shards = shards
        self.heartbeat_interval_ms = heartbeat_interval_ms
        # Per-file upload limits: guild channels (also the interactions'
        # attachment_size_limit) and DM channels.
        self.upload_limit = upload_limit
        self.dm_upload_limit = dm_upload_limit
        # Validate every JSON body against Discord's OpenAPI spec (spec.py).
        self.validate_spec = validate_spec
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
        # Every guild by id; the default one shares the attributes above (roles, ...).
        self.guilds: dict[int, FakeGuild] = {
            self.guild_id: FakeGuild(
                id=self.guild_id,
                name=self.guild_name,
                owner_id=self.owner.id,
                roles=self.roles,
                channel_ids=[self.channel_id, self.channel2_id],
                member_ids=list(self.users),
            )
        }

        # Records and state.
        self.requests: list[RecordedRequest] = []
        # Requests Discord would refuse: over a limit, or against its OpenAPI spec.
        self.limit_violations: list[Violation] = []
        self.spec_violations: list[Violation] = []
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
        # (channel id, nonce) -> (message id, monotonic time it was created)
        self._nonces: dict[tuple[int, str], tuple[int, float]] = {}
        self._dm_recipient: dict[int, int] = {}  # DM channel id -> user id
        self._by_token: dict[str, FakeInteraction] = {}
        self._attachments: dict[int, UploadedFile] = {}
        self._cdn_secret = secrets.token_bytes(16)
        self.cdn_fetches: list[tuple[int, bool]] = []  # (attachment id, signature valid)
        self.cdn_gate: asyncio.Event | None = None  # set: the CDN answers only once it is set
        # (attachment id, whether the client read the whole body) per signed fetch
        self.cdn_transfers: list[tuple[int, bool]] = []
        self._command_ids: dict[tuple[int | None, str, int], int] = {}
        self._faults: list[Fault] = []
        self._stalls: list[Any] = []  # faults.Stall
        self._forbidden_channels: set[int] = set()
        self._deleted_channels: set[int] = set()
        self._blocked_dm_users: set[int] = set()
        self._sessions: dict[str, Session] = {}
        self._open: set[Connection] = set()
        self._ready: dict[int, Connection] = {}  # shard id -> its ready connection
        self.shard_identifies: list[ShardIdentify] = []
        self._changed_event = asyncio.Event()
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._build_routes()

        # OAuth2 (oauth.py): the application's secret, the redirect URIs registered in
        # the portal, who is signed in to the fake in the browser (the authorize page
        # asks them), or who is approved at once without a page.
        self.oauth_client_secret = "fake-client-secret"
        self.oauth_redirect_uris: set[str] = set()
        self.oauth_user: FakeUser = self.alice
        self.oauth_auto_approve: FakeUser | None = None
        self.oauth_codes: dict[str, Any] = {}  # code -> oauth.OAuthCode
        self.oauth_tokens: dict[str, int] = {}  # bearer token -> user id
        self.oauth_authorize_requests: list[dict[str, str]] = []
        self.oauth_token_requests: list[dict[str, str]] = []

        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------ waiting

    def _changed(self) -> None:
        event, self._changed_event = self._changed_event, asyncio.Event()
        event.set()

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
