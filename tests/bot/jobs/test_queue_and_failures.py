"""Running caps and the queue, /quota, and the refund on every failure path."""

from __future__ import annotations

import asyncio
import copy

import pytest

from bot.catalog import ImagineOptions
from bot.errors import QuotaExceeded
from bot.jobs import Accepted, JobRequest
from bot.store import JobFilter
from bot.ui.text import FAILURE_TEXT, REFUND_NOTE

EPHEMERAL = 64


def state_of(message: dict) -> str:
    return {f["name"]: f["value"] for f in message["embeds"][0]["fields"]}["State"]


async def test_user_cap_queues_then_runs(running_bot, fake, lemondata, database_url):
    """Over the per-user cap a request waits with its position, then runs in turn."""
    lemondata.hold_tasks = True
    async with running_bot(
        database=database_url,
        max_running_jobs_per_user=1,
    ) as env:
        first = await env.imagine(prompt="one", model="gpt-image-2")
        await lemondata.wait_for(lambda: len(lemondata.tasks) == 1)
        second = await env.imagine(prompt="two", model="gpt-image-2")
        assert (
            state_of(second.callbacks[0][1]) == "Waiting for a free slot: #1 in this server's queue"
        )
        first_job = await env.job_for(first)
        second_job = await env.job_for(second)
        assert second_job.state == "queued" and len(lemondata.creates()) == 1

        (task_id,) = lemondata.tasks
        lemondata.complete_task(task_id)
        await env.settled(first_job.id)
        await lemondata.wait_for(lambda: len(lemondata.tasks) == 2)
        (started, *_) = await fake.wait_for_edits(second)
        assert state_of(started.payload) in ("Sent to the image service", "Generating")
        (second_task,) = [t for t in lemondata.tasks if t != task_id]
        lemondata.complete_task(second_task)
        second_job = await env.settled(second_job.id)
        assert second_job.state == "succeeded" and second_job.delivered_via == "edit"
        assert [c["prompt"] for c in lemondata.creates()] == ["one", "two"]


async def test_queue_positions_update(running_bot, fake, lemondata, database_url):
    """Waiting requests see their place in the server's queue move up."""
    lemondata.hold_tasks = True
    async with running_bot(
        database=database_url,
        max_running_jobs_per_guild=1,
    ) as env:
        await env.imagine(user=fake.alice, prompt="a", model="gpt-image-2")
        await lemondata.wait_for(lambda: len(lemondata.tasks) == 1)
        second = await env.imagine(user=fake.bob, prompt="b", model="gpt-image-2")
        third = await env.imagine(user=fake.owner, prompt="c", model="gpt-image-2")
        assert state_of(second.callbacks[0][1]).endswith("#1 in this server's queue")
        assert state_of(third.callbacks[0][1]).endswith("#2 in this server's queue")
        lemondata.complete_task(next(iter(lemondata.tasks)))
        moved_up = "Waiting for a free slot: #1 in this server's queue"
        try:
            await fake.wait_for(lambda: any(state_of(e.payload) == moved_up for e in third.edits))
        except TimeoutError:
            shown = [state_of(e.payload) for e in third.edits]
            jobs = [
                (j.id, j.user_id, j.state, j.error_code)
                for j in await env.db.jobs.search(JobFilter())
            ]
            raise AssertionError(
                f"third request's card never moved up; edits: {shown}; jobs: {jobs}"
            ) from None
        assert all(state_of(e.payload).startswith("Waiting") for e in third.edits)


async def test_full_queue_is_refused(running_bot, fake, lemondata, database_url):
    """A full personal queue is refused ephemerally, before anything is reserved."""
    lemondata.hold_tasks = True
    async with running_bot(
        database=database_url,
        max_running_jobs_per_user=1,
        max_queued_jobs_per_user=1,
    ) as env:
        await env.imagine(prompt="a", model="gpt-image-2")
        await lemondata.wait_for(lambda: len(lemondata.tasks) == 1)
        await env.imagine(prompt="b", model="gpt-image-2")
        third = await env.imagine(prompt="c", model="gpt-image-2")
        kind, data = third.callbacks[0]
        assert kind == 4 and data["flags"] & EPHEMERAL
        assert "1 request waiting" in data["content"]
        status = await env.bot.quota.status(fake.guild_id, fake.alice.id)
        assert status.used == 4  # two gpt-image-2 jobs of 2 units; the third reserved nothing
        assert len(await env.db.jobs.search(JobFilter())) == 2


