"""PollPlanner: which running task to poll, and when (see :mod:`bot.scheduler`)."""

from __future__ import annotations

import heapq
import itertools
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.scheduler.allowance import ALLOWANCE_INTERVAL, MAX_PRICE, fixed_polls, price_for
from bot.scheduler.clock import Clock, LoopClock
from bot.scheduler.estimates import CompletionTime, DurationModel, FinishedJob

log = logging.getLogger(__name__)

# What one poll is worth, in seconds of mean detection delay: a poll is placed where
# it is expected to save at least that much. Lower spends more polls for less delay.
# It is the most a poll costs: each task may spend the polls of fixed polling every
# ALLOWANCE_INTERVAL seconds, which lowers its price (bot.scheduler.allowance).
POLL_PRICE = 0.25
PRICE_CACHE = 1024  # (mu, sigma) pairs whose allowance price is kept
MIN_GAP = 0.5  # seconds between two polls of one task, at least
STARVATION_FLOOR = 30.0  # a task is polled at least every max(2 x its mean, this)
MAX_GAP: float | None = None  # ... and at least this often, when set (POLL_MAX_INTERVAL_SECONDS)
CANDIDATES = 64  # under a tight budget, the most overdue tasks compared for a slot
FORECAST_TTL = 2.0  # seconds an expected_done() figure is reused
LIKELY = 0.5  # a poll this likely to find its task ended goes before creates


@dataclass(frozen=True)
class Due:
    """When the next poll is wanted, and whether it is a task's final one."""

    at: float
    final: bool


@dataclass(frozen=True)
class PollPick:
    """A task to poll now."""

    job_id: int
    final: bool  # at or past the deadline: the task's last poll
    chance: float  # P(the task ended since its last poll), as estimated


@dataclass(eq=False)
class _Task:
    job_id: int
    model: str
    option_key: str
    submitted_at: float
    deadline: float
    prior: CompletionTime
    dist: CompletionTime
    longest: float
    alive_at: float  # when it was last known to be running
    next_at: float = math.inf
    final: bool = False
    sent_at: float | None = None  # a poll is in flight since then
    polls: int = 0
    version: int = 0
    price: float = POLL_PRICE
    allowance: float = math.inf  # the polls fixed polling would spend on it, expected


