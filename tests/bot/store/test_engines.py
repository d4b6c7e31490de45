"""Both engines behind one interface: selection, dialect, locks, and what they store."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import bot
from bot.store import Store, StoredImage
from bot.store.database import migrations
from bot.store.engines import engine_of, redacted, sqlite_path
from bot.store.postgres import changed_rows, numbered
from tests.factories import draft, insert_job, unfinished_jobs

BIG_ID = 2**63 - 1  # Discord ids are 64-bit


@pytest.mark.parametrize(
    ("target", "engine"),
    [
        (Path("data/x.db"), "sqlite"),
        ("data/x.db", "sqlite"),
        ("sqlite:///data/x.db", "sqlite"),
        ("SQLITE:////var/x.db", "sqlite"),
        ("postgresql://u:p@h/db", "postgres"),
        ("postgres://h/db", "postgres"),
    ],
)
def test_engine_of(target, engine):
    """A path or sqlite:/// URL opens SQLite; postgresql:// and postgres:// PostgreSQL."""
    assert engine_of(target) == engine


def test_engine_of_refuses_other_schemes():
    """A URL of another database is refused, not taken for a file name."""
    with pytest.raises(ValueError, match="mysql"):
        engine_of("mysql://h/db")


def test_sqlite_paths_and_redaction():
    """sqlite:/// URLs name relative and absolute files; passwords never reach a message."""
    assert sqlite_path("sqlite:///data/x.db") == Path("data/x.db")
    assert sqlite_path("sqlite:////var/x.db") == Path("/var/x.db")
    assert redacted("postgresql://bot:s3cr@t@db:5432/lemon") == "postgresql://bot:***@db:5432/lemon"
    assert redacted("postgresql://db/lemon") == "postgresql://db/lemon"
    assert redacted("sqlite:///data/x.db") == "sqlite:///data/x.db"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://bot@db/lemon?password=pw", "postgresql://bot@db/lemon?password=***"),
        (
            "postgres://db/lemon?sslmode=require&PASSWORD=pw&sslpassword=k#f",
            "postgres://db/lemon?sslmode=require&PASSWORD=***&sslpassword=***#f",
        ),
        (
            "postgresql://bot:p%40ss@db/lemon?password=x",
            "postgresql://bot:***@db/lemon?password=***",
        ),
        ("postgresql://bot@db/lemon?user=password", "postgresql://bot@db/lemon?user=password"),
    ],
)
def test_query_string_passwords_are_redacted(url, expected):
    """A password given as a query parameter never reaches a message either."""
    assert redacted(url) == expected


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1", "SELECT 1"),
        ("a = ? AND b IN (?, ?)", "a = $1 AND b IN ($2, $3)"),
        ("SET x = 'it''s', y = ?", "SET x = 'it''s', y = $1"),
        ("jsonb_set(o::jsonb, '{prompt}', '\"\"') WHERE id = ?", None),
    ],
)
def test_placeholders_are_numbered(sql, expected):
    """? becomes $1..$n outside string literals; literals are left as they are."""
    assert numbered(sql) == (expected or sql.replace("?", "$1"))


@pytest.mark.parametrize("sql", ["SELECT '?' WHERE a = ?", "SELECT 'open"])
def test_placeholder_in_a_literal_is_refused(sql):
    """A ? inside a literal (or an unterminated one) is an error, not a silent parameter."""
    with pytest.raises(ValueError):
        numbered(sql)


@pytest.mark.parametrize(
    ("status", "count"), [("UPDATE 3", 3), ("INSERT 0 1", 1), ("DELETE 0", 0), ("CREATE TABLE", 0)]
)
def test_changed_rows(status, count):
    """The number of rows a statement changed comes from its command status."""
    assert changed_rows(status) == count


def test_migrations_are_numbered_alike():
    """Both engines have the same migrations, by number and by name."""
    folder = Path(bot.__file__).parent / "store/migrations"
    assert {p.name for p in folder.iterdir() if p.is_dir()} >= {"sqlite", "postgres"}
    names = {
        engine: [name for _, name, _ in migrations(engine)] for engine in ("sqlite", "postgres")
    }
    assert names["sqlite"] == names["postgres"]


async def test_big_ids_and_bytes_round_trip(db):
    """64-bit Discord ids, floats and image bytes come back as they went in."""
    job = await insert_job(
        db,
        draft(guild_id=BIG_ID, user_id=BIG_ID - 1, channel_id=BIG_ID, token_expires_at=5),
        now=1.5,
    )
    await db.images.save_images(job.id, [StoredImage(0, None, "image/png", b"\x00\xff" * 100)])
    got = await db.jobs.get(job.id)
    assert (got.guild_id, got.user_id, got.created_at) == (BIG_ID, BIG_ID - 1, 1.5)
    assert got.token_expires_at == 5.0
    assert (await db.images.load_images(job.id))[0].data == b"\x00\xff" * 100
    assert await db.quota.quota_used(BIG_ID, BIG_ID - 1, "2026-11-24") == 1
    assert await db.queue.generating_counts() == {}


