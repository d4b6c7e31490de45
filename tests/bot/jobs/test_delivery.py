"""Delivery fallbacks and restart recovery, with the real bot against both fakes."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
import time_machine

from bot.catalog import ImagineOptions
from bot.jobs import JobRequest
from bot.jobs.leases import LOST_TOKEN
from bot.store import LeaseLost
from bot.ui.parts import join_links
from tests.fakes.lemondata import PNG_SIGNATURE


async def held_task(env, **options):
    """Start /imagine on a held gpt-image-2 task; return the interaction and task id."""
    env.lemondata.hold_tasks = True
    interaction = await env.imagine(prompt="a city", model="gpt-image-2", **options)
    job = await env.wait_for_job(
        (await env.job_for(interaction)).id, lambda j: j.task_id is not None
    )
    return interaction, job


async def test_expired_token_falls_back_to_channel_reply(
    running_bot, fake, lemondata, database_url
):
    """A refused edit (50027) delivers the image as a channel reply mentioning the user."""
    async with running_bot(database=database_url) as env:
        interaction, job = await held_task(env)
        fake.expire_token(interaction)
        lemondata.complete_task(job.task_id)
        job = await env.settled(job.id)
        assert job.delivered_via == "channel"
        (message,) = [
            m for m in fake.channel_messages(fake.channel_id) if m["id"] != str(job.message_id)
        ]
        assert f"<@{fake.alice.id}>" in message["content"]
        assert message["message_reference"]["message_id"] == str(job.message_id)
        (image,) = fake.message_files(message)
        assert image.data.startswith(PNG_SIGNATURE)
        assert str(job.delivered_message_id) == message["id"]


async def test_edit_after_fourteen_minutes_goes_to_channel(
    running_bot, fake, lemondata, database_url
):
    """Once the token is about to expire the bot does not even try the edit."""
    async with running_bot(
        database=database_url,
        job_timeout_seconds=3600,
    ) as env:
        interaction, job = await held_task(env)
        await fake.wait_for_edits(interaction)  # the "Generating" progress edit
        edits_before = len(interaction.edits)
        later = dt.datetime.fromtimestamp(job.created_at + 14.5 * 60, dt.UTC)
        with time_machine.travel(later, tick=False):
            lemondata.complete_task(job.task_id)
            job = await env.settled(job.id)
        assert job.delivered_via == "channel"
        assert len(interaction.edits) == edits_before


async def test_forbidden_channel_falls_back_to_dm(running_bot, fake, lemondata, database_url):
    """With the edit refused and the channel forbidden, the result goes by DM."""
    async with running_bot(database=database_url) as env:
        interaction, job = await held_task(env)
        fake.expire_token(interaction)
        fake.forbid_channel(fake.channel_id)
        lemondata.complete_task(job.task_id)
        job = await env.settled(job.id)
        assert job.delivered_via == "dm"
        (dm,) = fake.dms(fake.alice)
        assert fake.message_files(dm)[0].data.startswith(PNG_SIGNATURE)


async def test_undeliverable_outcome_is_refunded(
    running_bot, monkeypatch, fake, lemondata, database_url
):
    """When every path keeps failing, delivery gives up after its retries and refunds."""
    monkeypatch.setattr("bot.jobs.outcomes.DELIVERY_RETRY_DELAYS", (0.0, 0.0))
    async with running_bot(database=database_url) as env:
        interaction, job = await held_task(env)
        fake.expire_token(interaction)
        fake.forbid_channel(fake.channel_id)
        fake.block_dms(fake.alice)
        lemondata.complete_task(job.task_id)
        job = await env.settled(job.id)
        assert (job.state, job.delivery_state, job.delivered_via, job.quota_state) == (
            "succeeded",
            "failed",
            "none",
            "released",
        )
        posts = fake.requests_to("POST", rf"^/channels/{fake.channel_id}/messages$")
        assert len(posts) == 3  # one channel post per attempt


async def test_the_failed_delivery_and_its_refund_are_one_write(
    running_bot, monkeypatch, fake, lemondata, database_url
):
    """If the refund cannot be written, the failed delivery is not recorded either."""
    monkeypatch.setattr("bot.jobs.outcomes.DELIVERY_RETRY_DELAYS", (0.0,))
    async with running_bot(database=database_url) as env:
        interaction, job = await held_task(env)
        fake.expire_token(interaction)
        fake.forbid_channel(fake.channel_id)
        fake.block_dms(fake.alice)
        broken = RuntimeError("the disk is full")

        async def refund(job_id):
            raise broken

        working = env.bot.quota.refund
        env.bot.quota.refund = refund  # type: ignore[method-assign]
        lemondata.complete_task(job.task_id)
        await env.wait_for_job(job.id, lambda j: j.state == "succeeded")
        await env.bot.background.wait_idle("finish")
        stored = await env.db.jobs.get(job.id)
        assert (stored.delivery_state, stored.quota_state) == ("pending", "settled")
        env.bot.quota.refund = working  # type: ignore[method-assign]
        # As at the next start: the job is claimed again (this process stopped working on
        # it when the step died), then delivered.
        await env.bot.jobs.runner.leases.claim(everything=True)
        await env.bot.jobs.runner.deliver(job.id)
        stored = await env.db.jobs.get(job.id)
        assert (stored.delivery_state, stored.quota_state) == ("failed", "released")


async def test_delivery_is_retried_until_it_gets_through(
    running_bot, monkeypatch, fake, lemondata, database_url
):
    """A Discord hiccup on every path at once is survived by a later attempt."""
    monkeypatch.setattr("bot.jobs.outcomes.DELIVERY_RETRY_DELAYS", (0.0, 0.0))
    async with running_bot(database=database_url) as env:
        interaction, job = await held_task(env)
        await fake.wait_for_edits(interaction)  # the "Generating" progress edit
        fake.fail_next("PATCH", r"^/webhooks/", 403, code=50013)
        fake.fail_next("POST", r"^/channels/\d+/messages$", 403, code=50013)
        fake.fail_next("POST", r"^/users/@me/channels$", 403, code=50007)
        lemondata.complete_task(job.task_id)
        job = await env.settled(job.id)
        assert (job.delivered_via, job.quota_state) == ("edit", "settled")
        assert fake.original_files(interaction)


async def test_oversized_image_is_linked_not_attached(running_bot, fake, lemondata, database_url):
    """An image over the interaction's upload limit is shown by URL."""
    lemondata.file_size_bytes = 4096
    async with running_bot(database=database_url) as env:
        interaction = env.send(
            "imagine",
            {"prompt": "a cat", "model": "nano-banana"},
            user=fake.alice,
            attachment_size_limit=1024,
        )
        await fake.wait_for_callback(interaction)
        job = await env.settled((await env.job_for(interaction)).id)
        assert job.delivered_via == "edit"
        assert fake.original_files(interaction) == []
        embed = interaction.original["embeds"][0]
        assert embed["image"]["url"] == job.result_urls[0]