class PollPlanner:
    """Decide which tracked task to poll and when, from learned completion times.

    The poll loop asks :meth:`next_due` when to wake, acquires a budget grant, asks
    :meth:`choose` which task(s) to poll with it, and reports each answer with
    :meth:`polled` (or :meth:`poll_failed`). All times are in the clock's time.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        durations: DurationModel | None = None,
        price: float = POLL_PRICE,
        min_gap: float = MIN_GAP,
        starvation_floor: float = STARVATION_FLOOR,
        max_gap: float | None = MAX_GAP,
        allowance_interval: float | None = ALLOWANCE_INTERVAL,
    ) -> None:
        self._clock = clock or LoopClock()
        self.durations = durations or DurationModel()
        self._price = price
        self._min_gap = min_gap
        self._floor = starvation_floor
        self._max_gap = max_gap  # a hard bound on the time between two polls of a task
        self._allowance = allowance_interval  # None: every task at ``price``
        self._prices: dict[tuple[float, float, int], tuple[float, float]] = {}
        self._wanted = 0.0  # sum of _want() over the tracked tasks
        self._tasks: dict[int, _Task] = {}
        self._heap: list[tuple[float, int, int, int]] = []  # (at, seq, job id, version)
        self._finals: list[tuple[float, int, int, int]] = []
        self._seq = itertools.count()
        self._listeners: list[Callable[[], None]] = []
        self._expected: tuple[tuple[float, float], float] | None = None

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._tasks

    def add_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` whenever the schedule changes (a poll loop wakes on it)."""
        self._listeners.append(callback)

    # ------------------------------------------------------------------ learning

    def learn(self, model: str, option_key: str, duration: float) -> None:
        """Record a finished task's duration (for history; polled() learns by itself)."""
        self.durations.learn(model, option_key, duration)

    def learn_history(self, jobs: Iterable[FinishedJob]) -> int:
        """Learn from the ledger's finished jobs; return how many were used."""
        return self.durations.learn_history(jobs)

    def expected_duration(self, model: str, option_key: str = "") -> float:
        """Return the mean completion time expected of a new task of this kind."""
        return self.durations.estimate(model, option_key).duration.mean

    # ------------------------------------------------------------------ tracking

    def track(
        self,
        job_id: int,
        *,
        model: str,
        option_key: str = "",
        submitted_at: float | None = None,
        deadline: float = math.inf,
        progress: int | None = None,
    ) -> None:
        """Start planning polls for a running task (a no-op if tracked already)."""
        if job_id in self._tasks:
            return
        now = self._clock.now()
        submitted = now if submitted_at is None else submitted_at
        estimate = self.durations.estimate(model, option_key).duration
        prior = CompletionTime.from_estimate(estimate)
        task = _Task(
            job_id,
            model,
            option_key,
            submitted,
            deadline,
            prior,
            prior,
            self._longest(estimate.mean),
            alive_at=min(submitted, now),
        )
        task.price, task.allowance = self._allow(prior, deadline - submitted)
        if progress:
            task.dist = prior.with_progress(now - submitted, progress)
        self._tasks[job_id] = task
        self._wanted += self._want(task)
        self._schedule(task)

    def price_for(self, dist: CompletionTime, horizon: float = math.inf) -> float:
        """Return the poll price of a new task: what spends fixed polling's polls on it.

        The allowance (the polls of polling every ``allowance_interval`` s) and the price
        are reckoned on the estimate without its hedge, so a task that follows its
        estimate spends about its allowance: a slow model's tasks get cheaper polls, a
        fast one's dearer. Without an allowance interval, the planner's own price.
        """
        return self._allow(dist, horizon)[0]

    def polls_wanted(self) -> float:
        """Return how many polls the tracked tasks are still expected to want.

        Each task its allowance less the polls it had, at least one; infinite without
        an allowance (the budget then paces polls as if the window could not hold them).
        """
        return self._wanted if self._allowance is not None else math.inf

    def _allow(self, dist: CompletionTime, horizon: float) -> tuple[float, float]:
        if self._allowance is None:
            return self._price, math.inf
        main = dist.main
        key = (round(main.mu, 4), round(main.sigma, 4), round(min(horizon, 1e9)))
        found = self._prices.get(key)
        if found is None:
            if len(self._prices) >= PRICE_CACHE:
                self._prices.clear()
            plain = CompletionTime(main, main, 0.0)
            price = price_for(plain, interval=self._allowance, ceiling=MAX_PRICE, horizon=horizon)
            found = (price, fixed_polls(plain, self._allowance, horizon))
            self._prices[key] = found
        return found

    @staticmethod
    def _want(task: _Task) -> float:
        return max(1.0, task.allowance - task.polls) if math.isfinite(task.allowance) else 1.0

    def _longest(self, mean: float) -> float:
        """Return the most time a task may go unpolled (its starvation bound)."""
        longest = max(2 * mean, self._floor)
        return longest if self._max_gap is None else min(longest, self._max_gap)

    def forget(self, job_id: int) -> None:
        """Stop planning polls for a task."""
        if (task := self._tasks.pop(job_id, None)) is not None:
            self._wanted -= self._want(task)
            self._changed()

    def next_planned(self, job_id: int) -> float | None:
        """When the task's next poll is planned (None: untracked or in flight)."""
        task = self._tasks.get(job_id)
        return None if task is None or task.sent_at is not None else task.next_at

    def next_due(self) -> Due | None:
        """Return when the next poll is wanted (None: nothing to poll)."""
        best: Due | None = None
        for heap, final in ((self._finals, True), (self._heap, False)):
            entry = self._top(heap)
            if entry is not None and (best is None or entry[0] < best.at):
                best = Due(entry[0], final)
        return best

    def likely_due(self, threshold: float = LIKELY) -> int:
        """Count the due tasks that have more likely ended than not since their last poll.

        Final polls count; of the rest, only the ``CANDIDATES`` most overdue are looked at.
        """
        now = self._clock.now()
        count = 0
        if (entry := self._top(self._finals)) is not None and entry[0] <= now:
            count += sum(1 for e in self._finals if e[0] <= now and self._valid(e))
        if (entry := self._top(self._heap)) is None or entry[0] > now:
            return count
        for entry in heapq.nsmallest(CANDIDATES, self._heap):
            if entry[0] > now:
                break
            if not self._valid(entry):
                continue
            task = self._tasks[entry[2]]
            elapsed = now - task.submitted_at
            if task.dist.done_between(task.alive_at - task.submitted_at, elapsed) >= threshold:
                count += 1
        return count

    def expected_done(self, until: float) -> float:
        """Return how many tracked tasks are expected to end, not yet seen, by ``until``.

        Tasks whose poll is in flight are left out. It is a forecast: the figure is
        reused for ``FORECAST_TTL`` seconds (a burst of creates asks it once per request).
        """
        now = self._clock.now()
        if self._expected is not None:
            (at, was_until), value = self._expected
            if now - at < FORECAST_TTL and abs(was_until - until) < FORECAST_TTL:
                return value
        total = 0.0
        for task in self._tasks.values():
            if task.sent_at is None:
                start = task.alive_at - task.submitted_at
                total += task.dist.done_between(start, until - task.submitted_at)
        self._expected = ((now, until), total)
        return total

    def choose(self, n: int = 1) -> list[PollPick]:
        """Pick up to ``n`` due tasks to poll now and mark them in flight.

        Final polls come first, then tasks past their starvation bound, then the
        tasks most likely to have ended since their last poll.
        """
        now = self._clock.now()
        picks: list[PollPick] = []
        while len(picks) < n and (entry := self._top(self._finals)) and entry[0] <= now:
            heapq.heappop(self._finals)
            picks.append(self._send(self._tasks[entry[2]], now, 1.0))
        if len(picks) >= n:
            return picks
        candidates: list[_Task] = []
        while len(candidates) < CANDIDATES and (entry := self._top(self._heap)) and entry[0] <= now:
            heapq.heappop(self._heap)
            candidates.append(self._tasks[entry[2]])

        chances = {
            task.job_id: task.dist.done_between(
                task.alive_at - task.submitted_at, now - task.submitted_at
            )
            for task in candidates
        }

        def rank(task: _Task) -> tuple[bool, float, float, int]:
            starved = now >= task.alive_at + task.longest
            return (not starved, -chances[task.job_id], task.next_at, task.job_id)

        ranked = sorted(candidates, key=rank)
        take = n - len(picks)
        picks += [self._send(task, now, chances[task.job_id]) for task in ranked[:take]]
        for task in ranked[take:]:
            self._push(task, notify=False)  # not chosen: back in the queue unchanged
        return picks

    def polled(
        self, job_id: int, *, done: bool, progress: int | None = None, learn: bool = True
    ) -> None:
        """Report a poll's answer: the task ended (``done``) or still runs.

        A task that ended teaches its duration (the likeliest moment between its last
        two polls) unless ``learn`` is False (say it failed, or the answer was a 404).
        """
        task = self._tasks.get(job_id)
        if task is None:
            return
        sent = task.sent_at if task.sent_at is not None else self._clock.now()
        task.sent_at = None
        self._wanted -= self._want(task)
        task.polls += 1
        if done:
            del self._tasks[job_id]
            start, end = task.alive_at - task.submitted_at, sent - task.submitted_at
            if learn:
                duration = task.dist.median_between(start, end)
                self.durations.learn(task.model, task.option_key, duration)
            self._changed()
            return
        if task.final:
            del self._tasks[job_id]  # its last chance: the caller times it out
            self._changed()
            return
        self._wanted += self._want(task)
        task.alive_at = max(task.alive_at, sent)
        if progress:
            task.dist = task.prior.with_progress(sent - task.submitted_at, progress)
        self._schedule(task)

    def poll_failed(self, job_id: int, *, retry_after: float | None = None) -> None:
        """Report a poll that got no usable answer: poll the task again soon."""
        task = self._tasks.get(job_id)
        if task is None:
            return
        task.sent_at = None
        now = self._clock.now()
        task.next_at = now + max(self._min_gap, retry_after or 0.0)
        self._push(task)

    # ------------------------------------------------------------------ internals

    def _schedule(self, task: _Task) -> None:
        elapsed = task.alive_at - task.submitted_at
        ideal = task.submitted_at + task.dist.next_poll(elapsed, task.price, task.longest)
        at = min(max(ideal, task.alive_at + self._min_gap), task.alive_at + task.longest)
        task.final = at >= task.deadline
        task.next_at = task.deadline if task.final else at
        self._push(task)

    def _send(self, task: _Task, now: float, chance: float) -> PollPick:
        task.sent_at = now
        task.version += 1  # its queue entries are stale now
        return PollPick(task.job_id, task.final, chance)

    def _push(self, task: _Task, *, notify: bool = True) -> None:
        task.version += 1
        entry = (task.next_at, next(self._seq), task.job_id, task.version)
        heapq.heappush(self._finals if task.final else self._heap, entry)
        if notify:
            self._changed()

    def _valid(self, entry: tuple[float, int, int, int]) -> bool:
        task = self._tasks.get(entry[2])
        return task is not None and task.version == entry[3] and task.sent_at is None

    def _top(self, heap: list[tuple[float, int, int, int]]) -> tuple[float, int, int, int] | None:
        """Return the earliest valid entry of ``heap``, dropping stale ones on the way."""
        while heap:
            if self._valid(heap[0]):
                return heap[0]
            heapq.heappop(heap)
        return None

    def _changed(self) -> None:
        for callback in self._listeners:
            callback()
