"""PollPlanner on a simulated clock: where polls go, what is learned, no starvation."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from bot.scheduler import (
    Due,
    Grant,
    PollPick,
    PollPlanner,
    PollResult,
    RequestBudget,
    VirtualClock,
)
from tests.bot.scheduler.running import poll_loop

FAST, SLOW = "gemini-2.5-flash-image", "gpt-image-2"
BUDGET_SLACK = 5.0  # what waiting for a grant may add to a planned poll, at 60 a minute


def planner_with_history(clock: VirtualClock) -> PollPlanner:
    planner = PollPlanner(clock=clock)
    for _ in range(20):
        planner.learn(FAST, "", 8.0)
        planner.learn(SLOW, "quality=high", 70.0)
    return planner


def test_a_slow_model_is_polled_later_than_a_fast_one():
    """Fed the ledger, the planner's first poll of gpt-image-2 high waits far longer."""
    clock = VirtualClock()
    planner = planner_with_history(clock)
    planner.track(1, model=FAST, submitted_at=0.0)
    planner.track(2, model=SLOW, option_key="quality=high", submitted_at=0.0)
    fast, slow = planner.next_planned(1), planner.next_planned(2)
    assert fast is not None and slow is not None
    assert 3.0 < fast < 8.0
    # 2x, not 4x as before the poll allowance: a slow model's many allowed polls start
    # in its estimate's wide hedge, well before its likeliest end.
    assert slow > 2 * fast
    assert planner.next_due() == Due(fast, final=False)


def test_learning_moves_when_a_model_is_first_polled():
    """A model that proves slow in the ledger is first polled later than before."""
    clock = VirtualClock()
    fresh, taught = PollPlanner(clock=clock), PollPlanner(clock=clock)
    taught.learn_history([])  # an empty ledger changes nothing
    for _ in range(20):
        taught.learn("mystery", "", 100.0)
    for planner in (fresh, taught):
        planner.track(1, model="mystery", submitted_at=0.0)
    assert taught.expected_duration("mystery") > 3 * fresh.expected_duration("mystery")
    assert (taught.next_planned(1) or 0) > 3 * (fresh.next_planned(1) or 0)


def poll_when_due(clock: VirtualClock, planner: PollPlanner, job_id: int) -> PollPick:
    """Advance to the task's planned poll and take it, as the poll loop would."""
    due = planner.next_planned(job_id)
    assert due is not None
    clock.advance(max(0.0, due - clock.now()))
    [pick] = planner.choose(1)
    assert pick.job_id == job_id
    return pick


def test_progress_brings_the_next_poll_forward():
    """A slow model reporting 80 % at its first poll is polled again much sooner."""
    gaps = {}
    for progress in (80, None):
        clock = VirtualClock()
        planner = PollPlanner(clock=clock)
        planner.track(1, model=SLOW, submitted_at=0.0)
        first = poll_when_due(clock, planner, 1)
        planner.polled(first.job_id, done=False, progress=progress)
        gaps[progress] = (planner.next_planned(1) or 0) - clock.now()
    # 80 % after t says t / 0.8 in all: about a quarter of t to go, polled densely.
    assert gaps[80] < gaps[None] / 2


def test_polled_learns_the_duration_of_a_finished_task():
    """A task seen ending teaches its duration: the likeliest moment between two polls."""
    clock = VirtualClock()
    planner = PollPlanner(clock=clock)
    ends = []
    for job_id in range(10):
        start = clock.now()
        planner.track(job_id, model="mystery", submitted_at=start)
        planner.polled(poll_when_due(clock, planner, job_id).job_id, done=False)
        last = clock.now() - start
        planner.polled(poll_when_due(clock, planner, job_id).job_id, done=True)
        ends.append((last, clock.now() - start))
        assert job_id not in planner
    median = planner.durations.estimate("mystery").duration.median
    assert min(a for a, _ in ends) < median < max(b for _, b in ends)


def test_under_a_tight_budget_the_likeliest_task_is_polled():
    """With one grant and two due tasks, the one more likely done gets it."""
    clock = VirtualClock()
    planner = planner_with_history(clock)
    planner.track(1, model=SLOW, option_key="quality=high", submitted_at=0.0)
    planner.track(2, model=FAST, submitted_at=0.0)
    clock.advance(12.0)  # both due; the fast one is far more likely to have ended
    [pick] = planner.choose(1)
    assert pick.job_id == 2 and pick.chance > 0.9
    assert planner.next_planned(2) is None  # in flight now


