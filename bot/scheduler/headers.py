"""Rate-limit headers: ``X-RateLimit-Limit/Remaining/Reset`` and ``Retry-After``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from bot.lemondata.errors import parse_retry_after

# X-RateLimit-Reset above this is a Unix time (seconds; above 1e12, milliseconds).
EPOCH_THRESHOLD = 1e9


@dataclass(frozen=True)
class RateHeaders:
    """The rate-limit headers of one answer, parsed (None when absent or unreadable)."""

    limit: int | None = None
    remaining: int | None = None
    reset_in: float | None = None  # seconds from now until the window resets
    retry_after: float | None = None  # seconds


def parse_rate_headers(headers: Mapping[str, str], wall_now: float) -> RateHeaders:
    """Read ``X-RateLimit-Limit/Remaining/Reset`` and ``Retry-After`` (case-insensitive).

    ``X-RateLimit-Reset`` is read as seconds until the reset when below 1e9, as a
    Unix time in seconds up to 1e12 and in milliseconds above (the gateway's docs do
    not say which; all three are in use). ``Retry-After`` is seconds or an HTTP date
    (:func:`bot.lemondata.errors.parse_retry_after`, which gateway errors read too).
    """
    lower = {key.lower(): value.strip() for key, value in headers.items()}
    reset_in: float | None = None
    if (reset := _number(lower.get("x-ratelimit-reset"))) is not None:
        if reset >= EPOCH_THRESHOLD * 1000:
            reset /= 1000
        reset_in = reset - wall_now if reset >= EPOCH_THRESHOLD else reset
        reset_in = max(0.0, reset_in)
    retry_after = parse_retry_after(lower.get("retry-after"), wall_now)
    limit = _number(lower.get("x-ratelimit-limit"))
    remaining = _number(lower.get("x-ratelimit-remaining"))
    return RateHeaders(
        limit=int(limit) if limit is not None and limit >= 1 else None,
        remaining=max(0, int(remaining)) if remaining is not None else None,
        reset_in=reset_in,
        retry_after=retry_after,
    )


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.split(",")[0])
    except ValueError:
        return None
    return number if math.isfinite(number) else None
