"""RequestBudget: one request budget per API key, shared by every gateway request.

See :mod:`bot.scheduler` for the design. In short: a request may go when the
gateway's headers (``X-RateLimit-Remaining`` until ``X-RateLimit-Reset``, less what
is in flight) leave room, or, when it sends none, when fewer than ``limit`` requests
were counted in the last window (a sliding log). A 429 pauses everything for
``Retry-After``; then one probe per Retry-After window goes until an answer is not a
429. Waiting requests are served by priority: final polls; polls likely to find their
task ended; creates, downloads and the model list (creates leaving room for the polls
the planner expects); ordinary polls, paced over the window and owed one grant in four.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass

from bot.lemondata.urls import REQUEST_KINDS, RequestKind
from bot.scheduler.clock import Clock, LoopClock
from bot.scheduler.grants import BudgetStats, Grant, NoDemand, PollDemand
from bot.scheduler.headers import parse_rate_headers
from bot.scheduler.limits import RateLimitState

log = logging.getLogger(__name__)

DEFAULT_RPM = 60
WINDOW_SECONDS = 60.0
# Priority classes, lowest first (see the module docstring of bot.scheduler for why).
FINAL_POLL, PRIMARY, ORDINARY_POLL = 0, 1, 2
# Under a flood of creates, at least one grant in POLL_SHARE goes to a waiting poll.
POLL_SHARE = 4
# Ordinary polls: at most this many in any POLL_BURST x their even spacing.
POLL_BURST = 2
HISTORY_SIZE = 10_000
HOLD_RECHECK = 1.0  # a create held for likely polls looks again this often, at most
MIN_TIMER = 0.001  # the dispatch timer never spins at zero delay


@dataclass
class _Waiter:
    kind: RequestKind
    final: bool
    seq: int
    since: float
    future: asyncio.Future[Grant]

    @property
    def priority(self) -> int:
        if self.kind != "poll":
            return PRIMARY
        return FINAL_POLL if self.final else ORDINARY_POLL


class RequestBudget:
    """Gate every request to one API key: wait for room, learn from each answer.

    Call ``grant = await budget.acquire(kind)`` before a request and
    ``budget.observe(status, headers, grant)`` after it (``status`` None when no answer
    came), or use ``async with budget.request(kind) as slot`` and ``slot.observe(...)``.
    """

    def __init__(
        self,
        *,
        rpm: int = DEFAULT_RPM,
        clock: Clock | None = None,
        window: float = WINDOW_SECONDS,
        exempt_downloads: bool = True,
        wall: Callable[[], float] = time.time,
    ) -> None:
        if rpm < 1:
            raise ValueError("rpm must be at least 1")
        self._clock = clock or LoopClock()
        self._wall = wall
        self._exempt_downloads = exempt_downloads
        self._state = RateLimitState(rpm, window)
        # When the last POLL_BURST paced polls were sent.
        self._paced: deque[float] = deque(maxlen=POLL_BURST)
        self._grants_since_poll = 0
        self._demand: PollDemand = NoDemand()
        self._seq = itertools.count()
        # Waiters per priority class, each first come, first served.
        self._queues: dict[int, deque[_Waiter]] = {
            FINAL_POLL: deque(),
            PRIMARY: deque(),
            ORDINARY_POLL: deque(),
        }
        self._timer: asyncio.Task[None] | None = None
        self._timer_at = math.inf
        # Introspection.
        self.history: deque[tuple[float, RequestKind]] = deque(maxlen=HISTORY_SIZE)
        self._counts: Counter[str] = Counter()
        self._exempt_count = self._waited = 0
        self._total_wait = self._max_wait = 0.0

    def __repr__(self) -> str:
        return f"RequestBudget(limit={self._state.limit}, window={self._state.window:g}s)"

    # ------------------------------------------------------------------ public

    @property
    def limit(self) -> int:
        """Requests per window the budget currently believes in."""
        return self._state.limit

    @property
    def remaining(self) -> int:
        """Requests that may be sent now without waiting (ignoring the poll pace)."""
        now = self._clock.now()
        self._state.expire(now)
        if now < self._state.paused_until or self._state.probing:
            return 0
        return self._state.room()

    def spare(self) -> bool:
        """Whether a request nobody waits for may go now: none waits, half the window is free.

        The model descriptions ask this before each fetch, so that they never take a
        request a member's create or poll could use.
        """
        return not self._waiting() and self.remaining > self._state.limit // 2

    @property
    def paused_until(self) -> float:
        """When the pause of the last 429 ends (-inf when none)."""
        return self._state.paused_until

    @property
    def probing(self) -> bool:
        """Whether only one probe per Retry-After window may go (after a 429)."""
        return self._state.probing

    def stats(self) -> BudgetStats:
        """Return what the budget has done so far."""
        return BudgetStats(
            sent={kind: self._counts[kind] for kind in REQUEST_KINDS},
            exempt=self._exempt_count,
            throttled=self._state.throttled,
            probes=self._state.probes,
            waited=self._waited,
            total_wait=self._total_wait,
            max_wait=self._max_wait,
        )

    def follow(self, limit: int, window: float) -> None:
        """Hold to ``limit`` requests per ``window`` seconds, as the gateway announced them."""
        self._state.follow(limit, window)
        self._dispatch()

    def set_poll_demand(self, demand: PollDemand) -> None:
        """Let the budget ask the planner which polls are wanted (see PollDemand).

        While some due poll would probably find its task ended, a waiting poll goes
        before creates, unpaced. Creates leave room (at most half the window) for those
        polls and, when the gateway announces its window, for the polls expected to
        find a task ended before that window resets.
        """
        self._demand = demand

    async def acquire(self, kind: RequestKind, *, final: bool = False) -> Grant:
        """Wait until a ``kind`` request may be sent, then count it as sent.

        It never fails: a create waits for room however long that takes. ``final``
        marks the last poll of a task at its deadline, which goes before all else.
        """
        now = self._clock.now()
        if kind == "download" and self._exempt_downloads:
            self._exempt_count += 1
            return Grant(kind, next(self._seq), now, exempt=True)
        loop = asyncio.get_running_loop()
        waiter = _Waiter(kind, final and kind == "poll", next(self._seq), now, loop.create_future())
        self._queues[waiter.priority].append(waiter)
        self._dispatch()
        try:
            return await waiter.future
        except asyncio.CancelledError:
            if waiter.future.done() and not waiter.future.cancelled():
                self.release(waiter.future.result())
            else:
                self._drop_waiter(waiter)
            raise

    def observe(
        self, status: int | None, headers: Mapping[str, str], grant: Grant | None = None
    ) -> None:
        """Learn from the answer to a granted request (``status`` None: no answer).

        Without ``grant`` the oldest request in flight is taken to be the one answered.
        """
        if grant is not None and grant.exempt:
            return
        grant = grant or self._state.oldest_in_flight()
        info = parse_rate_headers(headers, self._wall())
        self._state.answered(grant, status, info, self._clock.now())
        self._dispatch()

    def release(self, grant: Grant) -> None:
        """Give back a grant that was not used (nothing was sent)."""
        if grant.exempt or not self._state.released(grant):
            return
        with contextlib.suppress(ValueError):
            self.history.remove((grant.at, grant.kind))
        self._counts[grant.kind] -= 1
        self._dispatch()

    @contextlib.asynccontextmanager
    async def request(self, kind: RequestKind, *, final: bool = False) -> AsyncIterator[Slot]:
        """Hold a grant for one request; an exit without ``observe`` counts as no answer."""
        slot = Slot(self, await self.acquire(kind, final=final))
        try:
            yield slot
        finally:
            if not slot.observed:
                self.observe(None, {}, slot.grant)

    # ------------------------------------------------------------------ granting

    def _poll_gap(self, now: float) -> float:
        """Return the even spacing of ordinary polls that makes what is left last the window."""
        if (reset_at := self._state.reset_at) is not None:
            return max(0.0, reset_at - now) / max(self._state.room(), 1)
        return self._state.window / max(self._state.limit, 1)

    def _poll_wait(self, now: float) -> float:
        if len(self._paced) < POLL_BURST:
            return 0.0
        if self._demand.polls_wanted() <= self._state.room():
            return 0.0  # the window holds every poll the tracked tasks want: no pace
        at = self._paced[0] + POLL_BURST * self._poll_gap(now)
        if (reset_at := self._state.reset_at) is not None:
            at = min(at, reset_at)  # a new window brings a new pace
        return max(0.0, at - now)

    def _waiting(self) -> bool:
        return any(self._queues.values())

    def _reserve(self, likely: int) -> int:
        """Return how many requests of the window creates must leave to polls."""
        wanted = float(likely)
        if (reset_at := self._state.reset_at) is not None:
            wanted = max(wanted, self._demand.expected_done(reset_at))
        return min(math.ceil(wanted), self._state.limit // 2)

    def _dispatch(self) -> None:
        """Grant every waiter that may go now; arm a timer for the next one."""
        now = self._clock.now()
        self._state.expire(now)
        wait = math.inf
        while self._waiting():
            hard = self._state.wait(now)
            if hard > 0:
                wait = hard
                break
            waiter, paced, wait = self._pick(now)
            if waiter is None:
                break
            self._drop_waiter(waiter)
            waiter.future.set_result(self._grant(waiter, now, paced))
        if self._waiting() and math.isfinite(wait):
            self._arm_timer(now + max(wait, MIN_TIMER))

    def _pick(self, now: float) -> tuple[_Waiter | None, bool, float]:
        """Return the waiter to serve now (and whether it is a paced poll), or how long to wait.

        Final polls first; then a poll if some due task has probably ended (unpaced);
        then creates, downloads and the model list, except that a paced poll whose turn
        has come goes when polls are owed their share or when the create at the head
        must leave the rest of the window to polls.
        """
        finals, primary, polls = (self._queues[p] for p in (FINAL_POLL, PRIMARY, ORDINARY_POLL))
        if finals:
            return finals[0], False, 0.0
        if not primary:
            if polls and self._demand.likely_due() > 0:
                return polls[0], False, 0.0
            poll_wait = self._poll_wait(now) if polls else math.inf
            return (polls[0], True, 0.0) if poll_wait <= 0 else (None, False, poll_wait)
        likely = self._demand.likely_due()
        if polls and likely > 0:
            return polls[0], False, 0.0
        poll_wait = self._poll_wait(now) if polls else math.inf
        head = primary[0]
        room = self._state.room()
        held = False
        if head.kind == "create" and room <= self._state.limit // 2:
            reserve = self._reserve(likely)
            held = reserve > 0 and room <= reserve
        owed = self._grants_since_poll >= POLL_SHARE - 1
        if poll_wait <= 0 and (held or owed):
            return polls[0], True, 0.0
        if not held:
            return head, False, 0.0
        return None, False, min(poll_wait, HOLD_RECHECK)

    def _grant(self, waiter: _Waiter, now: float, paced: bool) -> Grant:
        if paced:
            self._paced.append(now)
        if waiter.priority == ORDINARY_POLL:
            self._grants_since_poll = 0
        elif self._queues[ORDINARY_POLL]:
            self._grants_since_poll += 1
        grant = Grant(
            waiter.kind,
            waiter.seq,
            now,
            final=waiter.final,
            probe=self._state.probing,
            window_count=len(self._state.sent) + 1,
        )
        self._state.granted(grant)
        self._counts[waiter.kind] += 1
        self.history.append((now, waiter.kind))
        waited = now - waiter.since
        if waited > 0:
            self._waited += 1
            self._total_wait += waited
            self._max_wait = max(self._max_wait, waited)
        return grant

    def _drop_waiter(self, waiter: _Waiter) -> None:
        queue = self._queues[waiter.priority]
        if queue and queue[0] is waiter:
            queue.popleft()
        else:
            with contextlib.suppress(ValueError):
                queue.remove(waiter)
        if not self._waiting() and self._timer is not None:
            self._timer.cancel()
            self._timer, self._timer_at = None, math.inf

    def _arm_timer(self, at: float) -> None:
        if self._timer is not None and not self._timer.done() and self._timer_at <= at:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = asyncio.get_running_loop().create_task(self._wake_at(at))

    async def _wake_at(self, at: float) -> None:
        await self._clock.sleep(at - self._clock.now())
        self._timer, self._timer_at = None, math.inf
        self._dispatch()


class Slot:
    """A grant held by :meth:`RequestBudget.request`; report the answer with observe."""

    def __init__(self, budget: RequestBudget, grant: Grant) -> None:
        self.grant = grant
        self.observed = False
        self._budget = budget

    def observe(self, status: int | None, headers: Mapping[str, str]) -> None:
        """Report the answer (``status`` None when none came)."""
        self.observed = True
        self._budget.observe(status, headers, self.grant)
