"""Benchmark: the poll allowance, cold start and steady state, on a simulated clock.

The issue-20 case: one model whose tasks take about 13-26 s (log-normal, median 18 s,
sigma 0.23), 8 tasks at once, on the simulated gateway of ``bench_scheduler`` (0.15 s
round trip, X-RateLimit headers). Each round is a fresh bot: **cold** knows nothing
(the planner's family prior for GPT Image 2, ~60 s), **steady** learned 8 earlier
tasks of the model from the ledger (drawn from the same truth), **steady, 50** learned
50 (the fit's memory); the **oracle** is told the true distribution. Each is compared,
on the same tasks in the same run, with fixed polling every 5 s and with fixed polling
at the interval that spends the same number of polls as it did (found by bisection).
Rounds are repeated until 320 tasks were measured, at 1,000 requests a minute (the
limit does not bind) and at 60 (the emulator's; the budget paces polls over the window).

Run: ``python bench/bench_allowance.py`` (or ``python bench/run.py allowance``).
"""

from __future__ import annotations

import math
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench._common import Report, fmt  # noqa: E402
from bench.bench_scheduler import (  # noqa: E402
    RTT,
    Kind,
    LedgerJob,
    Outcome,
    SimTask,
    fresh,
    run_naive,
    run_scheduler,
)
from bot.scheduler import DurationModel, Estimate, LogNormal  # noqa: E402

SEED = 20261207
KIND = Kind("gpt-image-2", {}, 1.0, 18.0, 0.23)
CONCURRENCY = 8
ROUNDS = 40
LIMITS = (1000, 60)
TARGET = 0.45
BASELINE = 5.0


class Oracle(DurationModel):
    """The planner told the truth: the model's real log-normal."""

    def estimate(self, model: str, option_key: str = "") -> Estimate:
        return Estimate(LogNormal.from_median(KIND.median, KIND.sigma), math.inf)

    def learn(self, model: str, option_key: str, duration: float) -> None:
        """The oracle knows already."""


def draw(rng: random.Random) -> float:
    return KIND.median * math.exp(rng.gauss(0.0, KIND.sigma))


def history(rng: random.Random, count: int) -> list[LedgerJob]:
    jobs = []
    for _ in range(count):
        finished = 1_700_000_000 + rng.uniform(0, 86_400)
        duration = draw(rng) + RTT
        jobs.append(LedgerJob(KIND.model, {}, "succeeded", "t", finished - duration, finished))
    return jobs


def combine(parts: list[Outcome]) -> Outcome:
    """One outcome of several rounds (each round its own fresh bot)."""
    delays = [d for o in parts for d in o.delays]
    tasks = sum(o.tasks for o in parts)
    return Outcome(
        delays=delays,
        tasks=tasks,
        polls=sum(o.polls for o in parts),
        requests=sum(o.requests for o in parts),
        throttled=sum(o.throttled for o in parts),
        timed_out=sum(o.timed_out for o in parts),
        end_to_end=statistics.fmean(o.end_to_end for o in parts),
        sim_seconds=sum(o.sim_seconds for o in parts),
        wall_seconds=sum(o.wall_seconds for o in parts),
        usage=statistics.fmean(o.usage for o in parts),
    )


def naive(rounds: list[list[SimTask]], limit: int, interval: float) -> Outcome:
    return combine([run_naive(fresh([b]), limit, 0.0, interval) for b in rounds])


def same_polls(rounds: list[list[SimTask]], limit: int, polls: int) -> tuple[float, Outcome]:
    """Return the fixed interval that spends ``polls`` (or just fewer), and its outcome."""
    low, high = 0.5, 30.0
    best = (high, naive(rounds, limit, high))
    for _ in range(14):
        middle = math.sqrt(low * high)
        result = naive(rounds, limit, middle)
        if result.polls > polls:
            low = middle
        else:
            high, best = middle, (middle, result)
    return best


