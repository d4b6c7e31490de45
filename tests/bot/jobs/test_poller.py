"""TaskPoller scheduling: back-off, Retry-After, one poll in flight per task, deadlines."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.background import Background
from bot.jobs.poller import TaskPoller
from bot.lemondata import RateLimitError, TaskStatus


class ScriptedApi:
    """A get_task that answers from a script and records concurrency."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0
        self.in_flight = 0
        self.peak = 0

    async def get_task(self, task_id, poll_url=None, *, retry=True):
        self.calls += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer
        finally:
            self.in_flight -= 1


def poller_for(api, done, **kw):
    async def on_done(job_id, status):
        done.append(("done", job_id, status.status))

    async def on_timeout(job_id):
        done.append(("timeout", job_id, None))

    async def on_lost(job_id, exc):
        done.append(("lost", job_id, None))

    return TaskPoller(
        api,
        on_done=on_done,
        on_timeout=on_timeout,
        on_lost=on_lost,
        interval=kw.get("interval", 0.01),
        max_interval=kw.get("max_interval", 0.02),
        background=Background(),
    )


async def test_retry_after_pushes_the_next_poll_back():
    """After a 429 with Retry-After, the task is not polled again before that time."""
    api = ScriptedApi([RateLimitError("slow", status=429, retry_after=30.0)])
    poller = poller_for(api, [])
    poller.track(1, "t1", None, deadline=time.time() + 600)
    tracked = poller._tracked[1]
    before = time.monotonic()
    await poller._poll(tracked)
    assert api.calls == 1
    assert tracked.next_at >= before + 30.0
    assert not tracked.in_flight


@pytest.mark.parametrize("polls", [1, 3])
async def test_polls_until_done_with_back_off(polls):
    """Running answers are polled again with growing delays; done is reported once."""
    running = TaskStatus(task_id="t1", status="processing", poll_url="/v1/tasks/t1")
    completed = TaskStatus(task_id="t1", status="completed", poll_url="/v1/tasks/t1")
    api = ScriptedApi([running] * (polls - 1) + [completed])
    done: list = []
    poller = poller_for(api, done, interval=0.001, max_interval=0.004)
    poller.track(7, "t1", None, deadline=time.time() + 600)
    delays = []
    while not done:
        tracked = poller._tracked[7]
        await poller._poll(tracked)
        delays.append(tracked.delay)
    assert done == [("done", 7, "completed")] and api.calls == polls
    assert delays == sorted(delays) and delays[-1] <= 0.004
    assert len(poller) == 0


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        (TaskStatus(task_id="t3", status="processing", poll_url="/p"), ("timeout", 3, None)),
        (TaskStatus(task_id="t3", status="completed", poll_url="/p"), ("done", 3, "completed")),
        (RateLimitError("slow", status=429), ("timeout", 3, None)),
    ],
)
async def test_deadline_gets_one_final_poll(answer, outcome):
    """Past its deadline a task is polled once more: done if it ended, else timed out."""
    api = ScriptedApi([answer])
    done: list = []
    poller = poller_for(api, done)
    poller.track(3, "t3", None, deadline=time.time() - 1)
    await poller._poll(poller._tracked[3])
    assert done == [outcome] and api.calls == 1
    assert len(poller) == 0


async def test_scheduler_loop_runs_every_task_to_the_end():
    """The real loop polls many tasks to completion, at most 8 polls in flight."""
    completed = TaskStatus(task_id="t", status="completed", poll_url="/p")
    api = ScriptedApi([completed] * 20)
    eight_in_flight = asyncio.Event()
    scripted = api.get_task

    async def get_task(task_id, poll_url=None, *, retry=True):
        # Hold every poll until 8 are in flight: a cap above 8 shows as a higher peak,
        # a cap below 8 as a time-out.
        api.in_flight += 1
        api.peak = max(api.peak, api.in_flight)
        if api.in_flight == 8:
            # Open the gate only after every poll task already runnable has had its
            # turn: a ninth one admitted by the poller would be counted first.
            asyncio.get_running_loop().call_soon(eight_in_flight.set)
        await eight_in_flight.wait()
        api.in_flight -= 1
        return await scripted(task_id, poll_url, retry=retry)

    api.get_task = get_task
    done: list = []
    all_done = asyncio.Event()

    async def on_done(job_id, status):
        done.append(job_id)
        if len(done) == 20:
            all_done.set()

    async def never(*args):
        raise AssertionError("no task should time out or be lost")

    background = Background()
    poller = TaskPoller(
        api,
        on_done=on_done,
        on_timeout=never,
        on_lost=never,
        interval=0.001,
        max_interval=0.01,
        background=background,
    )
    for job_id in range(20):
        poller.track(job_id, f"t{job_id}", None, deadline=time.time() + 600)
    poller.start()
    try:
        async with asyncio.timeout(10):
            await all_done.wait()
    finally:
        await background.close()
    assert sorted(done) == list(range(20))
    assert api.calls == 20 and api.peak == 8


async def test_a_back_off_never_holds_a_poll_slot():
    """Polls are single attempts: nine tasks rate-limited for a minute take no slot."""
    limited = RateLimitError("slow", status=429, retry_after=60.0)
    api = ScriptedApi([limited] * 9)
    retries: list[bool] = []
    scripted = api.get_task

    async def get_task(task_id, poll_url=None, *, retry=True):
        retries.append(retry)
        return await scripted(task_id, poll_url, retry=retry)

    api.get_task = get_task
    poller = poller_for(api, [])
    for job_id in range(9):
        poller.track(job_id, f"t{job_id}", None, deadline=time.time() + 600)
        await poller._poll(poller._tracked[job_id])
    assert retries == [False] * 9  # the client sleeps out no Retry-After inside a slot
    assert poller._slots._value == 8  # every slot is free while the tasks wait
    assert all(t.next_at >= time.monotonic() + 59 for t in poller._tracked.values())


async def test_the_final_poll_ends_the_job_whatever_it_meets():
    """Past the deadline even an unexpected error ends the job (timed out), never hangs it."""
    api = ScriptedApi([RuntimeError("the client broke")])
    done: list = []
    poller = poller_for(api, done)
    poller.track(5, "t5", "http://[::1", deadline=time.time() - 1)
    await poller._poll(poller._tracked[5])
    assert done == [("timeout", 5, None)] and len(poller) == 0
