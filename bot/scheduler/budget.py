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
import bisect
import contextlib
import itertools
import logging
import math
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

from bot.scheduler.clock import Clock, LoopClock
from bot.scheduler.headers import RateHeaders, parse_rate_headers

log = logging.getLogger(__name__)

RequestKind = Literal["create", "poll", "download", "models"]
KINDS: tuple[RequestKind, ...] = ("create", "poll", "download", "models")

DEFAULT_RPM = 60
WINDOW_SECONDS = 60.0
# Priority classes, lowest first (see the module docstring of bot.scheduler for why).
FINAL_POLL, PRIMARY, ORDINARY_POLL = 0, 1, 2
# Under a flood of creates, at least one grant in POLL_SHARE goes to a waiting poll.
POLL_SHARE = 4
# Ordinary polls: at most this many in any POLL_BURST x their even spacing.
POLL_BURST = 2
# Resets within this of the known one are the same window (answers travel, Reset is
# rounded); later is a new window, earlier a late answer from the previous one.
RESET_SLACK = 5.0
# Pause after a 429 without Retry-After or Reset: window / limit, doubled per
# consecutive 429, within these bounds. A longer Retry-After is capped (a broken
# header must not freeze the bot).
MIN_PAUSE, MAX_UNHINTED_PAUSE, MAX_PAUSE = 1.0, 60.0, 900.0
# A limit lowered by an unexplained 429 returns to the configured one after this long.
LOWERED_LIMIT_TTL = 600.0
# A grant never observed (the caller lost it) stops counting as in flight after this.
IN_FLIGHT_TTL = 300.0
HISTORY_SIZE = 10_000
# A request reaches the gateway's counter at most this long after it is sent (for the
# sliding log, a request counts from then, or from its answer if that came sooner).
ADMISSION_MARGIN = 2.0
HOLD_RECHECK = 1.0  # a create held for likely polls looks again this often, at most
MIN_TIMER = 0.001  # the dispatch timer never spins at zero delay


@dataclass(frozen=True)
class Grant:
    """Permission to send one request; hand it back to :meth:`RequestBudget.observe`."""

    kind: RequestKind
    seq: int
    at: float
    final: bool = False
    probe: bool = False  # the one request allowed after a 429's pause
    exempt: bool = False  # not counted (a download from a host without the API key)
    window_count: int = 0  # requests sent in the last window, this one included


