"""PollLoop: the one loop that polls running tasks, as the planner and the budget say."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from bot.lemondata.urls import RequestKind
from bot.scheduler.clock import Clock, LoopClock, sleep_or_wake
from bot.scheduler.grants import Grant, PollDemand
from bot.scheduler.planner import PollPick, PollPlanner

log = logging.getLogger(__name__)

MAX_POLLS_IN_FLIGHT = 16
# After an unexpected error in the loop itself (say the shared budget's database is
# down): the first wait before trying again, doubled per consecutive error, capped.
ERROR_BACKOFF = 1.0
MAX_ERROR_BACKOFF = 30.0


@dataclass(frozen=True)
class PollResult:
    """What one poll found."""

    done: bool  # the task needs no more polls (it ended, or it is gone)
    progress: int | None = None
    learn: bool = True  # its duration is worth learning (it completed)


PollFn = Callable[[PollPick, Grant], Awaitable[PollResult]]


class PollBudget(Protocol):
    """What the loop needs of a budget (a RequestBudget, or one shared by processes)."""

    async def acquire(self, kind: RequestKind, *, final: bool = False) -> Grant:
        """Wait for permission to send a request."""
        ...

    def release(self, grant: Grant) -> None:
        """Give back an unused grant."""
        ...

    def set_poll_demand(self, demand: PollDemand) -> None:
        """Let the budget ask which polls are wanted."""
        ...


Spawn = Callable[[Coroutine[Any, Any, None], str], object]


class PollLoop:
    """Wake when the planner wants a poll, wait for a grant, poll the likeliest task.

    ``poll(pick, grant)`` makes the request with the given grant (the client observes
    the answer with it) and returns a :class:`PollResult`; an exception counts as no
    answer (its ``retry_after``, if any, is honoured for that task). Each poll runs
    through ``spawn``: the bot's background owner's (``Background.spawn``), which
    cancels the polls in flight at close.
    """

    def __init__(
        self,
        planner: PollPlanner,
        budget: PollBudget,
        poll: PollFn,
        *,
        clock: Clock | None = None,
        spawn: Spawn,
        max_in_flight: int = MAX_POLLS_IN_FLIGHT,
    ) -> None:
        self._planner = planner
        self._budget = budget
        self._poll = poll
        self._clock = clock or LoopClock()
        self._max_in_flight = max_in_flight
        self._spawn = spawn
        self._wake = asyncio.Event()
        self.in_flight = 0
        planner.add_listener(self.wake)
        budget.set_poll_demand(planner)

    def wake(self) -> None:
        """Re-read the schedule (the planner calls this when it changes)."""
        self._wake.set()

    async def run(self) -> None:
        """Poll until cancelled.

        An unexpected error of the loop's own (the budget's ``acquire`` raising on a
        database error, say) is logged once, waited out with a short back-off, and the
        loop goes on: it never dies while tasks are left to poll.
        """
        failures = 0
        while True:
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                backoff = min(MAX_ERROR_BACKOFF, ERROR_BACKOFF * 2 ** (failures - 1))
                log.warning("poll loop: %r; trying again in %.0fs", exc, backoff)
                await self._clock.sleep(backoff)
            else:
                failures = 0

    async def _step(self) -> None:
        """Wait for the next due poll and a grant for it, then start that poll."""
        self._wake.clear()
        due = self._planner.next_due()
        if due is None or self.in_flight >= self._max_in_flight:
            await self._wake.wait()
            return
        delay = due.at - self._clock.now()
        if delay > 0:
            await sleep_or_wake(self._clock, delay, self._wake)
            return
        grant = await self._budget.acquire("poll", final=due.final)
        try:
            picks = self._planner.choose(1)
        except BaseException:
            self._budget.release(grant)
            raise
        if not picks:
            self._budget.release(grant)
            return
        pick = picks[0]
        poll = self._run_poll(pick, grant)
        self.in_flight += 1
        try:
            self._spawn(poll, f"poll-{pick.job_id}")
        except BaseException:
            self.in_flight -= 1
            poll.close()  # never started: the task is polled again, the grant given back
            self._planner.poll_failed(pick.job_id)
            self._budget.release(grant)
            raise

    async def _run_poll(self, pick: PollPick, grant: Grant) -> None:
        try:
            result = await self._poll(pick, grant)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            retry_after = getattr(exc, "retry_after", None)
            log.warning("job %s: poll failed: %r", pick.job_id, exc)
            self._planner.poll_failed(
                pick.job_id,
                retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
            )
        else:
            self._planner.polled(
                pick.job_id, done=result.done, progress=result.progress, learn=result.learn
            )
        finally:
            self.in_flight -= 1
            self._wake.set()
