"""The LemonData emulator at benchmark scale: 1,000 concurrent tasks, cheap recording."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.lemondata import GENERATIONS_PATH, LemonDataEmulator

TASKS = 1000


@pytest.fixture
async def session(lemondata: LemonDataEmulator) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=lemondata.base_url,
        headers={"Authorization": f"Bearer {lemondata.api_key}"},
        connector=aiohttp.TCPConnector(limit=200),
    ) as client:
        yield client


async def create_task(session: aiohttp.ClientSession, prompt: str) -> str:
    body = {"model": "gpt-image-2", "prompt": prompt, "async": True}
    async with session.post(GENERATIONS_PATH, json=body) as response:
        assert response.status == 200
        answer: dict[str, Any] = await response.json()
    return str(answer["task_id"])


async def poll(session: aiohttp.ClientSession, task_id: str) -> str:
    async with session.get(f"/v1/tasks/{task_id}") as response:
        assert response.status == 200
        body: dict[str, Any] = await response.json()
    return str(body["status"])


async def test_a_thousand_concurrent_tasks(lemondata, session):
    """1,000 tasks created and polled at once: all complete, the records stay exact."""
    lemondata.polls_to_complete = 2
    started = time.monotonic()
    task_ids = await asyncio.gather(*(create_task(session, f"lemon {i}") for i in range(TASKS)))
    first = await asyncio.gather(*(poll(session, t) for t in task_ids))
    second = await asyncio.gather(*(poll(session, t) for t in task_ids))
    elapsed = time.monotonic() - started
    assert set(first) == {"processing"}
    assert set(second) == {"completed"}
    assert len(lemondata.creates()) == TASKS
    assert len(lemondata.polls()) == 2 * TASKS
    assert all(len(lemondata.polls(t)) == 2 for t in task_ids[:50])
    assert lemondata.request_count == 3 * TASKS
    assert elapsed < 30, f"3,000 requests took {elapsed:.1f}s"


async def test_record_requests_off_keeps_counts_and_state(lemondata, session):
    """record_requests=False records nothing, yet counts requests and runs tasks."""
    lemondata.record_requests = False
    lemondata.polls_to_complete = 1
    lemondata.rate_limit = 100
    task_id = await create_task(session, "a lemon")
    assert await poll(session, task_id) == "completed"
    assert lemondata.requests == []
    assert lemondata.creates() == []
    assert lemondata.polls(task_id) == []
    assert lemondata.request_count == 2
    assert len(lemondata.admitted_at()) == 2  # the rate log still proves the budget
    await lemondata.wait_for(lambda: lemondata.tasks[task_id].done)


async def test_clear_requests_empties_log_and_filters(lemondata, session):
    """clear_requests forgets the log and every filter's view of it."""
    task_id = await create_task(session, "a lemon")
    await poll(session, task_id)
    lemondata.clear_requests()
    assert (lemondata.requests, lemondata.creates(), lemondata.polls(task_id)) == ([], [], [])
    await poll(session, task_id)
    assert len(lemondata.polls(task_id)) == 1
    assert lemondata.request_count == 3


async def test_polls_filter_ignores_other_routes(lemondata, session):
    """GETs on the create and edit paths or deeper paths are not task polls."""
    for path in (GENERATIONS_PATH, "/v1/images/edits", "/v1/tasks/a/b"):
        async with session.get(path) as response:
            await response.read()
    assert lemondata.polls() == []
