"""A rate-limited gateway for the scheduler's tests: fixed windows, 429 beyond the limit."""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field

from bot.scheduler import RequestBudget, RequestKind, VirtualClock


@dataclass
class FixedWindowGateway:
    """Admit ``limit`` requests per fixed window; answer 429 + Retry-After beyond it.

    ``headers``: "all" sends X-RateLimit-* on every answer, "429" only on 429s,
    "none" sends only Retry-After (and ``retry_after=False`` not even that).
    """

    clock: VirtualClock
    limit: int
    window: float = 60.0
    phase: float = 0.0
    headers: str = "all"
    retry_after: bool = True
    log: list[tuple[float, int]] = field(default_factory=list)  # (time, status)
    counts: dict[float, int] = field(default_factory=dict)  # requests per window start

    def answer(self) -> tuple[int, dict[str, str]]:
        now = self.clock.now()
        start = self.phase + math.floor((now - self.phase) / self.window) * self.window
        count = self.counts[start] = self.counts.get(start, 0) + 1
        reset_in = max(1, math.ceil(start + self.window - now))
        rate = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - count)),
            "X-RateLimit-Reset": str(reset_in),
        }
        status = 429 if count > self.limit else 200
        self.log.append((now, status))
        headers = rate if self.headers == "all" or (status == 429 and self.headers == "429") else {}
        if status == 429 and self.retry_after:
            headers = {**headers, "Retry-After": str(reset_in)}
        return status, headers

    def admitted_per_window(self) -> dict[float, int]:
        counts: dict[float, int] = {}
        for at, status in self.log:
            if status != 429:
                start = self.phase + math.floor((at - self.phase) / self.window) * self.window
                counts[start] = counts.get(start, 0) + 1
        return counts

    @property
    def throttled(self) -> list[float]:
        return [at for at, status in self.log if status == 429]


async def send(
    budget: RequestBudget, gateway: FixedWindowGateway, kind: RequestKind = "poll", rtt: float = 0.2
) -> int:
    """Acquire, make one request (half the round trip each way), observe; return the status."""
    grant = await budget.acquire(kind)
    await asyncio.sleep(rtt / 2)
    status, headers = gateway.answer()
    await asyncio.sleep(rtt / 2)
    budget.observe(status, headers, grant)
    return status
