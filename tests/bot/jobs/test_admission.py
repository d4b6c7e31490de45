"""Admissions: requests arriving together share one transaction, and stay exact."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import QueueFull, QuotaExceeded, Refusal
from bot.jobs.admission import Accepted, Admissions
from bot.jobs.queue_policy import Caps
from bot.quota import QuotaService, window_of
from bot.store import Store
from tests.factories import draft, unfinished_jobs


async def _admit_all(admissions: Admissions, drafts) -> list[Accepted | BaseException]:
    return await asyncio.gather(*(admissions.admit(d) for d in drafts), return_exceptions=True)


def _member_draft(member: int, request: int):
    return draft(user_id=100 + member, interaction_id=1000 * member + request, quota_window="")


async def test_simultaneous_requests_share_a_few_transactions(db, background):
    """200 requests at once: a handful of transactions, ids in the order they arrived."""
    admissions = Admissions(db, QuotaService(db, period_limit=1000), background=background)
    drafts = [draft(interaction_id=i, quota_window="") for i in range(200)]
    outcomes = await _admit_all(admissions, drafts)
    assert all(isinstance(o, Accepted) for o in outcomes)
    jobs = [o.job for o in outcomes if isinstance(o, Accepted)]
    assert [j.interaction_id for j in sorted(jobs, key=lambda j: j.id)] == list(range(200))
    assert admissions.batches <= 3  # the first alone, the rest together
    assert await db.quota.quota_used(1, 3, window_of(jobs[0].created_at)) == 200


async def test_quotas_are_exact_within_a_batch(db, background):
    """50 members with 3 units each ask 4 times at once: each gets their first 3."""
    admissions = Admissions(db, QuotaService(db, period_limit=3), background=background)
    drafts = [_member_draft(m, r) for r in range(4) for m in range(50)]  # interleaved
    outcomes = await _admit_all(admissions, drafts)
    for d, outcome in zip(drafts, outcomes, strict=True):
        refused = d.interaction_id % 1000 == 3
        assert isinstance(outcome, QuotaExceeded if refused else Accepted), (d, outcome)
    window = window_of(outcomes[0].job.created_at)
    assert all([await db.quota.quota_used(1, 100 + m, window) == 3 for m in range(50)])
    assert len(await unfinished_jobs(db)) == 150


async def test_the_queue_counts_the_requests_admitted_before_in_the_batch(db, background):
    """One slot, two places in the queue: the first runs, two wait, the rest are refused."""

    async def caps(guild_id: int) -> Caps:
        return Caps(
            running_per_user=1, running_per_guild=10, queued_per_user=2, queued_per_guild=10
        )

    admissions = Admissions(
        db, QuotaService(db, period_limit=100), background=background, caps=caps
    )
    outcomes = await _admit_all(admissions, [draft(quota_window="") for _ in range(5)])
    places = [o.position if isinstance(o, Accepted) else type(o) for o in outcomes]
    # The first runs at once: the next two take the queue's two places.
    assert places == [None, 1, 2, QueueFull, QueueFull]


async def test_one_failing_request_does_not_fail_the_others(db, background):
    """A request the database rejects fails alone; the batch is retried one by one."""
    admissions = Admissions(db, QuotaService(db, period_limit=100), background=background)
    drafts = [draft(interaction_id=i, quota_window="") for i in range(10)]
    drafts[4] = draft(interaction_id=4, quota_window="", prompt=None)  # NOT NULL
    outcomes = await _admit_all(admissions, drafts)
    assert isinstance(outcomes[4], Exception) and not isinstance(outcomes[4], Refusal)
    assert all(isinstance(o, Accepted) for i, o in enumerate(outcomes) if i != 4)
    assert len(await unfinished_jobs(db)) == 9


async def test_a_request_cancelled_before_its_batch_stores_nothing(db, background):
    """A caller gone before the transaction started leaves nothing behind."""
    admissions = Admissions(db, QuotaService(db, period_limit=100), background=background)
    first = asyncio.create_task(admissions.admit(draft(quota_window="")))
    second = asyncio.create_task(admissions.admit(draft(quota_window="")))
    await asyncio.sleep(0)  # both wait for the committer, which has not run yet
    second.cancel()
    assert isinstance(await first, Accepted)
    with pytest.raises(asyncio.CancelledError):
        await second
    assert len(await unfinished_jobs(db)) == 1


async def test_two_processes_admitting_at_once_stay_exact(postgres_url, background):
    """Two processes, each batching, on one PostgreSQL: every member still gets 3."""
    async with Store.open(postgres_url) as one, Store.open(postgres_url) as two:
        sides = [
            Admissions(s, QuotaService(s, period_limit=3), background=background)
            for s in (one, two)
        ]
        drafts = [_member_draft(m, r) for r in range(4) for m in range(20)]
        outcomes = await asyncio.gather(
            *(sides[i % 2].admit(d) for i, d in enumerate(drafts)), return_exceptions=True
        )
        assert sum(isinstance(o, Accepted) for o in outcomes) == 60
        assert all(isinstance(o, (Accepted, QuotaExceeded)) for o in outcomes)
        accepted = [o for o in outcomes if isinstance(o, Accepted)]
        window = window_of(accepted[0].job.created_at)
        assert all([await one.quota.quota_used(1, 100 + m, window) == 3 for m in range(20)])
