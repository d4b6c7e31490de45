"""PollLoop: the planner and the budget driving real coroutines on a simulated clock."""

from __future__ import annotations

import asyncio

from bot.scheduler import (
    Grant,
    PollPick,
    PollPlanner,
    PollResult,
    RequestBudget,
    VirtualClock,
)
from tests.bot.scheduler.gateway import FixedWindowGateway
from tests.bot.scheduler.running import poll_loop


class Throttled(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__("429")
        self.retry_after = retry_after


def test_every_task_is_delivered_without_a_429_at_60_a_minute():
    """100 tasks created and polled through one budget at 60/min: all seen, no 429."""
    clock = VirtualClock()
    gateway = FixedWindowGateway(clock, limit=60, phase=13.0)
    budget = RequestBudget(rpm=60, clock=clock)
    planner = PollPlanner(clock=clock)
    ends: dict[int, float] = {}
    seen: dict[int, float] = {}
    in_flight = peak = 0

    async def poll(pick: PollPick, grant: Grant) -> PollResult:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await clock.sleep(0.1)
        status, headers = gateway.answer()
        await clock.sleep(0.1)
        in_flight -= 1
        budget.observe(status, headers, grant)
        if status == 429:
            raise Throttled(float(headers["Retry-After"]))
        done = clock.now() >= ends[pick.job_id]
        if done:
            seen[pick.job_id] = clock.now()
        return PollResult(done=done)

    async def create(job_id: int) -> None:
        grant = await budget.acquire("create")
        status, headers = gateway.answer()
        budget.observe(status, headers, grant)
        assert status == 200
        ends[job_id] = clock.now() + 5 + job_id % 40
        now = clock.now()
        planner.track(job_id, model="flux-pro", submitted_at=now, deadline=now + 900)

    async def main() -> None:
        async with poll_loop(planner, budget, poll, clock=clock, max_in_flight=4):
            await asyncio.gather(*(create(job_id) for job_id in range(100)))
            while len(seen) < 100:
                await clock.sleep(1)

    clock.run(main())
    assert gateway.throttled == []
    assert all(seen[job_id] >= ends[job_id] for job_id in range(100))
    assert peak <= 4
    assert len(planner) == 0


def test_a_failed_poll_is_retried_after_its_retry_after():
    """A poll that raises with retry_after is tried again no sooner than that."""
    clock = VirtualClock()
    budget = RequestBudget(rpm=60, clock=clock)
    planner = PollPlanner(clock=clock)
    attempts: list[float] = []

    async def poll(pick: PollPick, grant: Grant) -> PollResult:
        attempts.append(clock.now())
        budget.observe(200, {}, grant)
        if len(attempts) == 1:
            raise Throttled(25.0)
        return PollResult(done=True)

    async def main() -> None:
        async with poll_loop(planner, budget, poll, clock=clock):
            planner.track(1, model="nano-banana", submitted_at=0.0)
            while 1 in planner:
                await clock.sleep(1)

    clock.run(main())
    assert len(attempts) == 2
    assert attempts[1] - attempts[0] >= 25.0


class FailingOnce:
    """A budget whose ``acquire`` raises once (a database error in a shared budget)."""

    def __init__(self, budget: RequestBudget) -> None:
        self.budget = budget
        self.failed = 0

    async def acquire(self, kind, *, final=False):
        if not self.failed:
            self.failed += 1
            raise ConnectionError("the budget's database went away")
        return await self.budget.acquire(kind, final=final)

    def release(self, grant):
        self.budget.release(grant)

    def set_poll_demand(self, demand):
        self.budget.set_poll_demand(demand)


def test_the_loop_survives_a_budget_that_raises(caplog):
    """acquire raises once: one warning names the error, a back-off, then the task ends."""
    clock = VirtualClock()
    budget = FailingOnce(RequestBudget(rpm=60, clock=clock))
    planner = PollPlanner(clock=clock)
    polled: list[float] = []

    async def poll(pick: PollPick, grant: Grant) -> PollResult:
        polled.append(clock.now())
        budget.budget.observe(200, {}, grant)
        return PollResult(done=True)

    async def main() -> None:
        async with poll_loop(planner, budget, poll, clock=clock) as runner:
            planner.track(1, model="nano-banana", submitted_at=0.0)
            while 1 in planner and not runner.done():
                await clock.sleep(0.5)
            assert not runner.done(), "the poll loop died"

    with caplog.at_level("WARNING", logger="bot.scheduler.loop"):
        clock.run(main())
    assert budget.failed == 1 and len(polled) == 1
    assert 1 not in planner
    [record] = [r for r in caplog.records if r.name == "bot.scheduler.loop"]
    assert "the budget's database went away" in record.getMessage()
    assert record.exc_info is None  # one line, no traceback
