"""SharedBudget: one request budget for an API key across every process of the bot.

Each process keeps its own :class:`~bot.scheduler.budget.RequestBudget` (priorities,
pacing, what the gateway's headers say) and, before a request goes, also takes a place
in the key's window kept in the database, which all processes share: together they
never send more than the limit in a window. The window's length is the gateway's when
its ``X-RateLimit-Reset`` shows it (the longest time to a reset seen), else a minute. A
429 seen by one process pauses all of them until its ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from bot.scheduler.budget import RequestBudget
from bot.scheduler.grants import Grant, PollDemand, RequestKind
from bot.scheduler.headers import parse_rate_headers

# (key, limit=, window=, now=, learned=, window_known=) -> seconds to wait (0: a place)
Take = Callable[..., Awaitable[float]]
Pause = Callable[[str, float], Awaitable[None]]
WINDOW_SECONDS = 60.0
LONGEST_WAIT = 5.0  # look again at least this often (another process may free a place)
# The shared window is held a little longer than the gateway's, so that the time between
# taking a place and the request's arrival cannot put two windows' worth in one.
GUARD = 0.1


class SharedBudget:
    """The local budget, plus a place in the shared window for each request."""

    def __init__(
        self,
        local: RequestBudget,
        *,
        key: str,
        take: Take,
        pause: Pause,
        window: float = WINDOW_SECONDS,
    ) -> None:
        self.local = local
        self._key = key
        self._take = take
        self._pause = pause
        self._window = window
        self._seen_window = 0.0  # the longest time to a reset the gateway announced
        self._pause_until = 0.0  # a 429's pause not yet shared
        self._learned = False  # whether the gateway's headers told this process the limit

    @property
    def window(self) -> float:
        """The length of the shared window, in seconds."""
        return min(self._window, self._seen_window) if self._seen_window else self._window

    async def acquire(self, kind: RequestKind, *, final: bool = False) -> Grant:
        """Wait for the local budget, then for a place in the shared window."""
        if self._pause_until:
            until, self._pause_until = self._pause_until, 0.0
            await self._pause(self._key, until)
        grant = await self.local.acquire(kind, final=final)
        if grant.exempt:
            return grant
        try:
            await self._place()
        except BaseException:
            self.local.release(grant)
            raise
        return grant

    async def _place(self) -> None:
        """Wait for a place in the shared window (another process may free one)."""
        while True:
            window = self.window * (1 + GUARD)
            wait = await self._take(
                self._key,
                limit=self.local.limit,
                window=window,
                now=time.time(),
                learned=self._learned,
                window_known=bool(self._seen_window),
            )
            if not wait:
                return
            # Nothing in this process can signal a place freed by another: look again.
            await asyncio.sleep(min(max(wait, 0.01), LONGEST_WAIT))

    def observe(self, status: int | None, headers: Mapping[str, str], grant: Any = None) -> None:
        """Learn from an answer here; share a 429's pause with every process."""
        self.local.observe(status, headers, grant)
        info = parse_rate_headers(headers, time.time())
        opened = (
            info.limit is not None
            and info.remaining is not None
            and info.remaining >= info.limit - 1
        )
        if opened and info.reset_in is not None and 0 < info.reset_in <= self._window:
            # The first request of a gateway window: its time to the reset is the window.
            self._seen_window = max(self._seen_window, info.reset_in)
        if info.limit is not None:
            self._learned = True
        if status == 429:  # shared at the next acquire (observe cannot wait)
            retry = info.retry_after if info.retry_after is not None else self.window / 4
            self._pause_until = max(self._pause_until, time.time() + retry)

    def release(self, grant: Any) -> None:
        """Give back a grant that was not used (its shared place stays taken)."""
        self.local.release(grant)

    def set_poll_demand(self, demand: PollDemand) -> None:
        """Let the local budget ask the planner which polls are wanted."""
        self.local.set_poll_demand(demand)