def test_the_deadline_gets_a_final_poll():
    """A task whose deadline comes before its expected end gets a final poll at it."""
    clock = VirtualClock()
    planner = planner_with_history(clock)
    planner.track(1, model=SLOW, option_key="quality=high", submitted_at=0.0, deadline=20.0)
    assert planner.next_due() == Due(20.0, final=True)
    clock.advance(20.0)
    [pick] = planner.choose(1)
    assert pick.final
    planner.polled(1, done=False)
    assert 1 not in planner  # the caller times it out
    assert planner.next_due() is None


def test_a_failed_poll_is_retried_after_retry_after():
    """poll_failed puts the task back, no earlier than Retry-After."""
    clock = VirtualClock()
    planner = planner_with_history(clock)
    planner.track(1, model=FAST, submitted_at=0.0)
    clock.advance(10.0)
    [pick] = planner.choose(1)
    planner.poll_failed(pick.job_id, retry_after=30.0)
    assert planner.next_planned(1) == 40.0


def test_the_schedule_is_deterministic():
    """Two planners given the same tasks and answers plan the same polls."""
    plans = []
    for _ in range(2):
        clock = VirtualClock()
        planner = planner_with_history(clock)
        for job_id in range(20):
            model = (FAST, SLOW)[job_id % 2]
            planner.track(job_id, model=model, submitted_at=job_id * 0.5)
        plans.append([planner.next_planned(j) for j in range(20)])
    assert plans[0] == plans[1]


def test_no_task_starves_under_a_tight_budget():
    """Random tasks at 60 requests a minute: each is polled at least every
    max(2 x expected, 30 s) (plus what the budget makes it wait) and at its deadline."""
    clock = VirtualClock()
    rng = random.Random(3)
    models = [(FAST, "", 8.0), ("flux-pro", "", 16.0), (SLOW, "quality=high", 70.0)]
    budget = RequestBudget(rpm=60, clock=clock)
    planner = PollPlanner(clock=clock)
    polls: dict[int, list[float]] = {}
    ends: dict[int, float] = {}
    deadlines: dict[int, float] = {}
    finals: dict[int, float] = {}
    outcome: dict[int, str] = {}
    starts: dict[int, float] = {}
    bounds: dict[int, float] = {}

    async def poll(pick: PollPick, grant: Grant) -> PollResult:
        await clock.sleep(0.2)
        polls[pick.job_id].append(grant.at)
        budget.observe(200, {}, grant)
        done = clock.now() >= ends[pick.job_id]
        if pick.final:
            finals[pick.job_id] = grant.at
        if done or pick.final:
            outcome[pick.job_id] = "done" if done else "timed out"
        return PollResult(done=done)

    async def main() -> None:
        async with poll_loop(planner, budget, poll, clock=clock):
            for job_id in range(20):
                model, key, median = rng.choice(models)
                start = clock.now()
                polls[job_id] = []
                # Some run far longer than expected, some past their deadline.
                ends[job_id] = start + median * math.exp(rng.gauss(0, 0.8))
                deadlines[job_id] = start + rng.uniform(60, 240)
                starts[job_id] = start
                bounds[job_id] = max(2 * planner.expected_duration(model, key), 30.0)
                planner.track(
                    job_id,
                    model=model,
                    option_key=key,
                    submitted_at=start,
                    deadline=deadlines[job_id],
                )
                await clock.sleep(rng.uniform(0, 5))
            while len(outcome) < 20:
                await clock.sleep(5)

    clock.run(main())
    assert sorted(outcome) == list(range(20))
    for job_id, times in polls.items():
        since = [starts[job_id], *times]
        gaps = [later - earlier for earlier, later in itertools.pairwise(since)]
        assert max(gaps) <= bounds[job_id] + BUDGET_SLACK, (job_id, gaps, bounds[job_id])
        if outcome[job_id] == "timed out":
            assert times[-1] == finals[job_id] >= deadlines[job_id]  # a final look
        else:
            assert ends[job_id] <= times[-1] <= deadlines[job_id] + BUDGET_SLACK
    assert "timed out" in outcome.values() and "done" in outcome.values()


@pytest.mark.parametrize("count", [1, 3])
def test_choose_takes_several_in_order(count):
    """choose(n) returns up to n due tasks, the likeliest first."""
    clock = VirtualClock()
    planner = planner_with_history(clock)
    for job_id in range(3):
        planner.track(job_id, model=FAST, submitted_at=-job_id * 3.0)
    clock.advance(9.0)
    picks = planner.choose(count)
    assert [p.job_id for p in picks] == [2, 1, 0][:count]
    assert all(a.chance >= b.chance for a, b in itertools.pairwise(picks))
