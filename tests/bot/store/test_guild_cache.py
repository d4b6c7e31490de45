"""The servers' rules are cached in memory, and no write is ever hidden by the cache."""

from __future__ import annotations

import asyncio

from bot.store import Store
from bot.store.guilds import _Cache


class _Counting:
    """Counts the reads that reach the database."""

    def __init__(self, db: Store) -> None:
        self.reads = 0
        inner = db.db
        for name in ("fetchone", "fetchall"):
            original = getattr(inner, name)

            async def counted(*args, _original=original, **kwargs):
                self.reads += 1
                return await _original(*args, **kwargs)

            setattr(inner, name, counted)


async def test_every_write_is_seen_by_the_next_read(db):
    """Settings, quota rules, blocks and the blocklist: a write shows at once, on both engines."""
    guilds = db.guilds
    assert (await guilds.settings(1)).period_limit is None
    await guilds.update_settings(1, period_limit=7)
    assert (await guilds.settings(1)).period_limit == 7

    assert await guilds.quota_rules(1) == []
    await guilds.set_quota_rule(1, "role", 5, 3, set_by=9)
    assert [r.limit_units for r in await guilds.quota_rules(1)] == [3]
    assert await guilds.clear_quota_rule(1, "role", 5)
    assert await guilds.quota_rules(1) == []

    assert await guilds.blocked_user(1, 42) is None
    await guilds.block_user(1, 42, "spam", blocked_by=9)
    assert (await guilds.blocked_user(1, 42)).reason == "spam"
    assert await guilds.unblock_user(1, 42)
    assert await guilds.blocked_user(1, 42) is None

    rule = await guilds.add_prompt_rule(1, "forbidden", False, added_by=9)
    assert [r.pattern for r in await guilds.prompt_rules(1)] == ["forbidden"]
    assert await guilds.remove_prompt_rule(1, rule.id)
    assert await guilds.prompt_rules(1) == []


async def test_repeated_reads_stay_in_memory(db):
    """The acknowledgement path reads a server's rules without touching the database again."""
    await db.guilds.update_settings(1, period_limit=2)
    await db.guilds.settings(1)
    await db.guilds.prompt_rules(1)
    counter = _Counting(db)
    for _ in range(5):
        assert (await db.guilds.settings(1)).period_limit == 2
        await db.guilds.prompt_rules(1)
        await db.guilds.blocked_user(1, 3)
    assert counter.reads == 1  # only the first look at the blocked members
    await db.guilds.update_settings(2, period_limit=4)  # another server's write keeps ours
    reads = counter.reads
    await db.guilds.settings(1)
    assert counter.reads == reads


async def test_a_returned_list_is_the_callers_own(db):
    """Changing a returned list does not change what the next caller reads."""
    await db.guilds.set_quota_rule(1, "user", 5, 3, set_by=9)
    (await db.guilds.quota_rules(1)).clear()
    assert len(await db.guilds.quota_rules(1)) == 1


async def test_a_read_that_raced_a_write_is_not_kept():
    """A load that started before a write finished may be stale, so it is not cached."""
    cache = _Cache(None)
    started, release = asyncio.Event(), asyncio.Event()

    async def slow_old_value() -> str:
        started.set()
        await release.wait()
        return "old"

    reader = asyncio.create_task(cache.read("settings", 1, slow_old_value))
    await started.wait()
    cache.drop(1)  # a write lands while the read is in flight
    release.set()
    assert await reader == "old"

    async def new_value() -> str:
        return "new"

    assert await cache.read("settings", 1, new_value) == "new"


async def test_shared_entries_expire():
    """With PostgreSQL another process may write, so an entry lives only its time to live."""
    now = [100.0]
    cache = _Cache(5.0, clock=lambda: now[0])
    values = iter(["first", "second"])

    async def load() -> str:
        return next(values)

    assert await cache.read("settings", 1, load) == "first"
    now[0] = 104.9
    assert await cache.read("settings", 1, load) == "first"
    now[0] = 105.0
    assert await cache.read("settings", 1, load) == "second"


async def test_another_process_sees_a_write_within_the_time_to_live(postgres_url):
    """Two processes on one PostgreSQL: the writer at once, the other after its entry expires."""
    async with Store.open(postgres_url) as one, Store.open(postgres_url) as two:
        assert (await two.guilds.settings(1)).period_limit is None
        await one.guilds.update_settings(1, period_limit=3)
        assert (await one.guilds.settings(1)).period_limit == 3
        two.guilds._cache._ttl = 0.0  # the entry has expired
        assert (await two.guilds.settings(1)).period_limit == 3
