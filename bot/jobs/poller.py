"""TaskPoller: the bot's running tasks, polled when the planner says, within the budget.

A thin adapter over :mod:`bot.scheduler`: the :class:`~bot.scheduler.PollPlanner` decides
when each task is worth a poll (from completion times learned from the ledger, and the
task's ``progress`` when the gateway reports it), the :class:`~bot.scheduler.RequestBudget`
shared with every other gateway request decides when a request may go, and this module
makes the request and hands the outcome to the job lifecycle.

Each poll is one attempt with its grant: a failure is retried by the schedule
(honouring ``Retry-After``), so no back-off holds a request slot. A task whose deadline
(a wall-clock time, so it survives restarts) has passed gets one final poll, which
reports it done if it ended meanwhile (say while the bot was down), and timed out
otherwise, whatever error that poll meets: every job ends. A rejected key, an empty
balance or an unknown task end the job at once; whether the key was taken is told to
the ``key`` watch (the catalog, which refuses members' requests while it is not).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.background import Background
from bot.jobs.failures import FINAL_POLL_ERRORS, NO_WATCH, KeyWatch, watch_key
from bot.lemondata import GatewayError, LemonDataClient, TaskStatus
from bot.scheduler import Grant, PollLoop, PollPick, PollPlanner, PollResult
from bot.scheduler.clock import LoopClock, clock_time
from bot.scheduler.estimates import option_key
from bot.scheduler.loop import PollBudget

log = logging.getLogger(__name__)

OnDone = Callable[[int, TaskStatus], Awaitable[None]]
OnTimeout = Callable[[int], Awaitable[None]]
OnLost = Callable[[int, GatewayError], Awaitable[None]]


@dataclass
class _Tracked:
    task_id: str
    poll_url: str | None
    deadline: float  # wall clock


class TaskPoller:
    """Poll tracked tasks until they end, then hand the outcome to the callbacks."""

    def __init__(
        self,
        api: LemonDataClient,
        *,
        budget: PollBudget,
        on_done: OnDone,
        on_timeout: OnTimeout,
        on_lost: OnLost,
        interval: float,
        max_interval: float,
        background: Background,
        key: KeyWatch = NO_WATCH,
    ) -> None:
        self._api = api
        self._key = key  # hears of every refused (401/403) and every answered poll
        self._on_done = on_done
        self._on_timeout = on_timeout
        self._on_lost = on_lost
        self._background = background
        self._clock = LoopClock()
        self.planner = PollPlanner(clock=self._clock, min_gap=interval, max_gap=max_interval)
        self._loop = PollLoop(
            self.planner,
            budget,
            self._poll,
            clock=self._clock,
            spawn=lambda coro, name: background.spawn(coro, name),
        )
        self._tracked: dict[int, _Tracked] = {}
        self._started = False

    def __len__(self) -> int:
        return len(self._tracked)

    def learn(self, jobs: Any) -> int:
        """Learn completion times from the ledger's finished jobs; return how many."""
        return self.planner.learn_history(jobs)

    def track(
        self,
        job_id: int,
        task_id: str,
        poll_url: str | None,
        deadline: float,
        *,
        model: str = "",
        options: Mapping[str, Any] | None = None,
        submitted_at: float | None = None,
    ) -> None:
        """Start polling a task (a no-op if the job is tracked already)."""
        if job_id in self._tracked:
            return
        self._tracked[job_id] = _Tracked(task_id, poll_url, deadline)
        self.planner.track(
            job_id,
            model=model,
            option_key=option_key(options or {}),
            submitted_at=clock_time(self._clock, submitted_at) if submitted_at else None,
            deadline=clock_time(self._clock, deadline),
        )

    def start(self) -> None:
        """Start the poll loop (stopped with the bot's background tasks).

        Polls are cancelled at once on shutdown: the task ids are stored, so polling
        resumes after a restart.
        """
        if not self._started:
            self._started = True
            self._background.spawn(self._loop.run(), "poller")

    def forget(self, job_id: int) -> None:
        """Stop polling a task (its job ended, or another process took it over)."""
        self._tracked.pop(job_id, None)
        self.planner.forget(job_id)

    _end = forget

    async def _poll(self, pick: PollPick, grant: Grant) -> PollResult:
        tracked = self._tracked.get(pick.job_id)
        if tracked is None:
            return PollResult(done=True, learn=False)
        final = pick.final or time.time() >= tracked.deadline
        try:
            status = await self._api.get_task(
                tracked.task_id, tracked.poll_url, retry=False, grant=grant
            )
        except FINAL_POLL_ERRORS as exc:  # polling again cannot succeed
            watch_key(self._key, exc)
            self._end(pick.job_id)
            await self._on_lost(pick.job_id, exc)
            return PollResult(done=True, learn=False)
        except Exception as exc:
            if not final:
                raise  # the loop polls the task again later (Retry-After honoured)
            log.warning("job %s: final poll failed: %r", pick.job_id, exc)
            self._end(pick.job_id)
            await self._on_timeout(pick.job_id)
            return PollResult(done=True, learn=False)
        self._key.key_accepted()
        if status.done:
            self._end(pick.job_id)
            await self._on_done(pick.job_id, status)
            return PollResult(done=True, learn=status.status == "completed")
        if final:
            self._end(pick.job_id)
            await self._on_timeout(pick.job_id)
            return PollResult(done=True, learn=False)
        return PollResult(done=False, progress=status.progress)
