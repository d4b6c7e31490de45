"""Leases on the ledger: claims, renewals, take-over of expired leases, fenced writes."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.store import LeaseLost, Store, StoredImage
from tests.factories import draft, insert_job


async def _running(db: Store, **overrides) -> int:
    job = await insert_job(db, draft(**overrides))
    submitted = await db.jobs.submit(job.id, owner="a", lease_until=time.time() + 30)
    assert submitted is not None and submitted.lease_owner == "a"
    return job.id


async def test_a_live_lease_is_not_claimed_and_an_expired_one_is_taken_over(db):
    """Another process claims only what nobody holds, raising the token as it takes it."""
    held = await _running(db)
    expired = await _running(db, interaction_id=99)
    async with db.transaction():
        await db.db.execute(
            "UPDATE jobs SET lease_until = ? WHERE id = ?", (time.time() - 1, expired)
        )
    [taken] = await db.jobs.claim(owner="b", lease_until=time.time() + 30, limit=10)
    assert taken.id == expired and taken.lease_owner == "b" and taken.lease_token == 2
    assert await db.jobs.renew("a", time.time() + 30, [held, expired]) == {held}


async def test_a_write_with_a_stale_token_is_fenced(db):
    """The process that lost a job cannot move it: its token no longer matches."""
    job_id = await _running(db)
    old = (await db.jobs.get(job_id)).lease_token
    [taken] = await db.jobs.claim(
        owner="b", lease_until=time.time() + 30, limit=10, everything=True
    )
    stale = await db.jobs.transition(job_id, ["submitted"], "failed", token=old, error_code="x")
    assert stale is None
    fresh = await db.jobs.transition(job_id, ["submitted"], "running", token=taken.lease_token)
    assert fresh is not None and fresh.state == "running"


async def test_parts_and_images_from_a_stale_owner_are_fenced(db):
    """The process that lost a job can neither record a part nor store images for it."""
    job_id = await _running(db)
    old = (await db.jobs.get(job_id)).lease_token
    [taken] = await db.jobs.claim(
        owner="b", lease_until=time.time() + 30, limit=10, everything=True
    )
    image = StoredImage(0, "https://cdn.example/a.png", "image/png", b"png")
    with pytest.raises(LeaseLost):
        await db.images.save_images(job_id, [image], token=old)
    assert await db.images.load_images(job_id) == []
    with pytest.raises(LeaseLost):
        await db.jobs.record_part(job_id, 0, via="edit", channel_id=1, message_id=2, token=old)
    assert (await db.jobs.get(job_id)).parts_delivered == 0
    new = taken.lease_token
    await db.images.save_images(job_id, [image], token=new)
    await db.jobs.record_part(job_id, 0, via="edit", channel_id=1, message_id=2, token=new)
    await db.jobs.record_part(job_id, 0, via="edit", channel_id=1, message_id=2, token=new)
    after = await db.jobs.get(job_id)
    assert after.parts_delivered == 1 and after.delivered_via == "edit"  # once, not twice
    assert [i.url for i in await db.images.load_images(job_id)] == [image.url]


async def test_two_claimers_never_take_the_same_job(db):
    """Concurrent claims split the orphans: every job is taken by exactly one."""
    ids = [await _running(db, interaction_id=i) for i in range(20)]
    async with db.transaction():
        await db.db.execute("UPDATE jobs SET lease_until = ?", (time.time() - 1,))
    first, second = await asyncio.gather(
        db.jobs.claim(owner="x", lease_until=time.time() + 30, limit=100),
        db.jobs.claim(owner="y", lease_until=time.time() + 30, limit=100),
    )
    taken = [j.id for j in first] + [j.id for j in second]
    assert sorted(taken) == ids


async def test_leases_given_back_at_a_clean_stop_are_taken_at_once(db):
    """A process that stops cleanly gives its leases back: another claims them at once."""
    job_id = await _running(db)
    assert await db.jobs.claim(owner="b", lease_until=time.time() + 30, limit=10) == []
    assert await db.jobs.give_back("a") == 1
    [taken] = await db.jobs.claim(owner="b", lease_until=time.time() + 30, limit=10)
    assert taken.id == job_id and taken.lease_owner == "b" and taken.lease_token == 2


async def test_work_in_flight_on_a_job_lost_to_another_process_stays_fenced(db):
    """After renew finds a job taken over, this process's late writes on it are refused."""
    from bot.jobs.leases import Leases

    leases = Leases(db, 30)
    job = await insert_job(db, draft())
    submitted = await db.jobs.submit(job.id, owner=leases.owner, lease_until=time.time() + 30)
    leases.hold(submitted)
    async with db.transaction():
        await db.db.execute("UPDATE jobs SET lease_until = ? WHERE id = ?", (0.0, job.id))
    [taken] = await db.jobs.claim(owner="b", lease_until=time.time() + 30, limit=10)
    assert taken.id == job.id
    assert await leases.renew() == {job.id}
    image = StoredImage(0, "https://cdn.example/a.png", "image/png", b"png")
    with pytest.raises(LeaseLost):
        await db.images.save_images(job.id, [image], token=leases.token(job.id))
    with pytest.raises(LeaseLost):
        await db.jobs.record_part(
            job.id, 0, via="edit", channel_id=1, message_id=2, token=leases.token(job.id)
        )
    late = await db.jobs.transition(
        job.id, ["submitted"], "failed", token=leases.token(job.id), error_code="x"
    )
    assert late is None and (await db.jobs.get(job.id)).lease_owner == "b"
    assert await leases.renew() == set()  # no longer renewed either


async def test_a_job_left_for_the_next_claim_stays_fenced_until_claimed_again(db):
    """lose(): renewed no more and fenced here; claiming it again gives a fresh token."""
    from bot.jobs.leases import LOST_TOKEN, Leases

    leases = Leases(db, 30)
    job = await insert_job(db, draft())
    submitted = await db.jobs.submit(job.id, owner=leases.owner, lease_until=time.time() + 30)
    leases.hold(submitted)
    leases.lose(job.id)
    assert leases.token(job.id) == LOST_TOKEN
    assert await leases.renew() == set()
    async with db.transaction():
        await db.db.execute("UPDATE jobs SET lease_until = ? WHERE id = ?", (0.0, job.id))
    [again] = await leases.claim()
    assert again.id == job.id and leases.token(job.id) == again.lease_token == 2


async def test_a_transition_can_take_the_lease_in_the_same_write(db):
    """A queued job cancelled with ``lease_to`` is leased at once: no other claim takes it."""
    job = await insert_job(db, draft())
    until = time.time() + 30
    cancelled = await db.jobs.transition(job.id, ["queued"], "cancelled", lease_to=("a", until))
    assert cancelled is not None
    assert (cancelled.lease_owner, cancelled.lease_until, cancelled.lease_token) == ("a", until, 1)
    assert await db.jobs.claim(owner="b", lease_until=until, limit=10) == []
