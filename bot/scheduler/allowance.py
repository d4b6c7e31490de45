"""Poll allowances: spend the polls fixed polling would, where they cut the most delay.

A task polled every ``interval`` seconds (the gateway's advice is 5 s) costs
``1 + sum_k S(k * interval)`` polls on average, ``S`` its survival function. The planner
may spend as many on it, but places them where they save the most delay: at the rate
``sqrt(hazard / (2 * price))`` (:meth:`CompletionTime.next_poll`), with the price chosen
so that the expected number of polls of that schedule is the allowance. That expected
number is ``1/2 + J / sqrt(2 * price)`` with ``J = integral of sqrt(hazard) * S``: the
polls are the integral of the rate over the time the task still runs, give or take
half a poll (the first poll always goes; the last one may overshoot), so the price has
a closed form: ``price = (J / (allowance - 1/2))^2 / 2``.
"""

from __future__ import annotations

import math

from bot.scheduler.estimates import CompletionTime

ALLOWANCE_INTERVAL = 5.0  # seconds: the fixed polling whose polls a task may spend
MIN_PRICE = 0.02  # a poll is always worth at least this much delay (at most ~1/0.1 s rate)
MAX_PRICE = 5.0  # ... and at most this much (a task fixed polling would poll once or twice)
TAIL = 1e-4  # sums and integrals stop where this share of tasks is still running
MAX_TERMS = 10_000


def fixed_polls(dist: CompletionTime, interval: float, horizon: float = math.inf) -> float:
    """Return the expected polls of polling every ``interval`` s from submission on.

    The k-th poll (at ``k * interval``) goes when the task still ran at the one before;
    none goes after ``horizon`` (the deadline) but one, the final poll.
    """
    if interval <= 0:
        raise ValueError("interval must be positive")
    total = 1.0
    for k in range(1, MAX_TERMS):
        at = k * interval
        alive = dist.survival(at)
        if at >= horizon or alive < TAIL:
            break
        total += alive
    return total


def rate_integral(dist: CompletionTime, horizon: float = math.inf) -> float:
    """Return ``J``: the integral of ``sqrt(hazard(t)) * S(t)`` from 0 to ``horizon``.

    Integrated in log-time (``dt = t du``) with the same steps as ``next_poll``.
    """
    main, hedge = dist.main, dist.hedge
    u = min(main.mu - 6 * main.sigma, hedge.mu - 5 * hedge.sigma)
    total = 0.0
    for _ in range(MAX_TERMS):
        near_main = abs((u - main.mu) / main.sigma) < 5
        step = 0.15 * (main.sigma if near_main else hedge.sigma)
        t = math.exp(u + step / 2)
        alive = dist.survival(t)
        if t >= horizon or alive < TAIL:
            break
        total += math.sqrt(dist.hazard(t)) * alive * t * step
        u += step
    return total


def price_for(
    dist: CompletionTime,
    *,
    interval: float = ALLOWANCE_INTERVAL,
    ceiling: float,
    floor: float = MIN_PRICE,
    horizon: float = math.inf,
) -> float:
    """Return the poll price that spends what polling every ``interval`` s would.

    The price stays within ``[floor, ceiling]``: at ``ceiling`` (the planner's own
    price) a task that needs fewer polls than fixed polling keeps them; ``floor``
    bounds how densely a narrow distribution is polled.
    """
    allowance = fixed_polls(dist, interval, horizon)
    spare = allowance - 0.5
    integral = rate_integral(dist, horizon)
    if spare <= 0 or integral <= 0:
        return ceiling
    return min(ceiling, max(floor, (integral / spare) ** 2 / 2))


def expected_polls(dist: CompletionTime, times: list[float]) -> float:
    """Return the expected polls of a schedule ``times`` (seconds since submission).

    The i-th poll goes when the task still ran at the one before it.
    """
    total, before = 0.0, 0.0
    for at in times:
        total += dist.survival(before)
        before = at
    return total
