"""The job ledger on a real SQLite file."""

from __future__ import annotations

import sqlite3

import pytest

from bot.store import Store, StoredImage
from bot.store.database import migrations
from tests.factories import draft, insert_job, unfinished_jobs


async def test_migrations_are_idempotent(tmp_path):
    """Opening the same file twice applies the schema once."""
    latest = len(migrations("sqlite"))
    async with Store.open(tmp_path / "x.db") as db:
        assert await db.db.migrate() == latest
    async with Store.open(tmp_path / "x.db") as db:
        assert await db.db.migrate() == latest
    with sqlite3.connect(tmp_path / "x.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_insert_and_read_back(db):
    """A job row round-trips with its JSON columns decoded."""
    job_id = (await insert_job(db, draft(), now=50.0)).id
    job = await db.jobs.get(job_id)
    assert job.state == "queued" and job.quota_state == "reserved"
    assert job.options["prompt"] == "a cat" and job.request["model"] == "nano-banana"
    assert job.created_at == 50.0 and job.result_urls == []


async def test_transitions_are_conditional(db):
    """A transition only applies from the expected states, so repeating it is harmless."""
    job_id = (await insert_job(db, draft())).id
    assert await db.jobs.transition(job_id, ["queued"], "submitted", submitted_at=1.0)
    assert not await db.jobs.transition(job_id, ["queued"], "submitted")
    assert await db.jobs.transition(job_id, ["submitted"], "running", task_id="t1", poll_url="/p")
    assert await db.jobs.transition(job_id, ["running"], "succeeded", result_urls=["u1"])
    job = await db.jobs.get(job_id)
    assert (job.state, job.task_id, job.result_urls) == ("succeeded", "t1", ["u1"])
    with pytest.raises(ValueError):
        await db.jobs.transition(job_id, ["succeeded"], "failed", state="x")


async def test_quota_state_changes_once(db):
    """Settle or release happens at most once per reservation."""
    job_id = (await insert_job(db, draft(quota_units=3))).id
    assert await db.quota.quota_used(1, 3, "2026-11-24") == 3
    assert await db.quota.set_quota_state(job_id, "released")
    assert not await db.quota.set_quota_state(job_id, "settled")
    assert await db.quota.quota_used(1, 3, "2026-11-24") == 0


async def test_transaction_rolls_back(db):
    """An exception inside a transaction leaves nothing behind."""
    with pytest.raises(RuntimeError):
        async with db.transaction():
            await insert_job(db, draft())
            raise RuntimeError("boom")
    assert await unfinished_jobs(db) == []


async def test_images_and_delivery(db):
    """Images are stored until delivery; delivery forgets the interaction token."""
    job_id = (await insert_job(db, draft())).id
    await db.images.save_images(job_id, [StoredImage(0, "http://x/1.png", "image/png", b"\x89PNG")])
    assert (await db.images.load_images(job_id))[0].data == b"\x89PNG"
    await db.jobs.transition(job_id, ["queued"], "failed")
    assert [j.id for j in await unfinished_jobs(db)] == [job_id]  # delivery still pending
    assert await db.jobs.mark_delivered(job_id, via="channel", channel_id=2, message_id=9)
    assert not await db.jobs.mark_delivered(job_id, via="dm", channel_id=2, message_id=9)
    job = await db.jobs.get(job_id)
    assert job.delivered_via == "channel" and job.interaction_token is None
    assert await unfinished_jobs(db) == []
    await db.images.drop_image_data(job_id)
    assert (await db.images.load_images(job_id))[0].data is None


async def test_state_store(db):
    """The key/value table upserts."""
    assert await db.state.get("k") is None
    await db.state.set("k", "1")
    await db.state.set("k", "2")
    assert await db.state.get("k") == "2"