async def test_quota_command(running_bot, fake, database_url):
    """/quota shows usage, the reset time, jobs in flight and per-model costs, privately."""
    async with running_bot(database=database_url) as env:
        done = await env.imagine(prompt="a", model="gemini-3-pro-image-preview")
        await env.settled((await env.job_for(done)).id)
        interaction = env.send("quota", {}, user=fake.alice)
        kind, data = await fake.wait_for_callback(interaction)
        assert kind == 4 and data["flags"] & EPHEMERAL
        fields = {f["name"]: f["value"] for f in data["embeds"][0]["fields"]}
        assert fields["Usage"] == "2 of 25 used today, 23 left"
        assert fields["Resets"].startswith("<t:") and fields["Resets"].endswith(":f>)")
        assert fields["Jobs"] == "0 running, 0 waiting"
        costs = fields["Cost of one image (4k counts double)"]
        assert "`gpt-image-2`: 2" in costs and "`nano-banana`: 1" in costs


async def test_configured_model_weight(running_bot, database_url):
    """MODEL_WEIGHTS overrides a family's weight."""
    async with running_bot(
        database=database_url,
        model_weights={"nano-banana": 5},
    ) as env:
        interaction = await env.imagine(prompt="a", model="nano-banana", count=2)
        assert (await env.job_for(interaction)).quota_units == 10


def _fault(name):
    """Return a function that arms the emulator for one failure path."""

    def arm(lemondata):
        if name == "bad_request":
            lemondata.fail_next(400, body={"error": {"message": "bad size", "type": "x"}})
        elif name in ("401", "403"):
            lemondata.fail_next(int(name))
        elif name == "402":
            lemondata.fail_next(402)
        elif name == "429":
            lemondata.fail_next(429, count=10, retry_after=0.01)
        elif name in ("500", "502", "503", "504"):
            lemondata.fail_next(int(name))
        elif name == "dropped":
            lemondata.drop_next_connection()
        elif name == "malformed":
            lemondata.fail_next(200, body="<html>oops</html>")
        elif name == "task_failed":
            lemondata.fail_task_models["gpt-image-2"] = "upstream exploded"
        elif name == "task_lost":
            lemondata.fail_next(404, path_prefix="/v1/tasks", count=10)
        elif name == "expired":
            lemondata.hold_tasks = True

    return arm


@pytest.mark.parametrize(
    ("fault", "model", "state", "code"),
    [
        ("bad_request", "nano-banana", "failed", "bad_request"),
        ("401", "nano-banana", "failed", "auth"),
        ("402", "nano-banana", "failed", "insufficient_balance"),
        ("403", "nano-banana", "failed", "auth"),
        ("429", "nano-banana", "failed", "rate_limited"),
        ("500", "nano-banana", "failed", "unavailable"),
        ("502", "nano-banana", "failed", "unavailable"),
        ("503", "nano-banana", "failed", "unavailable"),
        ("504", "nano-banana", "failed", "unavailable"),
        ("dropped", "nano-banana", "failed", "unavailable"),
        ("malformed", "nano-banana", "failed", "malformed"),
        ("content_policy", "nano-banana", "failed", "content_policy"),
        ("task_failed", "gpt-image-2", "failed", "task_failed"),
        ("task_lost", "gpt-image-2", "failed", "task_failed"),
        ("timeout", "gpt-image-2", "timed_out", "timeout"),
        ("expired", "gpt-image-2", "failed", "expired"),
    ],
)
async def test_every_failure_is_refunded_and_explained(
    running_bot, fake, lemondata, database_url, fault, model, state, code
):
    """Each failure path releases the quota once and tells the user why, briefly."""
    _fault(fault)(lemondata)
    timeout = 0.01 if fault == "timeout" else 600
    lemondata.hold_tasks = lemondata.hold_tasks or fault == "timeout"
    async with running_bot(
        database=database_url,
        job_timeout_seconds=timeout,
    ) as env:
        prompt = "a forbidden cat" if fault == "content_policy" else "a cat"
        interaction = await env.imagine(prompt=prompt, model=model)
        job = await env.job_for(interaction)
        if fault == "expired":
            job = await env.wait_for_job(job.id, lambda j: j.task_id is not None)
            lemondata.complete_task(job.task_id)
            lemondata.expire_all_files()
        job = await env.settled(job.id)
        assert (job.state, job.error_code, job.quota_state) == (state, code, "released")
        assert (await env.bot.quota.status(fake.guild_id, fake.alice.id)).used == 0
        text = interaction.original["embeds"][0]["fields"][-1]["value"]
        assert text.startswith(FAILURE_TEXT[code].split("{")[0])
        assert text.endswith(REFUND_NOTE)
        assert "{" not in text and "sk-" not in text and len(text) < 400
        creates = [c for c in lemondata.creates()]
        assert len(creates) == (4 if fault == "429" else 1)


