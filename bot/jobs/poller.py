"""TaskPoller: one scheduler that polls every running generation task.

Each tracked task is polled with exponential back-off and jitter (starting at the
poll interval, capped at the maximum), with at most one poll in flight per task and
a bounded number in flight overall. ``Retry-After`` pushes a task's next poll back.
A task whose deadline (a wall-clock time, so it survives restarts) has passed gets
one final poll, which reports it done if it ended meanwhile (say while the bot was
down), and timed out otherwise, whatever error that poll meets: every job ends. An
unexpected error while polling is logged and the task polled again later, so it
counts towards the deadline like any other failed poll. Each poll is one attempt: a
failure is retried by the schedule (honouring ``Retry-After``), so a back-off never
holds one of the slots, which count requests in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.background import Background
from bot.jobs.failures import FINAL_POLL_ERRORS
from bot.lemondata import LemonDataClient, LemonDataError, TaskStatus

log = logging.getLogger(__name__)

MAX_POLLS_IN_FLIGHT = 8
BACKOFF_FACTOR = 1.5
JITTER = 0.2

OnDone = Callable[[int, TaskStatus], Awaitable[None]]
OnTimeout = Callable[[int], Awaitable[None]]
OnLost = Callable[[int, LemonDataError], Awaitable[None]]


@dataclass
class _Tracked:
    job_id: int
    task_id: str
    poll_url: str | None
    deadline: float
    delay: float
    next_at: float
    in_flight: bool = False


class TaskPoller:
    """Poll tracked tasks until they end, then hand the outcome to the callbacks."""

    def __init__(
        self,
        api: LemonDataClient,
        *,
        on_done: OnDone,
        on_timeout: OnTimeout,
        on_lost: OnLost,
        interval: float,
        max_interval: float,
        background: Background,
    ) -> None:
        self._api = api
        self._background = background
        self._on_done = on_done
        self._on_timeout = on_timeout
        self._on_lost = on_lost
        self._interval = interval
        self._max_interval = max(interval, max_interval)
        self._tracked: dict[int, _Tracked] = {}
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(MAX_POLLS_IN_FLIGHT)
        self._runner: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._tracked)

    def track(self, job_id: int, task_id: str, poll_url: str | None, deadline: float) -> None:
        """Start polling a task (a no-op if the job is tracked already)."""
        if job_id in self._tracked:
            return
        now = time.monotonic()
        self._tracked[job_id] = _Tracked(
            job_id, task_id, poll_url, deadline, self._interval, now + self._interval
        )
        self._wake.set()

    def start(self) -> None:
        """Start the scheduling loop (stopped with the bot's background tasks).

        Polls are cancelled at once on shutdown: the task ids are stored, so polling
        resumes after a restart.
        """
        if self._runner is None:
            self._runner = self._background.spawn(self._run(), "poller")

    async def _run(self) -> None:
        while True:
            now = time.monotonic()
            waiting = [t for t in self._tracked.values() if not t.in_flight]
            for tracked in waiting:
                if tracked.next_at <= now:
                    tracked.in_flight = True
                    self._background.spawn(self._poll(tracked), f"poll-{tracked.job_id}")
            upcoming = [t.next_at for t in self._tracked.values() if not t.in_flight]
            timeout = max(0.0, min(upcoming) - now) if upcoming else None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _poll(self, tracked: _Tracked) -> None:
        try:
            if time.time() >= tracked.deadline:
                await self._final_poll(tracked)
                return
            retry_after = None
            try:
                async with self._slots:  # held for the request only, never for a back-off
                    status = await self._api.get_task(
                        tracked.task_id, tracked.poll_url, retry=False
                    )
            except FINAL_POLL_ERRORS as exc:
                # Final answers: polling again cannot succeed.
                self._tracked.pop(tracked.job_id, None)
                await self._on_lost(tracked.job_id, exc)
                return
            except LemonDataError as exc:
                log.warning(
                    "job %s: poll of task %s failed: %r", tracked.job_id, tracked.task_id, exc
                )
                retry_after = exc.retry_after
            else:
                if status.done:
                    self._tracked.pop(tracked.job_id, None)
                    await self._on_done(tracked.job_id, status)
                    return
            self._reschedule(tracked, retry_after)
        except Exception:
            log.exception("job %s: unexpected error while polling", tracked.job_id)
            self._reschedule(tracked, None)
        finally:
            tracked.in_flight = False
            self._wake.set()

    async def _final_poll(self, tracked: _Tracked) -> None:
        """Past the deadline: one last look (the task may have ended while we were down)."""
        self._tracked.pop(tracked.job_id, None)
        try:
            async with self._slots:
                status = await self._api.get_task(tracked.task_id, tracked.poll_url, retry=False)
        except Exception as exc:  # whatever it is, the job must end now
            log.warning("job %s: final poll failed: %r", tracked.job_id, exc)
        else:
            if status.done:
                await self._on_done(tracked.job_id, status)
                return
        await self._on_timeout(tracked.job_id)

    def _reschedule(self, tracked: _Tracked, retry_after: float | None) -> None:
        tracked.delay = min(self._max_interval, tracked.delay * BACKOFF_FACTOR)
        delay = tracked.delay * random.uniform(1 - JITTER, 1 + JITTER)
        if retry_after is not None:
            delay = max(delay, retry_after)
        tracked.next_at = time.monotonic() + delay