@dataclass(frozen=True)
class BudgetStats:
    """What a budget did, for tests and benchmarks."""

    sent: dict[str, int]
    exempt: int
    throttled: int  # 429 answers observed
    probes: int
    waited: int  # grants that had to wait
    total_wait: float
    max_wait: float


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
        self._window = window
        self._configured = rpm
        self._limit = rpm
        self._lowered_until: float | None = None
        self._exempt_downloads = exempt_downloads
        # The sliding log: for each counted request of the last window, the latest
        # moment the gateway can have counted it (its answer, or send + margin), sorted.
        self._sent: list[float] = []
        self._counted_by: dict[int, float] = {}  # grant seq -> its entry in _sent
        self._in_flight: dict[int, Grant] = {}
        # The lowest X-RateLimit-Remaining of the current window (None: no header
        # information); what may still be sent is that minus the requests in flight.
        self._seen: int | None = None
        self._reset_at: float | None = None
        self._opener_open = False  # one request may open a window the headers said resets
        # After a 429.
        self._paused_until = -math.inf
        self._probing = False
        self._probe_seq: int | None = None
        self._next_probe_at = -math.inf
        self._pause = 0.0
        self._consecutive_429 = 0
        # When the last POLL_BURST paced polls were sent.
        self._paced: deque[float] = deque(maxlen=POLL_BURST)
        self._grants_since_poll = 0
        self._demand: PollDemand = _NO_DEMAND
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
        self._exempt_count = self._throttled = self._probes = self._waited = 0
        self._total_wait = self._max_wait = 0.0

    def __repr__(self) -> str:
        return f"RequestBudget(limit={self._limit}, window={self._window:g}s)"

    # ------------------------------------------------------------------ public

    @property
    def limit(self) -> int:
        """Requests per window the budget currently believes in."""
        return self._limit

    @property
    def remaining(self) -> int:
        """Requests that may be sent now without waiting (ignoring the poll pace)."""
        now = self._clock.now()
        self._expire(now)
        if now < self._paused_until or self._probing:
            return 0
        return self._room()

    @property
    def paused_until(self) -> float:
        """When the pause of the last 429 ends (-inf when none)."""
        return self._paused_until

    @property
    def probing(self) -> bool:
        """Whether only one probe per Retry-After window may go (after a 429)."""
        return self._probing

    def sent_in_window(self, end: float | None = None) -> int:
        """Count the requests sent in the window ending at ``end`` (default: now)."""
        end = self._clock.now() if end is None else end
        return sum(1 for at, _ in self.history if end - self._window < at <= end)

    def stats(self) -> BudgetStats:
        """Return what the budget has done so far."""
        return BudgetStats(
            sent={kind: self._counts[kind] for kind in KINDS},
            exempt=self._exempt_count,
            throttled=self._throttled,
            probes=self._probes,
            waited=self._waited,
            total_wait=self._total_wait,
            max_wait=self._max_wait,
        )

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
        now = self._clock.now()
        if grant is not None and grant.exempt:
            return
        if grant is None and self._in_flight:
            grant = self._in_flight[min(self._in_flight)]
        if grant is not None:
            self._in_flight.pop(grant.seq, None)
            self._counted_at(grant.seq, now)
        is_probe = grant is not None and grant.seq == self._probe_seq
        if is_probe:
            self._probe_seq = None
        info = parse_rate_headers(headers, self._wall())
        if info.limit is not None:
            self._limit = info.limit
            self._lowered_until = None
        if status == 429:
            self._on_429(now, info, grant, is_probe)
        elif status is not None:
            if self._probing and is_probe:
                log.info("rate limit: a probe went through, sending again")
                self._probing = False
                self._consecutive_429 = 0
            self._learn_window(now, info)
        self._dispatch()

    def release(self, grant: Grant) -> None:
        """Give back a grant that was not used (nothing was sent)."""
        if grant.exempt or self._in_flight.pop(grant.seq, None) is None:
            return
        entry = self._counted_by.pop(grant.seq, None)
        with contextlib.suppress(ValueError):
            if entry is not None:
                self._sent.remove(entry)
            self.history.remove((grant.at, grant.kind))
        self._counts[grant.kind] -= 1
        if grant.seq == self._probe_seq:
            self._probe_seq = None
            self._next_probe_at = min(self._next_probe_at, grant.at)
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

    # ------------------------------------------------------------------ learning

    def _on_429(self, now: float, info: RateHeaders, grant: Grant | None, is_probe: bool) -> None:
        self._throttled += 1
        self._consecutive_429 += 1
        unexpected = not self._probing and not (grant is not None and grant.probe)
        if unexpected and info.limit is None and grant is not None and grant.window_count > 1:
            # The gateway admitted fewer than we sent: believe what it let through.
            lowered = grant.window_count - 1
            if lowered < self._limit:
                log.warning("rate limit: 429 after %d requests, limit now %d", lowered + 1, lowered)
                self._limit = lowered
                self._lowered_until = now + LOWERED_LIMIT_TTL
        pause = info.retry_after if info.retry_after is not None else info.reset_in
        if pause is None:
            base = max(MIN_PAUSE, self._window / max(self._limit, 1))
            pause = min(MAX_UNHINTED_PAUSE, base * 2 ** (self._consecutive_429 - 1))
        pause = min(max(pause, 0.0), MAX_PAUSE)
        self._pause = max(pause, MIN_PAUSE)  # probes at most this often
        self._paused_until = max(self._paused_until, now + pause)
        if is_probe or not self._probing:
            self._next_probe_at = self._paused_until
        self._probing = True
        self._seen = 0
        reset_at = now + (info.reset_in if info.reset_in is not None else pause)
        self._reset_at = max(self._reset_at or -math.inf, reset_at)
        self._opener_open = False

    def _learn_window(self, now: float, info: RateHeaders) -> None:
        if info.remaining is None:
            if self._seen is not None:
                self._seen = max(0, self._seen - 1)  # it was counted all the same
            return
        reset_at = now + info.reset_in if info.reset_in is not None else now + self._window
        if self._seen is None or self._reset_at is None or reset_at > self._reset_at + RESET_SLACK:
            self._seen, self._reset_at = info.remaining, reset_at  # a new window
        elif reset_at >= self._reset_at - RESET_SLACK:
            self._seen = min(self._seen, info.remaining)
            self._reset_at = max(self._reset_at, reset_at)
        # else: a late answer from the previous window
        self._opener_open = False

    def _counted_at(self, seq: int, latest: float) -> None:
        """Move a request's sliding-log entry back to ``latest`` (its answer came then)."""
        entry = self._counted_by.pop(seq, None)
        if entry is None or entry <= latest:
            return
        with contextlib.suppress(ValueError):
            self._sent.remove(entry)
            bisect.insort(self._sent, latest)

    def _expire(self, now: float) -> None:
        if self._sent and self._sent[0] <= now - self._window:
            del self._sent[: bisect.bisect_right(self._sent, now - self._window)]
        if self._reset_at is not None and now >= self._reset_at:
            # The headers said the window resets now: one request may open the new one
            # (its answer brings the new window's figures); the sliding log covers the rest.
            self._seen = self._reset_at = None
            self._opener_open = True
        if self._lowered_until is not None and now >= self._lowered_until:
            self._limit, self._lowered_until = self._configured, None
        for seq, grant in list(self._in_flight.items()):
            if grant.at < now - IN_FLIGHT_TTL:
                del self._in_flight[seq]
                self._counted_by.pop(seq, None)
                if seq == self._probe_seq:
                    self._probe_seq = None  # the probe's answer was lost

    # ------------------------------------------------------------------ granting

    def _hard_wait(self, now: float) -> float:
        """Seconds until any request may go (inf: until an answer arrives)."""
        if now < self._paused_until:
            return self._paused_until - now
        if self._probing:
            if self._probe_seq is not None:  # wait for its answer (or its loss)
                return self._in_flight[self._probe_seq].at + IN_FLIGHT_TTL - now
            return max(0.0, self._next_probe_at - now)
        if self._seen is not None and self._reset_at is not None:
            return 0.0 if self._room() > 0 else max(0.0, self._reset_at - now)
        if len(self._sent) < self._limit or self._opener_open:
            return 0.0
        return max(0.0, self._sent[len(self._sent) - self._limit] + self._window - now)

    def _poll_gap(self, now: float) -> float:
        """Return the even spacing of ordinary polls that makes what is left last the window."""
        if self._seen is not None and self._reset_at is not None:
            return max(0.0, self._reset_at - now) / max(self._room(), 1)
        return self._window / max(self._limit, 1)

    def _poll_wait(self, now: float) -> float:
        if len(self._paced) < POLL_BURST:
            return 0.0
        at = self._paced[0] + POLL_BURST * self._poll_gap(now)
        if self._seen is not None and self._reset_at is not None:
            at = min(at, self._reset_at)  # a new window brings a new pace
        return max(0.0, at - now)

    def _waiting(self) -> bool:
        return any(self._queues.values())

    def _room(self) -> int:
        """Return how many requests the window still has, as the budget believes.

        With headers: the gateway's lowest Remaining minus every request in flight (an
        answer may not count the requests sent with or after it yet: assume none is).
        """
        if self._seen is not None:
            return max(0, self._seen - len(self._in_flight))
        return max(0, self._limit - len(self._sent))

    def _reserve(self, likely: int) -> int:
        """Return how many requests of the window creates must leave to polls."""
        wanted = float(likely)
        if self._seen is not None and self._reset_at is not None:
            wanted = max(wanted, self._demand.expected_done(self._reset_at))
        return min(math.ceil(wanted), self._limit // 2)

    def _dispatch(self) -> None:
        """Grant every waiter that may go now; arm a timer for the next one."""
        now = self._clock.now()
        self._expire(now)
        wait = math.inf
        while self._waiting():
            hard = self._hard_wait(now)
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
        room = self._room()
        held = False
        if head.kind == "create" and room <= self._limit // 2:
            reserve = self._reserve(likely)
            held = reserve > 0 and room <= reserve
        owed = self._grants_since_poll >= POLL_SHARE - 1
        if poll_wait <= 0 and (held or owed):
            return polls[0], True, 0.0
        if not held:
            return head, False, 0.0
        return None, False, min(poll_wait, HOLD_RECHECK)

    def _grant(self, waiter: _Waiter, now: float, paced: bool) -> Grant:
        probe = self._probing
        self._opener_open = False  # the first request after a reset opens the window
        bisect.insort(self._sent, now + ADMISSION_MARGIN)
        self._counted_by[waiter.seq] = now + ADMISSION_MARGIN
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
            probe=probe,
            window_count=len(self._sent),
        )
        if probe:
            self._probe_seq = grant.seq
            self._probes += 1
            self._next_probe_at = now + self._pause
        self._in_flight[grant.seq] = grant
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


class PollDemand(Protocol):
    """What the budget asks the poll planner (``PollPlanner`` implements it)."""

    def likely_due(self) -> int:
        """Count the due polls that would probably find their task ended."""
        ...

    def expected_done(self, until: float) -> float:
        """Return how many tracked tasks are expected to end, unseen, by ``until``."""
        ...


class _NoDemand:
    def likely_due(self) -> int:
        return 0

    def expected_done(self, until: float) -> float:
        return 0.0


_NO_DEMAND = _NoDemand()


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
