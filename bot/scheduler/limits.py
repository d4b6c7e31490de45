"""RateLimitState: what a budget believes about its API key's rate limit, and when it may send.

It learns from each answer (``X-RateLimit-*``, ``Retry-After``, 429s) and counts what is
sent; it never waits itself. :class:`bot.scheduler.budget.RequestBudget` asks it how long
any request must wait and decides who goes.
"""

from __future__ import annotations

import logging
import math

from bot.scheduler.grants import Grant
from bot.scheduler.headers import RateHeaders
from bot.scheduler.window import SlidingLog

log = logging.getLogger(__name__)

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
# Once an announced window has reset, the first request's answer tells the next window's
# figures: the others wait for it, at most this long (a lowered limit is heeded at once).
OPENER_WAIT = 2.0
# A window announced longer than this is taken as a misread header.
LONGEST_WINDOW = 3600.0


class RateLimitState:
    """The limit, the window and the 429 state of one API key, as far as they are known."""

    def __init__(self, rpm: int, window: float) -> None:
        self.window = window
        self.configured = rpm
        self.limit = rpm
        self._lowered_until: float | None = None
        self.sent = SlidingLog(window)
        self.in_flight: dict[int, Grant] = {}
        # The lowest X-RateLimit-Remaining of the current window (None: no header
        # information); what may still be sent is that minus the requests in flight.
        self._seen: int | None = None
        self._reset_at: float | None = None
        self._opener_open = False  # one request may open a window the headers said resets
        self._opener_seq: int | None = None  # that request, until its answer
        self._opener_until = -math.inf
        # After a 429.
        self.paused_until = -math.inf
        self.probing = False
        self._probe_seq: int | None = None
        self._next_probe_at = -math.inf
        self._pause = 0.0
        self._consecutive_429 = 0
        self.throttled = self.probes = 0

    # ------------------------------------------------------------------ reading

    @property
    def reset_at(self) -> float | None:
        """When the window the gateway announced resets (None: no headers, sliding log)."""
        return self._reset_at if self._seen is not None else None

    def room(self) -> int:
        """Return how many requests the window still has, as far as is known.

        With headers: the gateway's lowest Remaining minus every request in flight (an
        answer may not count the requests sent with or after it yet: assume none is).
        """
        if self._seen is not None:
            return max(0, self._seen - len(self.in_flight))
        return max(0, self.limit - len(self.sent))

    def wait(self, now: float) -> float:
        """Return the seconds until any request may go."""
        if now < self.paused_until:
            return self.paused_until - now
        if self.probing:
            if self._probe_seq is not None:  # wait for its answer (or its loss)
                return self.in_flight[self._probe_seq].at + IN_FLIGHT_TTL - now
            return max(0.0, self._next_probe_at - now)
        if (reset_at := self.reset_at) is not None:
            return 0.0 if self.room() > 0 else max(0.0, reset_at - now)
        if self._opener_seq is not None and now < self._opener_until:
            return self._opener_until - now  # its answer (which dispatches again) or this
        return 0.0 if self._opener_open else self.sent.wait(now, self.limit)

    def oldest_in_flight(self) -> Grant | None:
        """Return the request in flight the longest (the likeliest one being answered)."""
        return self.in_flight[min(self.in_flight)] if self.in_flight else None

    # ------------------------------------------------------------------ counting

    def expire(self, now: float) -> None:
        """Let time pass: the log, the announced window and a lowered limit expire."""
        self.sent.expire(now)
        if self._reset_at is not None and now >= self._reset_at:
            # The headers said the window resets now: one request may open the new one
            # (its answer brings the new window's figures); the sliding log covers the rest.
            self._seen = self._reset_at = None
            self._opener_open = True
        if self._lowered_until is not None and now >= self._lowered_until:
            self.limit, self._lowered_until = self.configured, None
        for seq, grant in list(self.in_flight.items()):
            if grant.at < now - IN_FLIGHT_TTL:
                del self.in_flight[seq]
                self.sent.forget(seq)
                if seq == self._probe_seq:
                    self._probe_seq = None  # the probe's answer was lost

    def granted(self, grant: Grant) -> None:
        """Count a request about to be sent (``grant.probe``: the one probe after a 429)."""
        if self._opener_open:  # the first request after a reset opens the window
            self._opener_seq, self._opener_until = grant.seq, grant.at + OPENER_WAIT
        self._opener_open = False
        self.sent.add(grant.seq, grant.at)
        self.in_flight[grant.seq] = grant
        if grant.probe:
            self._probe_seq = grant.seq
            self.probes += 1
            self._next_probe_at = grant.at + self._pause

    def released(self, grant: Grant) -> bool:
        """Uncount a request that was not sent; return False if it was not in flight."""
        if self.in_flight.pop(grant.seq, None) is None:
            return False
        self.sent.remove(grant.seq)
        if grant.seq == self._opener_seq:
            self._opener_seq, self._opener_open = None, True
        if grant.seq == self._probe_seq:
            self._probe_seq = None
            self._next_probe_at = min(self._next_probe_at, grant.at)
        return True

    # ------------------------------------------------------------------ learning

    def follow(self, limit: int, window: float) -> None:
        """Hold to the limit and window the gateway announced last (together)."""
        self.window = window
        self.sent.window = window
        if self._lowered_until is None or limit < self.limit:
            self.limit, self._lowered_until = limit, None

    def answered(
        self, grant: Grant | None, status: int | None, info: RateHeaders, now: float
    ) -> None:
        """Learn from an answer (``status`` None: none came) to ``grant``."""
        if grant is not None:
            self.in_flight.pop(grant.seq, None)
            self.sent.answered(grant.seq, now)
            if grant.seq == self._opener_seq:
                self._opener_seq = None
        is_probe = grant is not None and grant.seq == self._probe_seq
        if is_probe:
            self._probe_seq = None
        if info.limit is not None:
            self.limit, self._lowered_until = info.limit, None
        if status == 429:
            self._on_429(now, info, grant, is_probe)
        elif status is not None:
            if self.probing and is_probe:
                log.info("rate limit: a probe went through, sending again")
                self.probing = False
                self._consecutive_429 = 0
            self._learn_window(now, info)
            opened = info.remaining is not None and info.limit is not None
            if grant is not None and opened and info.reset_in is not None:
                assert info.remaining is not None and info.limit is not None
                if info.remaining >= info.limit - 1:
                    # The first answer of a gateway window: the window began when this
                    # request arrived (after it was granted) and ends at the reset.
                    window = now + info.reset_in - grant.at
                    if 0 < window <= LONGEST_WINDOW:
                        self.follow(info.limit, window)

    def _on_429(self, now: float, info: RateHeaders, grant: Grant | None, is_probe: bool) -> None:
        self.throttled += 1
        self._consecutive_429 += 1
        unexpected = not self.probing and not (grant is not None and grant.probe)
        if unexpected and info.limit is None and grant is not None and grant.window_count > 1:
            # The gateway admitted fewer than we sent: believe what it let through.
            lowered = grant.window_count - 1
            if lowered < self.limit:
                log.warning("rate limit: 429 after %d requests, limit now %d", lowered + 1, lowered)
                self.limit = lowered
                self._lowered_until = now + LOWERED_LIMIT_TTL
        pause = info.retry_after if info.retry_after is not None else info.reset_in
        if pause is None:
            base = max(MIN_PAUSE, self.window / max(self.limit, 1))
            pause = min(MAX_UNHINTED_PAUSE, base * 2 ** (self._consecutive_429 - 1))
        pause = min(max(pause, 0.0), MAX_PAUSE)
        self._pause = max(pause, MIN_PAUSE)  # probes at most this often
        self.paused_until = max(self.paused_until, now + pause)
        if is_probe or not self.probing:
            self._next_probe_at = self.paused_until
        self.probing = True
        self._seen = 0
        reset_at = now + (info.reset_in if info.reset_in is not None else pause)
        self._reset_at = max(self._reset_at or -math.inf, reset_at)
        self._opener_open = False

    def _learn_window(self, now: float, info: RateHeaders) -> None:
        if info.remaining is None:
            if self._seen is not None:
                self._seen = max(0, self._seen - 1)  # it was counted all the same
            return
        reset_at = now + info.reset_in if info.reset_in is not None else now + self.window
        if self._seen is None or self._reset_at is None or reset_at > self._reset_at + RESET_SLACK:
            self._seen, self._reset_at = info.remaining, reset_at  # a new window
        elif reset_at >= self._reset_at - RESET_SLACK:
            self._seen = min(self._seen, info.remaining)
            self._reset_at = max(self._reset_at, reset_at)
        # else: a late answer from the previous window
        self._opener_open = False
