"""SharedBudget: several processes' budgets drawing from one request log in the database."""

from __future__ import annotations

import asyncio
import itertools
import time

from bot.scheduler import RequestBudget
from bot.scheduler.shared import SharedBudget
from tests.fakes.lemondata.ratelimit import RateLimiter

WINDOW = 1.0
LIMIT = 4


def process_budget(db, *, rpm: int = LIMIT, window: float = WINDOW) -> SharedBudget:
    """One process's budget: ``rpm`` requests per ``window`` locally, and the shared log."""
    local = RequestBudget(rpm=rpm, window=window)
    return SharedBudget(local, key="k", places=db.budget, window=window)


def headers(limit: int, remaining: int, reset_in: float) -> dict[str, str]:
    """The gateway's rate headers, its Reset as a Unix time in milliseconds."""
    reset = int((time.time() + reset_in) * 1000)
    return {
        "X-RateLimit-Limit": str(limit),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": str(reset),
    }


async def test_two_processes_never_overrun_a_gateway_window_whatever_the_latency(db):
    """Requests that take up to 0.4 s to arrive never put five in one of the gateway's
    fixed 1 s windows of four, even though places are taken in bursts."""
    budgets = [process_budget(db), process_budget(db)]
    gateway = RateLimiter()
    refused: list[float] = []
    delays = itertools.cycle([0.4, 0.0, 0.25, 0.05, 0.35, 0.1])

    async def send(budget: SharedBudget, delay: float) -> None:
        grant = await budget.acquire("poll")
        await asyncio.sleep(delay)  # the way to the gateway (a busy machine)
        decision = gateway.check("k", LIMIT, WINDOW, time.monotonic())
        if not decision.admitted:
            refused.append(time.monotonic())
        await asyncio.sleep(delay / 2)  # and back
        budget.observe(200 if decision.admitted else 429, {}, grant)

    await asyncio.wait_for(
        asyncio.gather(*(send(budgets[i % 2], next(delays)) for i in range(16))), 30
    )
    assert refused == []


async def test_a_429_in_one_process_pauses_the_other(db):
    """One process's 429 with Retry-After stops the other's requests until it passes."""
    first, second = process_budget(db), process_budget(db)
    grant = await first.acquire("poll")
    first.observe(429, {"Retry-After": "30"}, grant)
    held = asyncio.create_task(first.acquire("poll"))  # shares the pause, then waits
    for _ in range(500):  # until the pause is in the row (bounded)
        row = await db.db.fetchone("SELECT paused_until FROM request_budget WHERE key = 'k'")
        if float(row["paused_until"]) > time.time() + 25:
            break
        await asyncio.sleep(0.01)
    else:
        raise AssertionError("the 429's pause never reached the shared row")
    with_pause = asyncio.create_task(second.acquire("poll"))
    done, _ = await asyncio.wait({held, with_pause}, timeout=0.5)
    assert not done  # both processes wait out the pause
    held.cancel()
    with_pause.cancel()


async def test_every_process_follows_a_newly_announced_pair(db):
    """60 per 60 s, then the gateway announces 6 per 5 s: both processes hold to 6 per ~5 s
    (not 6 per 60 s, the old window with the new limit), the local budgets too."""
    first, second = process_budget(db, rpm=60, window=60), process_budget(db, rpm=60, window=60)
    grant = await first.acquire("models")
    first.observe(200, headers(60, 59, 60), grant)
    assert first.limit == 60 and 59.9 < first.window < 61
    grant = await first.acquire("poll")
    first.observe(200, headers(6, 5, 5), grant)  # a new window, the first answer of it
    assert first.limit == 6 and 4.9 < first.window < 5.5
    assert first.local.limit == 6
    await first.flush()  # the answer and its pair are in the row
    await second.acquire("poll")  # reads the pair at its place
    assert (second.limit, second.window) == (first.limit, first.window)
    assert second.local.limit == 6
    # A process started later (its configured pair only) follows the newest pair too.
    third = process_budget(db, rpm=60, window=60)
    await third.acquire("poll")
    assert (third.limit, third.window) == (first.limit, first.window)


async def test_an_answer_that_is_not_the_first_of_its_window_announces_no_window(db):
    """Remaining far below the limit: the reset says when the window ends, not its length."""
    budget = process_budget(db, rpm=60, window=60)
    grant = await budget.acquire("poll")
    budget.observe(200, headers(10, 3, 0.5), grant)
    assert budget.window == 60  # not 0.5
    await budget.flush()
    await budget.acquire("poll")
    assert budget.limit == 10  # the limit alone is shared while no pair is known
