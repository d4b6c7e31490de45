"""SharedBudget: one request budget for an API key across every process of the bot.

Each process keeps its own :class:`~bot.scheduler.budget.RequestBudget` (priorities,
pacing, what the gateway's headers say) and, before a request goes, also takes a place
in the key's log kept in the database (:class:`~bot.store.budget.BudgetStore`), which
all processes share, so that no delay between the place and the request's arrival at
the gateway (a busy machine, a slow connection) can put more than the limit into one of
the gateway's windows: the gateway's own Remaining until its Reset bounds the places
while it sends them, and otherwise a place counts until a window after its answer.

The limit and window are those the gateway announced last, as a pair: the first answer
of a gateway window (``X-RateLimit-Remaining`` one below ``X-RateLimit-Limit``) shows
the limit and, from its ``X-RateLimit-Reset``, the window (the reset less the moment the
place was taken: at least the window, however long the answer took). The newest pair in
any process is written to the row with its answer and read by every other process at
theirs, so all follow a longer or a shorter window, and a larger or smaller limit,
within one window of its announcement. Before any pair is known the configured
``LEMONDATA_RPM`` a minute holds (a limit seen without its window is shared until then).
Every answer's Remaining and Reset are written to the row: until that reset, no more go
than the gateway said were left; after it, one request's answer tells the next window's
figures before the others go. A 429 seen by one process pauses all of them
until its ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bot.lemondata.urls import RequestKind
from bot.scheduler.budget import RequestBudget
from bot.scheduler.grants import Grant, PollDemand
from bot.scheduler.headers import RateHeaders, parse_rate_headers
from bot.store.budget import LONGEST_WAIT, Announcement, Place

log = logging.getLogger(__name__)

WINDOW_SECONDS = 60.0
# How long a request without an answer may still be on its way: its client's timeout
# (bot.lemondata.client: 180 s for creates, 30 s otherwise) and its connect timeout.
LOST_AFTER: dict[RequestKind, float] = {"create": 190.0, "poll": 40.0, "models": 40.0}
LOST_AFTER_DEFAULT = 70.0  # downloads (60 s), when they are counted
# A window announced longer than this is taken as a misread header.
LONGEST_WINDOW = 3600.0


class PlaceStore(Protocol):
    """Where the places are kept (:class:`bot.store.budget.BudgetStore`)."""

    async def take(
        self,
        key: str,
        *,
        announced: Announcement,
        now: float,
        lost_after: float,
        limit_only: int | None = None,
    ) -> Place:
        """Take a place, or say how long to wait."""
        ...

    async def answered(
        self,
        key: str,
        entry: int,
        *,
        at: float,
        remaining: int | None = None,
        reset: float | None = None,
        announced: Announcement | None = None,
    ) -> None:
        """Record an answer, what the gateway said was left and a pair it announced."""
        ...

    async def pause(self, key: str, until: float) -> None:
        """Pause every process until ``until``."""
        ...


class SharedBudget:
    """The local budget, plus a place in the shared log for each request."""

    def __init__(
        self,
        local: RequestBudget,
        *,
        key: str,
        places: PlaceStore,
        window: float = WINDOW_SECONDS,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.local = local
        self._key = key
        self._places = places
        self._wall = wall
        self._announced = Announcement(local.limit, window)  # the configured pair (at 0)
        self._limit_only: int | None = None  # a limit seen before any window
        self._pause_until = 0.0  # a 429's pause not yet shared
        # Requests sent: grant seq -> (log entry, wall time the place was taken).
        self._placed: dict[int, tuple[int, float]] = {}
        self._writes: set[asyncio.Task[None]] = set()

    @property
    def window(self) -> float:
        """The length of the shared window, in seconds."""
        return self._announced.window

    @property
    def limit(self) -> int:
        """The requests per window every process holds to."""
        return self._announced.limit

    def spare(self) -> bool:
        """Whether a request nobody waits for may go now (this process's view)."""
        return self.local.spare()

    async def acquire(self, kind: RequestKind, *, final: bool = False) -> Grant:
        """Wait for the local budget, then for a place in the shared log."""
        if self._pause_until:
            until, self._pause_until = self._pause_until, 0.0
            await self._places.pause(self._key, until)
        grant = await self.local.acquire(kind, final=final)
        if grant.exempt:
            return grant
        try:
            self._placed[grant.seq] = await self._place(kind)
        except BaseException:
            self.local.release(grant)
            raise
        return grant

    async def _place(self, kind: RequestKind) -> tuple[int, float]:
        """Wait for a place in the shared log (another process may free one)."""
        while True:
            now = self._wall()
            place = await self._places.take(
                self._key,
                announced=self._announced,
                now=now,
                lost_after=LOST_AFTER.get(kind, LOST_AFTER_DEFAULT),
                limit_only=self._limit_only,
            )
            self._adopt(place.announced)
            if place.entry is not None:
                return place.entry, now
            # Nothing in this process can signal a place freed by another: look again.
            await asyncio.sleep(min(max(place.wait, 0.01), LONGEST_WAIT))

    def _adopt(self, pair: Announcement) -> None:
        """Follow a newer pair another process announced (the local budget too).

        Before any pair was announced (``at`` 0) the row's limit is a limit seen alone.
        """
        newer = pair.at > self._announced.at
        if newer or (pair.at == self._announced.at == 0 and pair != self._announced):
            self._announced = pair
            self.local.follow(pair.limit, pair.window)

    def observe(self, status: int | None, headers: Mapping[str, str], grant: Any = None) -> None:
        """Learn from an answer here; record it in the log; share a 429's pause."""
        self.local.observe(status, headers, grant)
        now = self._wall()
        info = parse_rate_headers(headers, now)
        placed = self._placed.pop(grant.seq, None) if isinstance(grant, Grant) else None
        if placed is not None:
            entry, taken = placed
            pair = self._learn(status, info, now, taken)
            known = info.remaining is not None and info.reset_in is not None and status != 429
            self._write(
                self._places.answered(
                    self._key,
                    entry,
                    at=now,
                    remaining=info.remaining if known else None,
                    reset=now + info.reset_in if known and info.reset_in is not None else None,
                    announced=pair,
                )
            )
        if status == 429:  # shared at the next acquire (observe cannot wait)
            retry = info.retry_after if info.retry_after is not None else self.window / 4
            self._pause_until = max(self._pause_until, now + retry)

    def _learn(
        self, status: int | None, info: RateHeaders, now: float, taken: float
    ) -> Announcement | None:
        """Take a new pair from the first answer of a gateway window; return it."""
        if info.limit is None or status is None or status == 429:
            return None
        opened = info.remaining is not None and info.remaining >= info.limit - 1
        if opened and info.reset_in is not None:
            # The window began when this request arrived, after its place was taken, and
            # ends by the reset: the reset less that moment is at least the window.
            window = now + info.reset_in - taken
            if 0 < window <= LONGEST_WINDOW:
                pair = Announcement(info.limit, window, now)
                if (pair.limit, round(pair.window, 1)) != (self.limit, round(self.window, 1)):
                    log.info("rate limit: %d requests per %.1f s", pair.limit, pair.window)
                self._announced = pair
                self.local.follow(pair.limit, pair.window)
                return pair
        elif not self._announced.at:
            self._limit_only = info.limit
        return None

    def release(self, grant: Any) -> None:
        """Give back a grant that was not used (its place counts as if answered now)."""
        self.local.release(grant)
        placed = self._placed.pop(grant.seq, None) if isinstance(grant, Grant) else None
        if placed is not None:
            self._write(self._places.answered(self._key, placed[0], at=self._wall()))

    def _write(self, write: Any) -> None:
        """Run a write of the log in the background (until it lands, the place counts)."""
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(write)
        self._writes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # The place keeps counting until it is lost: slower, never over the limit.
            log.warning("request budget: an answer was not recorded (%s)", type(error).__name__)

    async def flush(self) -> None:
        """Wait for the answers being recorded (at a clean stop, and in tests)."""
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    def set_poll_demand(self, demand: PollDemand) -> None:
        """Let the local budget ask the planner which polls are wanted."""
        self.local.set_poll_demand(demand)
