"""TaskPoller: tasks polled through the planner and the budget until they end, deadlines.

The planner and the budget have their own tests (tests/bot/scheduler/); these check the
adapter the bot runs: every poll is one attempt with its grant, every outcome reaches
the lifecycle once, and every job ends, whatever its final poll meets.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bot.background import Background
from bot.jobs.poller import TaskPoller
from bot.lemondata import AuthenticationError, NotFoundError, RateLimitError, TaskStatus
from bot.scheduler import RequestBudget

RUNNING = TaskStatus(task_id="t", status="processing", poll_url="/p")
COMPLETED = TaskStatus(task_id="t", status="completed", poll_url="/p")


class ScriptedApi:
    """A get_task that answers from a script, one script per task, and records calls."""

    def __init__(self, answers: dict[str, list[Any]]) -> None:
        self.answers = {task: list(script) for task, script in answers.items()}
        self.calls: list[tuple[str, bool, Any]] = []
        self.in_flight = 0
        self.peak = 0

    async def get_task(self, task_id, poll_url=None, *, retry=True, grant=None):
        self.calls.append((task_id, retry, grant))
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await asyncio.sleep(0)
            script = self.answers[task_id]
            answer = script.pop(0) if len(script) > 1 else script[0]
            if isinstance(answer, Exception):
                raise answer
            return answer
        finally:
            self.in_flight -= 1


class Outcomes:
    """The lifecycle's side: what each job ended as."""

    def __init__(self, expected: int) -> None:
        self.seen: list[tuple[str, int]] = []
        self.expected = expected
        self.all_done = asyncio.Event()

    def _add(self, kind: str, job_id: int) -> None:
        self.seen.append((kind, job_id))
        if len(self.seen) >= self.expected:
            self.all_done.set()

    async def done(self, job_id: int, status: TaskStatus) -> None:
        self._add(status.status, job_id)

    async def timeout(self, job_id: int) -> None:
        self._add("timeout", job_id)

    async def lost(self, job_id: int, exc: Exception) -> None:
        self._add("lost", job_id)


class KeyLog:
    """The key watch's side: what the poller said of the API key, in order."""

    def __init__(self) -> None:
        self.said: list[str] = []

    def key_rejected(self) -> None:
        self.said.append("rejected")

    def key_accepted(self) -> None:
        self.said.append("accepted")


async def run_poller(
    api: ScriptedApi, tasks: dict[int, float], *, rpm: int = 6000, key: KeyLog | None = None
) -> Outcomes:
    """Track ``tasks`` (job id -> deadline) and run the real loop until each has ended."""
    outcomes = Outcomes(len(tasks))
    background = Background()
    budget = RequestBudget(rpm=rpm)
    poller = TaskPoller(
        api,  # type: ignore[arg-type]
        budget=budget,
        on_done=outcomes.done,
        on_timeout=outcomes.timeout,
        on_lost=outcomes.lost,
        interval=0.001,
        max_interval=0.01,
        background=background,
        key=key or KeyLog(),
    )
    for job_id, deadline in tasks.items():
        poller.track(job_id, f"t{job_id}", None, deadline, model="gpt-image-2")
    poller.start()
    try:
        async with asyncio.timeout(10):
            await outcomes.all_done.wait()
    finally:
        await background.close()
    assert len(poller) == 0  # nothing left tracked
    return outcomes


@pytest.mark.parametrize("polls", [1, 3])
async def test_polls_until_done_and_reports_once(polls):
    """Running answers are polled again; the completion is reported exactly once."""
    api = ScriptedApi({"t7": [RUNNING] * (polls - 1) + [COMPLETED]})
    outcomes = await run_poller(api, {7: time.time() + 600})
    assert outcomes.seen == [("completed", 7)]
    assert len(api.calls) == polls


async def test_every_poll_is_one_attempt_with_its_grant():
    """The client is asked for one attempt under the budget's grant: no back-off in a slot."""
    api = ScriptedApi({"t1": [RateLimitError("slow", status=429, retry_after=0.01), COMPLETED]})
    outcomes = await run_poller(api, {1: time.time() + 600})
    assert outcomes.seen == [("completed", 1)]
    assert [retry for _, retry, _ in api.calls] == [False, False]
    assert all(grant is not None for _, _, grant in api.calls)


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (RUNNING, "timeout"),
        (COMPLETED, "completed"),
        (RateLimitError("slow", status=429), "timeout"),
        (RuntimeError("the client broke"), "timeout"),
    ],
)
async def test_the_final_poll_ends_the_job_whatever_it_meets(answer, outcome):
    """Past its deadline a task is polled once more: done if it ended, else timed out."""
    api = ScriptedApi({"t3": [answer]})
    outcomes = await run_poller(api, {3: time.time() - 1})
    assert outcomes.seen == [(outcome, 3)]
    assert len(api.calls) == 1


async def test_a_lost_task_ends_at_once():
    """An unknown task (404) cannot come back: the job ends without more polls."""
    api = ScriptedApi({"t4": [NotFoundError("gone", status=404)]})
    outcomes = await run_poller(api, {4: time.time() + 600})
    assert outcomes.seen == [("lost", 4)] and len(api.calls) == 1


async def test_many_tasks_run_to_the_end_within_the_budget():
    """Forty tasks all end; the budget's per-minute limit is never exceeded."""
    api = ScriptedApi({f"t{i}": [RUNNING, COMPLETED] for i in range(40)})
    outcomes = await run_poller(api, dict.fromkeys(range(40), time.time() + 600), rpm=6000)
    assert sorted(job for _, job in outcomes.seen) == list(range(40))
    assert len(api.calls) == 80


async def test_the_key_watch_hears_a_refused_key_and_an_answered_poll():
    """A 401 ends the job and says the key was refused; any answer says it works."""
    key = KeyLog()
    api = ScriptedApi({"t5": [AuthenticationError("bad key", status=401)], "t6": [COMPLETED]})
    outcomes = await run_poller(api, {5: time.time() + 600}, key=key)
    assert outcomes.seen == [("lost", 5)] and key.said == ["rejected"]
    await run_poller(api, {6: time.time() + 600}, key=key)
    assert key.said == ["rejected", "accepted"]
