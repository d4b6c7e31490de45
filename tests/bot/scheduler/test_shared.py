"""SharedBudget: several processes' budgets drawing from one window in the database."""

from __future__ import annotations

import asyncio
import time

from bot.scheduler import RequestBudget
from bot.scheduler.shared import SharedBudget

WINDOW = 2.0
LIMIT = 5


def process_budget(db) -> SharedBudget:
    """One process's budget: 5 requests per 2 s locally, and a place in the shared window."""
    local = RequestBudget(rpm=LIMIT, window=WINDOW)
    return SharedBudget(local, key="k", take=db.budget.take, pause=db.budget.pause, window=WINDOW)


async def test_two_processes_together_stay_within_the_window(db):
    """Each process alone would send 5 a window; together they still send only 5."""
    budgets = [process_budget(db), process_budget(db)]
    sent: list[float] = []

    async def send(budget: SharedBudget) -> None:
        grant = await budget.acquire("poll")
        sent.append(time.time())
        budget.observe(200, {}, grant)

    await asyncio.wait_for(asyncio.gather(*(send(budgets[i % 2]) for i in range(12))), 20)
    assert len(sent) == 12
    # A window opens at the first request after the last one ended (as the gateway's do).
    windows: list[list[float]] = []
    for at in sorted(sent):
        if not windows or at >= windows[-1][0] + WINDOW:
            windows.append([at])
        else:
            windows[-1].append(at)
    assert max(len(w) for w in windows) <= LIMIT
    assert len(windows) >= 3  # 12 requests at 5 a window need three windows at least


async def test_a_429_in_one_process_pauses_the_other(db):
    """One process's 429 with Retry-After stops the other's requests until it passes."""
    first, second = process_budget(db), process_budget(db)
    grant = await first.acquire("poll")
    first.observe(429, {"Retry-After": "30"}, grant)
    await first._pause(first._key, first._pause_until)  # what its next acquire shares first
    assert await db.budget.take("k", limit=LIMIT, window=WINDOW, now=time.time()) > 25
    with_pause = asyncio.create_task(second.acquire("poll"))
    done, _ = await asyncio.wait({with_pause}, timeout=0.3)
    assert not done  # the other process waits out the pause
    with_pause.cancel()
