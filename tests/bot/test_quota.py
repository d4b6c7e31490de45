"""Quota reservations: atomic, exact, keyed by server and user, per UTC day."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.background import Background
from bot.errors import QuotaExceeded
from bot.jobs.admission import Admissions
from bot.quota import QuotaService, api_user, window_of, window_reset
from bot.store import Store
from tests.conftest import ENGINES
from tests.factories import draft, unfinished_jobs


async def _race(url: str, limit: int, costs: list[int]) -> tuple[int, int, int]:
    background = Background()
    async with Store.open(url) as db:
        quota = QuotaService(db, period_limit=limit)
        admit = Admissions(db, quota, background=background).admit
        window = window_of(time.time())

        async def attempt(cost: int) -> bool:
            try:
                await admit(draft(quota_units=cost, quota_window=""))
            except QuotaExceeded:
                return False
            return True

        results = await asyncio.gather(*(attempt(c) for c in costs))
        used = await db.quota.quota_used(1, 3, window)
        return sum(results), used, len(await unfinished_jobs(db))


@pytest.fixture(params=ENGINES)
def fresh_database(request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """A maker of fresh databases of one engine: one for each hypothesis example."""
    if request.param == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            files = (str(Path(tmp) / f"q{n}.db") for n in itertools.count())
            yield lambda: next(files)
        return
    server = request.getfixturevalue("postgres_server")
    names: list[str] = []

    def make() -> str:
        names.append(server.create_database())
        return str(server.url(names[-1]))

    try:
        yield make
    finally:
        for name in names:
            server.drop_database(name)


def test_fifty_concurrent_requests_with_two_left(fresh_database):
    """With 2 images left, 50 concurrent requests give exactly 2 accepted (both engines)."""
    accepted, used, stored = asyncio.run(_race(fresh_database(), 2, [1] * 50))
    assert (accepted, used, stored) == (2, 2, 2)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    limit=st.integers(min_value=0, max_value=12),
    costs=st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=30),
)
def test_reservations_never_exceed_the_limit(fresh_database, limit, costs):
    """Whatever the mix of concurrent costs, usage never exceeds the limit (both engines)."""
    accepted, used, stored = asyncio.run(_race(fresh_database(), limit, costs))
    assert used <= limit
    assert stored == accepted
    # greedy in arrival order: a refused request really did not fit at that moment
    total = 0
    for cost in costs:
        if total + cost <= limit:
            total += cost
    assert used == total


async def test_release_gives_units_back(db, background):
    """A released reservation no longer counts."""
    quota = QuotaService(db, period_limit=1)
    admit = Admissions(db, quota, background=background).admit
    job_id = (await admit(draft(quota_window=""))).job.id
    with pytest.raises(QuotaExceeded, match="used all 1 of your images for today"):
        await admit(draft(quota_window=""))
    assert await quota.release(job_id)
    assert not await quota.release(job_id)  # exactly once
    await admit(draft(quota_window=""))


async def test_quota_is_per_server_and_user(db, background):
    """Another user, or the same user in another server, has their own quota."""
    quota = QuotaService(db, period_limit=1)
    admit = Admissions(db, quota, background=background).admit
    await admit(draft(quota_window=""))
    await admit(draft(user_id=99, quota_window=""))
    await admit(draft(guild_id=77, quota_window=""))
    assert api_user(1, 3) == "discord:1:3"


async def test_window_resets_at_utc_midnight(db, background):
    """Usage counts per UTC day; the refusal names the reset time."""
    with time_machine.travel(dt.datetime(2026, 11, 24, 23, 59, tzinfo=dt.UTC), tick=False):
        quota = QuotaService(db, period_limit=1)
        admit = Admissions(db, quota, background=background).admit
        await admit(draft(quota_window=""))
        midnight = int(dt.datetime(2026, 11, 25, tzinfo=dt.UTC).timestamp())
        with pytest.raises(QuotaExceeded, match=f"<t:{midnight}:R>"):
            await admit(draft(quota_window=""))
        status = await quota.status(1, 3)
        assert (status.used, status.remaining, status.resets_at) == (1, 0, midnight)
    with time_machine.travel(dt.datetime(2026, 11, 25, 0, 1, tzinfo=dt.UTC), tick=False):
        assert window_of(time.time()) == "2026-11-25"
        await admit(draft(quota_window=""))


def test_window_helpers():
    """Window keys and reset times are UTC days."""
    noon = dt.datetime(2026, 1, 31, 12, tzinfo=dt.UTC).timestamp()
    assert window_of(noon) == "2026-01-31"
    assert window_reset(noon) == dt.datetime(2026, 2, 1, tzinfo=dt.UTC).timestamp()


async def test_user_override_beats_roles_and_default(db, background):
    """A per-user override wins over role rules and the server default."""
    quota = QuotaService(db, period_limit=5)
    await db.guilds.set_quota_rule(1, "role", 100, 50, set_by=9)
    await db.guilds.set_quota_rule(1, "user", 3, 2, set_by=9)
    limit, _ = await quota.limit_for(1, 3, role_ids=[100])
    assert limit == 2
    await db.guilds.set_quota_rule(1, "user", 3, None, set_by=9)
    assert (await quota.limit_for(1, 3, role_ids=[100]))[0] is None  # unlimited


@pytest.mark.parametrize(
    ("role_limits", "member_roles", "expected"),
    [
        ({100: 10, 200: 30}, [100, 200], 30),  # the most generous role applies
        ({100: 10, 200: None}, [100, 200], None),  # unlimited beats any number
        ({100: 1}, [100], 1),  # a role may also lower the default
        ({100: 10}, [300], 5),  # no matching role: the server default
        ({}, [], 5),
    ],
)
async def test_role_precedence(db, background, role_limits, member_roles, expected):
    """Role rules: the most generous matching one, else the default."""
    quota = QuotaService(db, period_limit=5)
    for role, limit in role_limits.items():
        await db.guilds.set_quota_rule(1, "role", role, limit, set_by=9)
    assert (await quota.limit_for(1, 3, role_ids=member_roles))[0] == expected


async def test_server_default_and_unlimited_reservations(db, background):
    """A server default replaces DAILY_IMAGE_QUOTA; unlimited members are never refused."""
    quota = QuotaService(db, period_limit=5)
    admit = Admissions(db, quota, background=background).admit
    await db.guilds.update_settings(1, period_limit=1)
    await admit(draft())
    with pytest.raises(QuotaExceeded):
        await admit(draft())
    await db.guilds.set_quota_rule(1, "user", 3, None, set_by=9)
    for _ in range(20):
        await admit(draft(quota_units=4))
    status = await quota.status(1, 3)
    assert status.limit is None and status.remaining is None and status.used == 81


@pytest.mark.parametrize(
    ("period", "moment", "key", "reset"),
    [
        ("day", dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC), "2026-11-24", (2026, 11, 25)),
        ("week", dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC), "2026-W48", (2026, 11, 30)),
        ("week", dt.datetime(2026, 11, 29, 23, tzinfo=dt.UTC), "2026-W48", (2026, 11, 30)),
        ("month", dt.datetime(2026, 11, 24, 15, tzinfo=dt.UTC), "2026-11", (2026, 12, 1)),
        ("month", dt.datetime(2026, 12, 31, 23, tzinfo=dt.UTC), "2026-12", (2027, 1, 1)),
    ],
)
def test_periods(period, moment, key, reset):
    """Day, ISO week and calendar month windows, in UTC."""
    now = moment.timestamp()
    assert window_of(now, period) == key
    assert window_reset(now, period) == dt.datetime(*reset, tzinfo=dt.UTC).timestamp()


async def test_weekly_window_spans_days(db, background):
    """With a weekly period, usage on Monday still counts on Friday."""
    await db.guilds.update_settings(1, quota_period="week")
    quota = QuotaService(db, period_limit=1)
    admit = Admissions(db, quota, background=background).admit
    with time_machine.travel(dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC), tick=False):
        await admit(draft())
    friday = dt.datetime(2026, 11, 27, 10, tzinfo=dt.UTC)
    with (
        time_machine.travel(friday, tick=False),
        pytest.raises(QuotaExceeded, match="this week"),
    ):
        await admit(draft())
    with time_machine.travel(dt.datetime(2026, 11, 30, 0, 1, tzinfo=dt.UTC), tick=False):
        await admit(draft())