async def test_expired_result_url_fails_and_refunds(running_bot, lemondata, database_url):
    """A result URL already gone at completion is a clear, refunded failure."""
    async with running_bot(database=database_url) as env:
        interaction, job = await held_task(env)
        # Both calls run in one tick of the loop: the bot cannot poll in between.
        lemondata.complete_task(job.task_id)
        lemondata.expire_all_files()
        job = await env.settled(job.id)
        assert (job.state, job.error_code, job.quota_state) == ("failed", "expired", "released")
        assert "link expired" in interaction.original["embeds"][0]["fields"][-1]["value"]


async def test_running_task_resumed_after_restart(running_bot, fake, lemondata, database_url):
    """A job with a task id is polled again after a restart, never created again."""
    async with running_bot(database=database_url) as env:
        interaction, job = await held_task(env)
    async with running_bot(database=database_url) as env:
        lemondata.complete_task(job.task_id)
        job = await env.settled(job.id)
        assert (job.state, job.quota_state, job.delivered_via) == ("succeeded", "settled", "edit")
        assert len(lemondata.creates()) == 1
        assert fake.original_files(interaction)


async def test_inflight_sync_create_interrupted_and_refunded(running_bot, lemondata, database_url):
    """A synchronous create cut off by a stop is not repeated: failed, refunded, explained."""
    async with running_bot(database=database_url) as env:
        lemondata.gate = asyncio.Event()
        interaction = await env.imagine(prompt="a cat", model="nano-banana")
        await lemondata.wait_for(lambda: lemondata.gated == 1)
        job_id = (await env.job_for(interaction)).id
    lemondata.gate.set()
    async with running_bot(database=database_url) as env:
        job = await env.settled(job_id)
        assert (job.state, job.error_code, job.quota_state) == (
            "failed",
            "interrupted",
            "released",
        )
        assert len(lemondata.creates()) == 1
        assert "restarted" in interaction.original["embeds"][0]["fields"][-1]["value"]


async def test_queued_job_submitted_after_restart(running_bot, fake, lemondata, database_url):
    """A job stored but never sent is submitted on the next start."""
    async with running_bot(database=database_url) as env:
        accepted = await env.bot.jobs.accept(
            JobRequest(
                options=ImagineOptions(prompt="a cat", model="nano-banana"),
                guild_id=fake.guild_id,
                channel_id=fake.channel_id,
                user_id=fake.alice.id,
                application_id=fake.application_id,
                interaction_id=None,
                interaction_token=None,
                upload_limit=10_000_000,
                received_at=0.0,
            )
        )
    assert lemondata.creates() == []
    job = accepted.job
    async with running_bot(database=database_url) as env:
        job = await env.settled(job.id)
        assert job.state == "succeeded" and job.delivered_via == "channel"
        assert len(lemondata.creates()) == 1