def run() -> Report:
    report = Report(
        title=f"Poll allowance: {CONCURRENCY} tasks at once of one model (median "
        f"{KIND.median:g} s, sigma {KIND.sigma}), simulated gateway",
        baseline="fixed polling every 5 s on the same tasks, same run; 'same polls' = fixed "
        "polling at the interval that spends the strategy's polls; delay = completion to "
        "detection",
    )
    rng = random.Random(SEED)
    rounds = [
        [SimTask(r * CONCURRENCY + i, KIND, draw(rng), rng.randrange(2**32)) for i in range(8)]
        for r in range(ROUNDS)
    ]
    ledgers = {
        name: [history(random.Random(SEED + 1000 * n + r), n) for r in range(ROUNDS)]
        for name, n in (("cold", 0), ("steady", 8), ("steady, 50", 50))
    }
    started = time.perf_counter()
    first: dict[str, Outcome] = {}
    for limit in LIMITS:
        base = naive(rounds, limit, BASELINE)
        report.add(f"@{limit}rpm fixed 5 s: mean delay", base.mean, "s")
        report.add(f"@{limit}rpm fixed 5 s: polls per task", base.polls / base.tasks, "polls")
        strategies = {
            name: combine(
                [
                    run_scheduler(fresh([b]), limit, 0.0, history=ledgers[name][r])
                    for r, b in enumerate(rounds)
                ]
            )
            for name in ledgers
        }
        strategies["oracle"] = combine(
            [run_scheduler(fresh([b]), limit, 0.0, history=[], durations=Oracle()) for b in rounds]
        )
        for name, ours in strategies.items():
            interval, same = same_polls(rounds, limit, ours.polls)
            label = f"@{limit}rpm {name}"
            report.add(f"{label}: mean delay vs 5 s", ours.mean, "s", base.mean)
            report.add(f"{label}: polls vs 5 s", ours.polls, "polls", base.polls)
            report.add(f"{label}: mean delay vs same polls", ours.mean, "s", same.mean)
            report.notes.append(
                f"@{limit}rpm {name}: {ours.mean / base.mean:.2f}x the delay of 5 s polling "
                f"at {ours.polls / base.polls:.2f}x its polls; fixed polling at the same "
                f"polls is every {interval:.2f} s ({fmt(same.polls)} polls, mean "
                f"{fmt(same.mean)} s); {ours.throttled} 429s"
            )
        first = first or {**strategies, "base": base}
        steady, oracle = strategies["steady"], strategies["oracle"]
        verdict = (
            "PASS" if steady.mean <= TARGET * base.mean and steady.polls <= base.polls else ("FAIL")
        )
        report.notes.append(
            f"{verdict} @{limit}rpm steady state: {steady.mean / base.mean:.2f}x the delay of "
            f"5 s polling (target <= {TARGET}x) at {steady.polls / base.polls:.2f}x its polls "
            f"(target <= 1.00x); the oracle reaches {oracle.mean / base.mean:.2f}x at "
            f"{oracle.polls / base.polls:.2f}x"
        )
    report.notes += explain(ledgers)
    ratio = {name: o.mean / first["base"].mean for name, o in first.items()}
    report.notes.append(
        f"why steady misses {TARGET}x at @{LIMITS[0]}rpm: not for want of polls (it spends "
        f"{first['steady'].polls / first['base'].polls:.2f}x those of 5 s polling) but for "
        "its fit (above): 8 durations leave the median high (the family prior, 60 s, "
        "pulls) and sigma wide (the prior's spread counts as 3 observations), so the "
        f"polls are spread too wide: {ratio['steady']:.2f}x; learned from 50 it gets "
        f"{ratio['steady, 50']:.2f}x, told the truth {ratio['oracle']:.2f}x (its hedge "
        f"spends {first['oracle'].polls / first['base'].polls:.2f}x the polls). The cold start "
        f"believes 60 s: it spends few polls, late ({ratio['cold']:.2f}x the delay)"
    )
    report.notes.append(
        f"{ROUNDS} rounds of {CONCURRENCY} tasks (each a fresh bot); "
        f"{time.perf_counter() - started:.1f} s of wall time"
    )
    return report


def explain(ledgers: dict[str, list[list[LedgerJob]]]) -> list[str]:
    """Say what the planner believed in each case: its fit against the truth."""
    out = []
    for name, per_round in ledgers.items():
        fits = []
        for jobs in per_round:
            model = DurationModel()
            model.learn_history(jobs)
            fits.append(model.estimate(KIND.model).duration)
        median = statistics.fmean(f.median for f in fits)
        sigma = statistics.fmean(f.sigma for f in fits)
        out.append(
            f"{name}: the planner's fit has median {median:.1f} s and sigma {sigma:.2f} on "
            f"average (truth {KIND.median:g} s, {KIND.sigma}); the polls are placed by it"
        )
    return out


def main() -> None:
    print(run().render())


if __name__ == "__main__":
    main()