async def test_progress_edits_are_throttled(
    running_bot, monkeypatch, fake, lemondata, database_url
):
    """Updates within the interval are coalesced into one later edit, none are lost."""
    monkeypatch.setattr("bot.jobs.delivery.PROGRESS_MIN_INTERVAL", 0.2)
    lemondata.hold_tasks = True
    async with running_bot(database=database_url) as env:
        interaction = await env.imagine(prompt="a", model="gpt-image-2")
        job = await env.wait_for_job(
            (await env.job_for(interaction)).id, lambda j: j.state == "running"
        )
        await fake.wait_for_edits(interaction)  # the "Generating" edit
        for _ in range(5):
            await env.bot.delivery.progress(job)  # an immediate edit would be awaited here
        assert len(interaction.edits) == 1
        edits = await fake.wait_for_edits(interaction, count=2)  # the coalesced one
        assert len(edits) == 2 and state_of(edits[-1].payload) == "Generating"


async def waiting_card(env, lemondata, fake, user):
    """Fill the one running slot, then ask again as ``user``: a waiting card."""
    lemondata.hold_tasks = True
    await env.imagine(user=fake.alice, prompt="first", model="gpt-image-2")
    await lemondata.wait_for(lambda: len(lemondata.tasks) == 1)
    return await env.imagine(user=user, prompt="second", model="gpt-image-2")


async def test_requester_cancels_a_waiting_request(running_bot, fake, lemondata, database_url):
    """Cancel on a waiting card: nothing sent, quota released, the card says so."""
    async with running_bot(
        database=database_url,
        max_running_jobs_per_guild=1,
    ) as env:
        card = await waiting_card(env, lemondata, fake, fake.bob)
        assert [c["label"] for c in card.original["components"][0]["components"]] == ["Cancel"]
        click = env.click(card, "Cancel", fake.bob)
        job = await env.settled((await env.job_for(card)).id)
        assert (job.state, job.error_code, job.quota_state) == (
            "cancelled",
            "cancelled",
            "released",
        )
        assert (await env.bot.quota.status(fake.guild_id, fake.bob.id)).used == 0
        await fake.wait_for_callback(click)
        assert click.callbacks[0][0] == 6  # acknowledged; the card itself was edited
        text = card.original["embeds"][0]["fields"][-1]["value"]
        assert "cancelled before it was sent" in text
        assert card.original["components"] == []
        assert [c["prompt"] for c in lemondata.creates()] == ["first"]


async def test_only_requester_or_moderator_may_cancel(running_bot, fake, lemondata, database_url):
    """Another member is refused privately; a moderator may cancel."""
    async with running_bot(
        database=database_url,
        max_running_jobs_per_guild=1,
    ) as env:
        card = await waiting_card(env, lemondata, fake, fake.bob)
        other = env.click(card, "Cancel", fake.alice)
        (refusal,) = await fake.wait_for_followups(other)
        assert other.callbacks[0][0] == 6  # acknowledged at once
        assert refusal["flags"] & EPHEMERAL
        assert "Only the member who asked" in refusal["content"]
        assert (await env.job_for(card)).state == "queued"
        by_mod = env.click(card, "Cancel", fake.mod)
        await fake.wait_for_callback(by_mod)
        assert (await env.settled((await env.job_for(card)).id)).state == "cancelled"


async def test_started_request_cannot_be_cancelled(running_bot, fake, lemondata, database_url):
    """Once sent to the image service, a request is billed: Cancel says so."""
    async with running_bot(
        database=database_url,
        max_running_jobs_per_guild=1,
    ) as env:
        card = await waiting_card(env, lemondata, fake, fake.bob)
        waiting = copy.deepcopy(card.original)  # the card as a slow client still shows it
        lemondata.complete_task(next(iter(lemondata.tasks)))
        job = await env.wait_for_job((await env.job_for(card)).id, lambda j: j.state != "queued")
        late = env.click(card, "Cancel", fake.bob, message=waiting)
        (refusal,) = await fake.wait_for_followups(late)
        assert refusal["flags"] & EPHEMERAL and "already been sent" in refusal["content"]
        assert (await env.db.jobs.get(job.id)).quota_state == "reserved"


