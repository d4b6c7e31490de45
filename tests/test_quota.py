"""Quota reservations: atomic, exact, keyed by server and user, per UTC day."""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from pathlib import Path

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.db import Database
from bot.errors import QuotaExceeded
from bot.quota import QuotaService, api_user, window_of, window_reset
from tests.test_db import draft


async def _race(path: Path, limit: int, costs: list[int]) -> tuple[int, int, int]:
    async with Database.open(path) as db:
        quota = QuotaService(db, daily_limit=limit)
        window = quota.window()

        async def attempt(cost: int) -> bool:
            try:
                await quota.reserve_and_insert(draft(quota_units=cost, quota_window=window))
            except QuotaExceeded:
                return False
            return True

        results = await asyncio.gather(*(attempt(c) for c in costs))
        used = await db.quota_used(1, 3, window)
        return sum(results), used, len(await db.open_jobs())


def test_fifty_concurrent_requests_with_two_left():
    """With 2 images left, 50 concurrent requests give exactly 2 accepted."""
    with tempfile.TemporaryDirectory() as tmp:
        accepted, used, stored = asyncio.run(_race(Path(tmp) / "q.db", 2, [1] * 50))
    assert (accepted, used, stored) == (2, 2, 2)


@settings(max_examples=25, deadline=None)
@given(
    limit=st.integers(min_value=0, max_value=12),
    costs=st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=30),
)
def test_reservations_never_exceed_the_limit(limit, costs):
    """Whatever the mix of concurrent costs, usage never exceeds the limit."""
    with tempfile.TemporaryDirectory() as tmp:
        accepted, used, stored = asyncio.run(_race(Path(tmp) / "q.db", limit, costs))
    assert used <= limit
    assert stored == accepted
    # greedy in arrival order: a refused request really did not fit at that moment
    total = 0
    for cost in costs:
        if total + cost <= limit:
            total += cost
    assert used == total


async def test_release_gives_units_back(db):
    """A released reservation no longer counts."""
    quota = QuotaService(db, daily_limit=1)
    job_id = await quota.reserve_and_insert(draft(quota_window=quota.window()))
    with pytest.raises(QuotaExceeded, match="used all 1"):
        await quota.reserve_and_insert(draft(quota_window=quota.window()))
    assert await quota.release(job_id)
    assert not await quota.release(job_id)  # exactly once
    await quota.reserve_and_insert(draft(quota_window=quota.window()))


async def test_quota_is_per_server_and_user(db):
    """Another user, or the same user in another server, has their own quota."""
    quota = QuotaService(db, daily_limit=1)
    window = quota.window()
    await quota.reserve_and_insert(draft(quota_window=window))
    await quota.reserve_and_insert(draft(user_id=99, quota_window=window))
    await quota.reserve_and_insert(draft(guild_id=77, quota_window=window))
    assert api_user(1, 3) == "discord:1:3"


async def test_window_resets_at_utc_midnight(db):
    """Usage counts per UTC day; the refusal names the reset time."""
    with time_machine.travel(dt.datetime(2026, 11, 24, 23, 59, tzinfo=dt.UTC), tick=False):
        quota = QuotaService(db, daily_limit=1)
        await quota.reserve_and_insert(draft(quota_window=quota.window()))
        midnight = int(dt.datetime(2026, 11, 25, tzinfo=dt.UTC).timestamp())
        with pytest.raises(QuotaExceeded, match=f"<t:{midnight}:R>"):
            await quota.reserve_and_insert(draft(quota_window=quota.window()))
        status = await quota.status(1, 3)
        assert (status.used, status.remaining, status.resets_at) == (1, 0, midnight)
    with time_machine.travel(dt.datetime(2026, 11, 25, 0, 1, tzinfo=dt.UTC), tick=False):
        assert quota.window() == "2026-11-25"
        await quota.reserve_and_insert(draft(quota_window=quota.window()))


def test_window_helpers():
    """Window keys and reset times are UTC days."""
    noon = dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC).timestamp()
    assert window_of(noon) == "2026-01-31"
    assert window_reset(noon) == dt.datetime(2026, 2, 1, tzinfo=dt.UTC).timestamp()
