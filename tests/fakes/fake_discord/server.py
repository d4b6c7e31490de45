""":class:`FakeDiscord`: start/stop, waiting, and the observation API."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from tests.fakes.fake_discord.attachments import Attachments
from tests.fakes.fake_discord.constants import API_PREFIX
from tests.fakes.fake_discord.faults import Faults
from tests.fakes.fake_discord.gateway import Gateway
from tests.fakes.fake_discord.interaction_kinds import InteractionKinds
from tests.fakes.fake_discord.interactions import Interactions
from tests.fakes.fake_discord.oauth import OAuth
from tests.fakes.fake_discord.payloads import Payloads
from tests.fakes.fake_discord.records import (
    FakeInteraction,
    FakeUser,
    RecordedEdit,
    RecordedRequest,
    UploadedFile,
    Violation,
)
from tests.fakes.fake_discord.rest import Rest
from tests.fakes.fake_discord.routes.guilds import GuildRoutes
from tests.fakes.fake_discord.routes.interactions import InteractionRoutes
from tests.fakes.fake_discord.routes.messages import MessageRoutes
from tests.fakes.fake_discord.routes.users import UserRoutes
from tests.fakes.fake_discord.state import FakeState

T = TypeVar("T")


class FakeDiscord(
    Faults,
    Payloads,
    Interactions,
    InteractionKinds,
    Gateway,
    Rest,
    UserRoutes,
    GuildRoutes,
    MessageRoutes,
    Attachments,
    InteractionRoutes,
    OAuth,
    FakeState,
):
    """A fake Discord API + gateway; ``async with FakeDiscord() as fake: ...``."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        """Bind 127.0.0.1 on a free port and start serving."""
        if self._runner is not None:
            return self
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway_handler)
        app.router.add_get("/attachments/{attachment_id}/{filename}", self._attachment_handler)
        self._add_oauth_routes(app)
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
        self._ready.clear()
        for conn in list(self._open):
            with contextlib.suppress(Exception):
                await conn.ws.close(code=1001, message=b"fake discord stopping")
        await runner.cleanup()
        self._changed()

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, exc_type: object, *exc_info: object) -> None:
        await self.stop()
        if exc_type is None:
            self.check_violations()

    # ------------------------------------------------------------------ violations

    @property
    def violations(self) -> list[Violation]:
        """Every request Discord would have refused (limits, then spec), in order."""
        return [*self.limit_violations, *self.spec_violations]

    def take_violations(self) -> list[Violation]:
        """Return and forget the recorded violations (for tests that provoke them)."""
        taken = self.violations
        self.limit_violations.clear()
        self.spec_violations.clear()
        return taken

    def check_violations(self) -> None:
        """Raise ``AssertionError`` listing every request Discord would have refused.

        ``async with FakeDiscord()`` calls it on a clean exit, so a test (or fixture)
        whose bot overflowed a limit or broke the OpenAPI spec fails.
        """
        if self.violations:
            lines = "\n".join(f"  {v}\n    payload: {v.payload!r}"[:2000] for v in self.violations)
            raise AssertionError(
                f"the bot sent {len(self.violations)} request(s) Discord would refuse:\n{lines}"
            )

    def env(self) -> dict[str, str]:
        """Environment for a child bot process (used with the sitecustomize folder)."""
        return {"LEMONBOT_FAKE_DISCORD_URL": self.base_url}

    # ------------------------------------------------------------------ waiting

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

    def accept_token(self, token: str, label: str) -> None:
        """Accept another bot token (e.g. one per process); its requests and IDENTIFYs
        are recorded with ``label`` (:attr:`RecordedRequest.bot`, ``shard_identifies``)."""
        self.bot_tokens[token] = label

    @property
    def ready(self) -> bool:
        """Whether a gateway session is identified (or resumed) and got READY."""
        return any(conn.ready for conn in self._ready.values())

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
