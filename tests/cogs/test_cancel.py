"""Cancel through the real bot: a cancelled job is delivered under a lease, by one process."""

from __future__ import annotations

import time

from bot.store import JobFilter


async def test_a_cancelled_job_is_leased_so_no_other_process_delivers_it(running_bot, database_url):
    """Between the cancel and its card's edit, another process's claim finds nothing to take."""
    async with running_bot(
        database=database_url, max_running_jobs_per_user=1, max_queued_jobs_per_user=1
    ) as env:
        env.lemondata.hold_tasks = True
        running = await env.imagine(prompt="a slow lemon", model="gpt-image-2")
        await env.fake.wait_for(lambda: env.lemondata.tasks)
        waiting = await env.imagine(prompt="a lemon", model="gpt-image-2")
        job = await env.job_for(waiting)
        assert job.state == "queued"

        # The cancelled card's edit is held: the moment another process could claim it.
        stall = env.fake.hold_next("PATCH", rf"/webhooks/\d+/{waiting.token}/messages/")
        press = env.click(waiting, "Cancel", env.fake.alice)
        await env.fake.wait_for_callback(press)
        await env.fake.wait_for(stall.seen.is_set)
        cancelled = await env.db.jobs.get(job.id)
        assert (cancelled.state, cancelled.delivery_state) == ("cancelled", "pending")
        assert cancelled.lease_owner == env.bot.jobs.runner.leases.owner
        assert cancelled.lease_until is not None and cancelled.lease_until > time.time()
        other = await env.db.jobs.claim(owner="other", lease_until=time.time() + 30, limit=10)
        assert other == []

        stall.release.set()
        done = await env.settled(job.id)
        assert (done.state, done.delivery_state, done.quota_state) == (
            "cancelled",
            "delivered",
            "released",
        )
        assert done.lease_owner == env.bot.jobs.runner.leases.owner  # nobody took it over
        assert [j.id for j in await env.db.jobs.search(JobFilter(state="cancelled"))] == [job.id]
        assert len(env.lemondata.tasks) == 1  # the cancelled one was never sent
        assert running.callbacks