async def test_redaction_blanks_prompts_inside_the_json(db):
    """Retention blanks the prompt in options and request, keeping their other keys."""
    job = await insert_job(db, draft(), now=10.0)
    await db.jobs.transition(job.id, ["queued"], "failed")
    await db.jobs.mark_delivered(job.id, via="none", channel_id=None, message_id=None)
    await db.web.save_thumbnail(job.id, 0, b"RIFFwebp")  # the dashboard's copy goes too
    assert await db.jobs.redact_before(20.0) == 1
    assert await db.web.thumbnail(job.id, 0) is None
    got = await db.jobs.get(job.id)
    assert got.prompt == "" and got.options == {"prompt": "", "model": "nano-banana"}
    assert got.request == {"model": "nano-banana", "prompt": ""}
    assert await db.jobs.redact_before(20.0) == 0


async def test_nested_transactions_join_and_roll_back_together(db):
    """A transaction inside another is part of it: one failure undoes both."""
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await insert_job(db, draft())
            async with db.transaction():
                await db.guilds.update_settings(1, period_limit=3)
            raise RuntimeError("boom")
    assert await unfinished_jobs(db) == []
    assert (await db.guilds.settings(1)).period_limit is None


async def test_lock_needs_a_transaction(db):
    """lock() outside a transaction is a mistake on either engine; inside, it may repeat."""
    with pytest.raises(RuntimeError):
        await db.lock("quota:1:3")
    async with db.transaction():
        await db.lock("quota:1:3")
        await db.lock("quota:1:3")
        await insert_job(db, draft())
    assert len(await unfinished_jobs(db)) == 1


async def test_a_prompt_rule_keeps_its_flag(db):
    """is_regex is stored as 0/1 on both engines and read back as a bool."""
    rule = await db.guilds.add_prompt_rule(1, "cat.*", True, added_by=9)
    again = await db.guilds.add_prompt_rule(1, "cat.*", True, added_by=9)
    assert again == rule and rule.is_regex is True
    assert [r.id for r in await db.guilds.prompt_rules(1)] == [rule.id]


# ---------------------------------------------------------------------- PostgreSQL only


async def _reserve(store: Store, limit: int, cost: int) -> bool:
    """A read-check-write reservation, serialised by lock() as the quota service does."""
    async with store.transaction():
        await store.lock("quota:1:3")
        used = await store.quota.quota_used(1, 3, "2026-11-24")
        if used + cost > limit:
            return False
        await asyncio.sleep(0)  # let every other reservation reach its read
        await insert_job(store, draft(quota_units=cost))
        return True


@pytest.mark.postgres
async def test_locked_reservations_are_exact_across_processes(postgres_url):
    """Two processes (two pools) reserving at once never exceed the limit."""
    async with Store.open(postgres_url) as one, Store.open(postgres_url) as two:
        results = await asyncio.gather(
            *(_reserve(one if i % 2 else two, limit=7, cost=1) for i in range(40))
        )
        assert sum(results) == 7
        assert await one.quota.quota_used(1, 3, "2026-11-24") == 7


@pytest.mark.postgres
async def test_unlocked_reads_do_not_see_an_open_transaction(postgres_url):
    """A task spawned inside a transaction gets its own connection: it sees committed rows."""
    async with Store.open(postgres_url) as db:
        async with db.transaction():
            await insert_job(db, draft())
            seen = await asyncio.create_task(unfinished_jobs(db))
            assert len(await unfinished_jobs(db)) == 1
        assert seen == []
        assert len(await unfinished_jobs(db)) == 1


@pytest.mark.postgres
async def test_concurrent_starts_migrate_once(empty_postgres_url):
    """Two processes opening one empty database together apply each migration once."""
    latest = len(migrations("postgres"))

    async def start() -> int:
        async with Store.open(empty_postgres_url) as store:
            return await store.db.schema_version()

    assert await asyncio.gather(start(), start(), start()) == [latest] * 3
    async with Store.open(empty_postgres_url) as store:
        rows = await store.db.fetchall("SELECT version FROM schema_migrations ORDER BY version")
        assert [r["version"] for r in rows] == list(range(1, latest + 1))
        assert await store.db.migrate() == latest
