"""Fault switches: expired tokens, rate limits, forced errors, lost channels."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from tests.fakes.fake_discord.errors import ApiError
from tests.fakes.fake_discord.records import FakeInteraction, FakeUser
from tests.fakes.fake_discord.state import FakeState


@dataclass
class Fault:
    method: str | None
    pattern: re.Pattern[str]
    remaining: int
    make: Callable[[], ApiError]

    def matches(self, method: str, path: str) -> bool:
        if self.method not in (None, "*") and self.method.upper() != method:
            return False
        return self.pattern.search(path) is not None


@dataclass
class Stall:
    """A request that is held unanswered, or answered by a dropped connection."""

    method: str | None
    pattern: re.Pattern[str]
    applied: bool  # the request takes effect before the stall (Discord did it, we never heard)
    drop: bool  # close the connection instead of holding the request
    release: asyncio.Event
    seen: asyncio.Event

    def matches(self, method: str, path: str) -> bool:
        return Fault(self.method, self.pattern, 1, lambda: ApiError(0, 0, "")).matches(method, path)


class Faults(FakeState):
    """Switches that make the fake answer like a failing Discord."""

    def hold_next(self, method: str | None, path_regex: str, *, applied: bool = False) -> Stall:
        """Hold the next matching request without answering until ``stall.release`` is set.

        With ``applied`` the request takes effect first (a message is created) and only
        the answer is held, as when Discord did the work but the answer never arrived.
        ``stall.seen`` is set when the request arrives. Matching as in :meth:`fail_next`.
        """
        stall = Stall(
            method, re.compile(path_regex), applied, False, asyncio.Event(), asyncio.Event()
        )
        self._stalls.append(stall)
        return stall

    def drop_next(self, method: str | None, path_regex: str) -> Stall:
        """Apply the next matching request, then close the connection without answering."""
        stall = Stall(method, re.compile(path_regex), True, True, asyncio.Event(), asyncio.Event())
        self._stalls.append(stall)
        return stall

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

        self._faults.append(Fault(method, re.compile(path_regex), count, make))

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
            Fault(method, re.compile(path_regex), count, lambda: ApiError(status, code, text))
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
