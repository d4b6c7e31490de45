"""Moving a bot: a populated SQLite ledger copied into PostgreSQL, ids and all."""

from __future__ import annotations

import pytest

from bot.store import InputImage, Store, StoredImage, migrate
from bot.store.migrate import TABLES, LedgerCopyError, copy_ledger, migrate_db
from bot.store.rows import WebSession
from tests.factories import draft, insert_job, unfinished_jobs

pytestmark = pytest.mark.postgres

SESSION = WebSession(
    id_hash="ab" * 32,
    user_id=9,
    username="mod",
    locale="zh-CN",
    guild_ids=(1, 2),
    moderated_ids=(1,),
    checked_at=1.5,
    created_at=1.0,
    expires_at=2_000_000_000.0,
)


async def _populate(path) -> dict[str, list[int]]:
    """Fill every table of a SQLite ledger, with gaps in the ids; return the ids kept."""
    async with Store.open(path) as db:
        jobs = [
            (await insert_job(db, draft(interaction_id=i), inputs=inputs)).id
            for i, inputs in enumerate([(), (InputImage(0, "a.png", "image/png", b"ref"),), ()])
        ]
        await db.images.save_images(jobs[0], [StoredImage(0, "http://x/1.png", "image/png", b"1")])
        await db.jobs.transition(jobs[0], ["queued"], "running", task_id="t1")
        await db.guilds.update_settings(1, period_limit=5, quota_period="week")
        await db.guilds.set_quota_rule(1, "role", 100, None, set_by=9)
        await db.guilds.block_user(1, 7, "spam", blocked_by=9)
        rules = [(await db.guilds.add_prompt_rule(1, p, False, 9)).id for p in ("a", "b", "c")]
        await db.guilds.remove_prompt_rule(1, rules[1])
        actions = [(await db.actions.record(1, 9, "block", "7")).id for _ in range(2)]
        await db.state.set("commands", "hash")
        await db.spend.set_budget(
            1, amount=20_000_000, period="month", member_cap=None, allow_unpriced=False, set_by=9
        )
        await db.spend.claim_alert(1, "2026-12", 50)
        await db.web.save_thumbnail(jobs[0], 0, b"RIFFwebp")
        await db.web.create_session(SESSION)
        async with db.transaction():
            await db.db.execute("DELETE FROM jobs WHERE id = ?", (jobs[1],))
        return {"jobs": [jobs[0], jobs[2]], "prompt_rules": [rules[0], rules[2]], "mod": actions}


async def test_copy_keeps_rows_and_ids(tmp_path, postgres_url):
    """Every table arrives with equal counts and the same ids; new ids follow the old."""
    source = tmp_path / "old.db"
    ids = await _populate(source)
    counts = await copy_ledger(f"sqlite:///{source}", postgres_url)
    assert set(counts) == set(TABLES)
    assert counts["jobs"] == 2 and counts["job_images"] == 1 and counts["prompt_rules"] == 2
    assert counts["job_inputs"] == 0  # they went with their job
    async with Store.open(postgres_url) as db:
        assert [j.id for j in await unfinished_jobs(db)] == ids["jobs"]
        assert (await db.jobs.get(ids["jobs"][0])).task_id == "t1"
        assert [r.id for r in await db.guilds.prompt_rules(1)] == ids["prompt_rules"]
        assert sorted(a.id for a in await db.actions.latest(1)) == ids["mod"]
        assert (await db.guilds.settings(1)).quota_period == "week"
        assert (await db.guilds.quota_rules(1))[0].limit_units is None
        assert (await db.guilds.blocked_user(1, 7)).reason == "spam"
        assert (await db.images.load_images(ids["jobs"][0]))[0].data == b"1"
        assert await db.state.get("commands") == "hash"
        assert (await db.spend.budget(1)).amount == 20_000_000
        assert not await db.spend.claim_alert(1, "2026-12", 50)  # announced already
        assert await db.web.thumbnail(ids["jobs"][0], 0) == b"RIFFwebp"  # not made again
        assert await db.web.session(SESSION.id_hash) == SESSION  # still signed in
        assert (await insert_job(db, draft())).id == max(ids["jobs"]) + 1
        assert (await db.guilds.add_prompt_rule(1, "d", False, 9)).id == ids["prompt_rules"][-1] + 1


async def test_a_second_copy_is_refused_and_writes_nothing(tmp_path, postgres_url):
    """A target that holds rows is refused with a clear message, and stays as it was."""
    source = tmp_path / "old.db"
    await _populate(source)
    summary = await migrate_db(source, postgres_url)
    assert summary.startswith("Copied ") and "2 jobs" in summary and "\n" not in summary
    async with Store.open(source) as db:
        await insert_job(db, draft())
    with pytest.raises(LedgerCopyError, match="not empty"):
        await copy_ledger(source, postgres_url)
    async with Store.open(postgres_url) as db:
        assert len(await unfinished_jobs(db)) == 2


async def test_a_missing_source_is_refused(tmp_path, postgres_url):
    """A mistyped SQLite path is an error, not an empty ledger copied."""
    with pytest.raises(LedgerCopyError, match="no SQLite database"):
        await copy_ledger(f"sqlite:///{tmp_path / 'nope.db'}", postgres_url)
    assert not (tmp_path / "nope.db").exists()


async def test_a_failed_copy_leaves_the_target_empty(tmp_path, postgres_url, monkeypatch):
    """When the counts disagree the whole copy is rolled back."""
    source = tmp_path / "old.db"
    await _populate(source)
    real = migrate._copy_table

    async def miscounted(source, target, table):
        return await real(source, target, table) + (table == "mod_actions")

    monkeypatch.setattr(migrate, "_copy_table", miscounted)
    with pytest.raises(LedgerCopyError, match="row counts differ"):
        await copy_ledger(source, postgres_url)
    async with Store.open(postgres_url) as db:
        assert set((await migrate.count_rows(db.db)).values()) == {0}


def test_the_migrate_db_command_copies_then_refuses_a_second_copy(tmp_path, postgres_url):
    """`python -m bot migrate-db`: one summary line, then a one-line refusal, no traceback."""
    import asyncio
    import os
    import subprocess
    import sys
    from pathlib import Path

    source = tmp_path / "old.db"
    asyncio.run(_populate(source))
    root = str(Path(__file__).resolve().parents[3])
    command = [sys.executable, "-m", "bot", "migrate-db", "--from", f"sqlite:///{source}"]
    env = os.environ | {"PYTHONPATH": root}
    first = subprocess.run(
        [*command, "--to", postgres_url], capture_output=True, text=True, env=env, timeout=60
    )
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.strip().splitlines()) == 1 and "jobs" in first.stdout
    again = subprocess.run(
        [*command, "--to", postgres_url], capture_output=True, text=True, env=env, timeout=60
    )
    assert again.returncode == 2
    assert len(again.stderr.strip().splitlines()) == 1 and "Traceback" not in again.stderr
