"""The gateway's per-key rate limit: fixed windows, answered with ``X-RateLimit-*`` headers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

RATE_LIMIT_MESSAGE = "Rate limit exceeded. Please slow down."


@dataclass(frozen=True)
class RateEvent:
    """One request the limiter counted: when (on the emulator's clock), where, admitted?"""

    at: float
    path: str
    admitted: bool


@dataclass(frozen=True)
class RateDecision:
    """The limiter's answer to one request."""

    admitted: bool
    limit: int
    remaining: int
    reset_after: float  # seconds until the current window ends

    def headers(self, wall_now: float, *, milliseconds: bool = False) -> dict[str, str]:
        """Return the ``X-RateLimit-*`` headers (``Reset`` is a Unix time, rounded up, in
        seconds or, with ``milliseconds``, in milliseconds: gateways send either)."""
        reset = wall_now + self.reset_after
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(math.ceil(reset * 1000) if milliseconds else math.ceil(reset)),
        }

    @property
    def retry_after(self) -> float:
        """Seconds until the window resets, rounded up to the millisecond."""
        return math.ceil(self.reset_after * 1000) / 1000

    def error_body(self) -> dict[str, Any]:
        """Return the 429 ``ApiError`` body."""
        return {
            "error": {
                "message": RATE_LIMIT_MESSAGE,
                "type": "rate_limit_exceeded",
                "code": "rate_limit_exceeded",
                "retryable": True,
                "retry_after": self.retry_after,
            }
        }


@dataclass
class _Window:
    started: float
    count: int = 0


class RateLimiter:
    """Fixed windows per API key: ``limit`` requests per ``window`` seconds.

    A key's window opens with its first request after the previous window ended; a
    refused request does not count against the budget.
    """

    def __init__(self) -> None:
        self._windows: dict[str, _Window] = {}

    def check(self, key: str, limit: int, window: float, now: float) -> RateDecision:
        """Count one request of ``key`` at ``now``; say whether it is admitted."""
        current = self._windows.get(key)
        if current is None or now >= current.started + window:
            current = self._windows[key] = _Window(now)
        reset_after = max(0.0, current.started + window - now)
        if current.count >= limit:
            return RateDecision(False, limit, 0, reset_after)
        current.count += 1
        return RateDecision(True, limit, limit - current.count, reset_after)

    def window_end(self, window: float) -> float:
        """Return when the latest window of any key ends (-inf: none opened yet)."""
        return max((w.started + window for w in self._windows.values()), default=-math.inf)

    def reset(self) -> None:
        """Forget every window (the next request of each key opens a new one)."""
        self._windows.clear()