@pytest.mark.parametrize(("status", "code"), [(401, "auth"), (402, "insufficient_balance")])
async def test_final_errors_while_polling_end_the_job(
    running_bot, lemondata, database_url, status, code
):
    """A rejected key or an empty balance during polling ends the job at once, refunded."""
    lemondata.hold_tasks = True
    async with running_bot(database=database_url) as env:
        interaction = await env.imagine(prompt="a", model="gpt-image-2")
        job = await env.wait_for_job(
            (await env.job_for(interaction)).id, lambda j: j.task_id is not None
        )
        lemondata.fail_next(status, path_prefix="/v1/tasks", count=100)
        job = await env.settled(job.id)
        assert (job.state, job.error_code, job.quota_state) == ("failed", code, "released")
        assert len(lemondata.polls(job.task_id)) <= 2


async def test_unexpected_error_in_create_fails_the_job(running_bot, monkeypatch, database_url):
    """A bug-shaped exception during create fails and refunds the job instead of hanging it."""
    async with running_bot(database=database_url) as env:

        async def broken(body):
            raise RuntimeError("unexpected")

        monkeypatch.setattr(env.bot.api, "create_image", broken)
        interaction = await env.imagine(prompt="a", model="nano-banana")
        job = await env.settled((await env.job_for(interaction)).id)
        assert (job.state, job.error_code, job.quota_state) == ("failed", "unavailable", "released")


async def test_fifty_concurrent_requests_through_the_service(running_bot, fake, database_url):
    """With 2 images left, 50 simultaneous /imagine requests give exactly 2 accepted."""
    async with running_bot(
        database=database_url,
        daily_image_quota=2,
    ) as env:
        await env.bot.catalog.ensure_loaded(5)

        def request(index: int) -> JobRequest:
            return JobRequest(
                options=ImagineOptions(prompt=f"cat {index}", model="nano-banana"),
                guild_id=fake.guild_id,
                channel_id=fake.channel_id,
                user_id=fake.alice.id,
                application_id=fake.application_id,
                interaction_id=index,
                interaction_token=None,
                upload_limit=10_000_000,
                received_at=0.0,
            )

        results = await asyncio.gather(
            *(env.bot.jobs.accept(request(i)) for i in range(50)), return_exceptions=True
        )
        accepted = [r for r in results if isinstance(r, Accepted)]
        refused = [r for r in results if isinstance(r, QuotaExceeded)]
        assert (len(accepted), len(refused)) == (2, 48)
        assert len(await env.db.jobs.search(JobFilter())) == 2
        assert (await env.bot.quota.status(fake.guild_id, fake.alice.id)).used == 2


async def test_cancel_pressed_in_another_server_is_refused(
    running_bot, fake, lemondata, database_url
):
    """A Cancel whose job belongs to another server is refused, even for that one's admin."""
    async with running_bot(
        database=database_url,
        max_running_jobs_per_guild=1,
    ) as env:
        card = await waiting_card(env, lemondata, fake, fake.bob)
        elsewhere = fake.add_guild("elsewhere")
        payload = fake.component_payload(card.original, label="Cancel", user=fake.owner)
        payload["guild_id"] = str(elsewhere.id)  # the owner administers that server too
        env.bot._connection.parse_interaction_create(payload)
        press = fake.get_interaction(payload["id"])
        (refusal,) = await fake.wait_for_followups(press)
        assert refusal["flags"] & EPHEMERAL
        assert refusal["content"] == "That request no longer exists."
        job = await env.job_for(card)
        assert (job.state, job.quota_state) == ("queued", "reserved")


async def test_a_database_error_after_a_create_ends_the_job_refunded(
    running_bot, monkeypatch, lemondata, database_url
):
    """The gateway repeats a task id (the ledger refuses a duplicate): refunded, not stuck."""
    async with running_bot(database=database_url) as env:
        lemondata.hold_tasks = True
        monkeypatch.setattr("tests.fakes.lemondata.tasks.secrets.token_hex", lambda n: "same")
        first = await env.imagine(prompt="first", model="gpt-image-2")
        await env.wait_for_job((await env.job_for(first)).id, lambda j: j.state == "running")
        second = await env.imagine(prompt="second", model="gpt-image-2")
        job = await env.settled((await env.job_for(second)).id)
        assert (job.state, job.error_code, job.quota_state) == ("failed", "unavailable", "released")
        assert second.original["embeds"][0]["title"] == "No image this time"
        assert (await env.job_for(first)).state == "running"  # the first is untouched
