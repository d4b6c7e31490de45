"""The poll allowance: each task may spend the polls of fixed 5-s polling, placed to cut delay.

Everything here is computed: expected polls and delays are integrals over a known
log-normal, no clock runs and nothing is timed.
"""

from __future__ import annotations

import math

import pytest

from bot.scheduler import CompletionTime, LogNormal, PollPlanner, VirtualClock
from bot.scheduler.allowance import expected_polls, fixed_polls, price_for

TRUTH = LogNormal.from_median(18.0, 0.23)  # the issue-20 model: tasks of about 13-26 s
SLOW = LogNormal.from_median(60.0, 0.23)  # GPT Image 2 as its family prior says
MODEL = "gpt-image-2"


def plain(dist: LogNormal) -> CompletionTime:
    return CompletionTime(dist, dist, 0.0)


def fixed(interval: float) -> list[float]:
    return [interval * k for k in range(1, 400)]


def expected_delay(dist: LogNormal, times: list[float]) -> float:
    """Mean time from completion to the first poll at or after it (midpoint rule)."""
    total, before = 0.0, 0.0
    for at in times:
        steps = 200
        width = (at - before) / steps
        for k in range(steps):
            t = before + (k + 0.5) * width
            total += (at - t) * dist.density(t) * width
        before = at
        if dist.survival(at) < 1e-9:
            break
    return total


def planned(planner: PollPlanner, clock: VirtualClock, job_id: int, until: float) -> list[float]:
    """Poll a task whenever the planner says, always finding it running; return the times."""
    times = []
    while (due := planner.next_planned(job_id)) is not None and due <= until:
        clock.advance(max(0.0, due - clock.now()))
        [pick] = planner.choose(1)
        assert pick.job_id == job_id
        times.append(clock.now())
        planner.polled(job_id, done=False)
    return times


def taught(
    clock: VirtualClock, truth: LogNormal = TRUTH, allowance_interval: float | None = 5.0
) -> PollPlanner:
    planner = PollPlanner(clock=clock, allowance_interval=allowance_interval)
    for k in range(60):  # the truth's quantiles in a mixed order, as a long ledger would teach
        planner.learn(MODEL, "", truth.quantile((k * 37 % 60 + 0.5) / 60))
    return planner


def test_fixed_polls_counts_the_polls_of_polling_every_interval():
    """A task that surely ends at 12 s, polled every 5 s: at 5, 10 and 15 s."""
    assert fixed_polls(plain(LogNormal.from_median(12.0, 0.01)), 5.0) == pytest.approx(3.0)
    assert fixed_polls(plain(LogNormal.from_median(12.0, 0.01)), 5.0, horizon=8.0) == (
        pytest.approx(2.0)
    )


@pytest.mark.parametrize(("median", "sigma"), [(8, 0.3), (18, 0.23), (18, 0.4), (75, 0.22)])
def test_the_price_spends_the_allowance(median, sigma):
    """The schedule at price_for's price expects as many polls as fixed 5-s polling."""
    dist = plain(LogNormal.from_median(median, sigma))
    price = price_for(dist, interval=5.0, ceiling=10.0)
    times, at = [], 0.0
    while dist.survival(at) > 1e-6:
        at = max(dist.next_poll(at, price, math.inf), at + 0.01)
        times.append(at)
    assert expected_polls(dist, times) == pytest.approx(fixed_polls(dist, 5.0), abs=0.5)


@pytest.mark.parametrize("truth", [TRUTH, SLOW])
def test_a_learned_model_spends_up_to_five_second_polling_for_far_less_delay(truth):
    """Taught the truth, the planner's polls cost about fixed 5 s's, at under half its delay.

    Fixed polling at the same number of polls does far worse than the planner.
    """
    baseline = fixed(5.0)
    base_polls, base_delay = expected_polls(plain(truth), baseline), expected_delay(truth, baseline)
    clock = VirtualClock()
    planner = taught(clock, truth)
    planner.track(1, model=MODEL, submitted_at=0.0)
    times = planned(planner, clock, 1, until=10 * truth.median)
    polls, delay = expected_polls(plain(truth), times), expected_delay(truth, times)
    assert 0.9 * base_polls <= polls <= 1.1 * base_polls  # the hedge costs a few more
    assert delay < 0.5 * base_delay
    interval = 5.0 * base_polls / polls  # fixed polling at the same polls, about
    assert delay < 0.5 * expected_delay(truth, fixed(interval))


def test_without_an_allowance_the_planner_keeps_its_price():
    """allowance_interval=None (the old rule): a slow model's tasks get far fewer polls and
    about twice the delay; the allowance spends what 5-s polling would on them."""
    clocks = VirtualClock(), VirtualClock()
    spending = taught(clocks[0], SLOW)
    frugal = taught(clocks[1], SLOW, allowance_interval=None)
    for planner in (spending, frugal):
        planner.track(1, model=MODEL, submitted_at=0.0)
    rich, poor = planned(spending, clocks[0], 1, 600.0), planned(frugal, clocks[1], 1, 600.0)
    assert expected_polls(plain(SLOW), poor) < 0.75 * expected_polls(plain(SLOW), rich)
    assert expected_delay(SLOW, poor) > 1.5 * expected_delay(SLOW, rich)
    assert frugal.polls_wanted() == math.inf


def test_polls_wanted_is_each_tasks_allowance_less_its_polls():
    """The budget's view of demand: allowance - polls per task, at least one, gone when done."""
    clock = VirtualClock()
    planner = taught(clock)
    planner.track(1, model=MODEL, submitted_at=0.0)
    planner.track(2, model=MODEL, submitted_at=0.0)
    dist = planner.durations.estimate(MODEL).duration
    allowance = fixed_polls(plain(dist), 5.0)
    assert planner.polls_wanted() == pytest.approx(2 * allowance)
    planned(planner, clock, 1, until=planner.next_planned(1) or 0.0)  # one poll of task 1
    assert planner.polls_wanted() == pytest.approx(2 * allowance - 1)
    planner.forget(2)
    assert planner.polls_wanted() == pytest.approx(allowance - 1)
    planned(planner, clock, 1, until=600.0)  # far past its allowance: it still wants one
    assert planner.polls_wanted() == pytest.approx(1.0)