async def test_graceful_close_lets_inflight_create_finish(running_bot, lemondata, database_url):
    """A stop with a grace period lets a synchronous create finish and be delivered."""
    async with running_bot(database=database_url) as env:
        lemondata.gate = asyncio.Event()
        interaction = await env.imagine(prompt="a cat", model="nano-banana")
        await lemondata.wait_for(lambda: lemondata.gated == 1)
        closing = asyncio.create_task(env.bot.background.close(grace=30))
        refused = await env.imagine(prompt="another", model="nano-banana")
        assert "restarting" in refused.callbacks[0][1]["content"]
        lemondata.gate.set()
        await closing
        job = await env.db.jobs.get((await env.job_for(interaction)).id)
        assert (job.state, job.delivered_via) == ("succeeded", "edit")
        assert len(lemondata.creates()) == 1


async def test_late_progress_edit_never_replaces_the_result(running_bot, lemondata, database_url):
    """A progress update computed before delivery does not overwrite the result card."""
    async with running_bot(database=database_url) as env:
        interaction, stale = await held_task(env)  # `stale` is the row while running
        lemondata.complete_task(stale.task_id)
        await env.settled(stale.id)
        edits = len(interaction.edits)
        await env.bot.delivery.progress(stale)
        assert len(interaction.edits) == edits
        assert interaction.original["embeds"][0]["title"] == "Here is your image"


@pytest.mark.parametrize(
    ("links", "limit", "expected"),
    [
        (["https://a/1", "https://a/2"], 100, "https://a/1\nhttps://a/2"),
        (["x" * 60, "y" * 60], 100, "x" * 60 + "\n(+1 more)"),
        (["z" * 3000], 1024, "(+1 more)"),
        ([], 100, ""),
    ],
)
def test_join_links_keeps_whole_links_within_limits(links, limit, expected):
    """Links are never cut in the middle and the text fits Discord's limits."""
    text = join_links(links, limit)
    assert text == expected and len(text) <= limit


async def test_a_step_that_dies_on_a_finished_job_lets_its_lease_go(running_bot, database_url):
    """A step dying where failing the job changes nothing stops renewing its lease."""
    async with running_bot(database=database_url) as env:
        interaction = await env.imagine(prompt="a cat", model="nano-banana")
        job = await env.settled((await env.job_for(interaction)).id)
        runner = env.bot.jobs.runner
        runner.leases.hold(job)  # as if a delivery step still held it

        async def dies() -> None:
            raise RuntimeError("the database went away mid-delivery")

        await runner._guarded(dies(), job.id)
        # Renewed no more (the next claim takes it), and fenced off here until then.
        assert runner.leases.token(job.id) == LOST_TOKEN


async def test_a_result_s_images_are_handed_to_delivery_not_read_back(
    running_bot, fake, lemondata, database_url
):
    """Finishing and delivering a fresh result never reads its images back from the store.

    The downloaded bytes are written once, and the message still carries the image.
    """
    async with running_bot(database=database_url) as env:
        loads = 0
        load_images = env.db.images.load_images

        async def counted(job_id):
            nonlocal loads
            loads += 1
            return await load_images(job_id)

        env.db.images.load_images = counted
        interaction = await env.imagine(prompt="a cat", model="nano-banana")
        job = await env.settled((await env.job_for(interaction)).id)
        assert job.state == "succeeded" and job.delivery_state == "delivered"
        assert loads == 0
        original = fake.get_interaction(interaction.id).original
        assert original is not None and original["attachments"]


async def test_a_delivery_under_a_lease_it_no_longer_holds_posts_nothing(
    running_bot, fake, database_url
):
    """Checked before anything is posted: an old claim's delivery, or one whose lease ran
    out, posts nothing (another claim may be posting it); the current claim delivers.

    Seen after a PostgreSQL outage: lease upkeep claimed this process's own expired jobs
    again while the old claims' deliveries were waiting for the database, and each posted
    the result once, so the member saw it twice.
    """
    async with running_bot(database=database_url) as env:
        interaction = await env.imagine(prompt="a cat", model="nano-banana")
        job = await env.settled((await env.job_for(interaction)).id)

        def posts() -> int:
            return len(interaction.edits) + len(fake.channel_messages(fake.channel_id))

        before = posts()
        old = job.lease_token
        await env.db.db.execute(  # pending again, claimed anew (token raised)
            "UPDATE jobs SET delivery_state = 'pending', parts_delivered = 0, "
            "lease_token = lease_token + 1, lease_until = ? WHERE id = ?",
            (time.time() + 30, job.id),
        )
        delivery = env.bot.jobs.runner.outcomes._delivery
        with pytest.raises(LeaseLost, match="no longer held"):
            await delivery.deliver(job, lease=old)
        await env.db.db.execute("UPDATE jobs SET lease_until = ? WHERE id = ?", (0.0, job.id))
        with pytest.raises(LeaseLost, match="ran out"):
            await delivery.deliver(job, lease=old + 1)
        assert posts() == before  # nothing posted
        await env.db.db.execute(
            "UPDATE jobs SET lease_until = ? WHERE id = ?", (time.time() + 30, job.id)
        )
        sent = await delivery.deliver(job, lease=old + 1)
        assert sent is not None and sent.complete
        assert posts() == before + 1
