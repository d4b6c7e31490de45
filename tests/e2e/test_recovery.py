"""Durability: crashes, clean restarts and expired interaction tokens lose no image."""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import pytest

from tests.e2e.conftest import BotFactory
from tests.e2e.harness import (
    GENERATIONS_PATH,
    PNG_SIGNATURE,
    PROGRESS_TITLE,
    BotProcess,
    embed_text,
    field_value,
    until,
    wait_for_outcome,
)
from tests.fakes.fake_discord import FakeDiscord, FakeInteraction
from tests.fakes.lemondata import LemonDataEmulator, make_png

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

PROMPT = "a lemon that survives anything"
SHUTDOWN_LIMIT = 10.0


async def _task_in_flight(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> tuple[FakeInteraction, str]:
    """Invoke gpt-image-2 with tasks held; return once the task was created and polled.

    The bot stores the task id the moment the create answers, before it polls, so
    after the first poll the task id is in the ledger.
    """
    emulator.hold_tasks = True
    interaction = await fake.invoke("imagine", {"prompt": PROMPT, "model": "gpt-image-2"})
    await fake.wait_for_callback(interaction)
    await bot.race(
        emulator.wait_for(lambda: len(emulator.creates()) == 1 and len(emulator.polls()) >= 1)
    )
    [task_id] = emulator.tasks
    [job] = bot.jobs()
    assert (job["state"], job["task_id"]) == ("running", task_id)
    return interaction, task_id


def _expected_png(emulator: LemonDataEmulator, task_id: str) -> bytes:
    [file_id] = emulator.tasks[task_id].file_ids
    return make_png(emulator.files[file_id].rgb, size_bytes=emulator.file_size_bytes)


async def test_sigkill_after_the_task_was_created_still_delivers_with_one_create(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    interaction, task_id = await _task_in_flight(fake, emulator, bot)

    assert await bot.kill() == -signal.SIGKILL
    polls_before_restart = len(emulator.polls(task_id))
    await bot.start()
    assert "'polling': 1" in bot.log_of_start(2)
    # The restarted bot polls the stored task again (it never creates it again).
    await bot.race(emulator.wait_for(lambda: len(emulator.polls(task_id)) > polls_before_restart))

    emulator.complete_task(task_id)
    edit = await bot.race(wait_for_outcome(fake, interaction))
    [upload] = edit.files
    assert upload.data.startswith(PNG_SIGNATURE)
    assert upload.data == _expected_png(emulator, task_id)
    assert fake.original_files(interaction)[0].data == upload.data
    assert interaction.original is not None
    assert interaction.original["embeds"][0]["title"] == "Here is your image"

    assert len(emulator.creates()) == 1
    job = await bot.wait_for_job(lambda j: j["delivery_state"] != "pending")
    assert (job["state"], job["quota_state"], job["delivered_via"]) == (
        "succeeded",
        "settled",
        "edit",
    )
    bot.assert_log_clean()


async def test_sigterm_with_a_task_in_flight_exits_cleanly_and_resumes(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    interaction, task_id = await _task_in_flight(fake, emulator, bot)

    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await bot.terminate(timeout=SHUTDOWN_LIMIT) == 0
    assert loop.time() - began < SHUTDOWN_LIMIT
    assert "shutdown requested" in bot.log_of_start(1)
    [job] = bot.jobs()
    assert (job["state"], job["task_id"], job["quota_state"]) == ("running", task_id, "reserved")

    emulator.complete_task(task_id)  # finished while the bot was down
    await bot.start()
    edit = await bot.race(wait_for_outcome(fake, interaction))
    assert [f.data for f in edit.files] == [_expected_png(emulator, task_id)]
    assert len(emulator.creates()) == 1
    job = await bot.wait_for_job(lambda j: j["delivery_state"] != "pending")
    assert (job["state"], job["quota_state"], job["delivered_via"]) == (
        "succeeded",
        "settled",
        "edit",
    )

    # A delivered job is finished for good: the next start neither polls nor edits.
    edits, polls = len(interaction.edits), len(emulator.polls())
    assert await bot.terminate() == 0
    await bot.start()
    assert "'polling': 0" in bot.log_of_start(3)
    assert "'delivering': 0" in bot.log_of_start(3)
    assert (len(interaction.edits), len(emulator.polls())) == (edits, polls)
    bot.assert_log_clean()


async def test_sigkill_during_a_synchronous_create_fails_it_as_interrupted_and_refunds(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    emulator.gate = asyncio.Event()  # synchronous creates hang until the gate opens
    interaction = await fake.invoke(
        "imagine", {"prompt": PROMPT, "model": "gemini-2.5-flash-image"}
    )
    await fake.wait_for_callback(interaction)
    await bot.race(emulator.wait_for(lambda: emulator.gated == 1))

    await bot.kill()
    await bot.start()
    assert "'interrupted': 1" in bot.log_of_start(2)

    await bot.race(wait_for_outcome(fake, interaction))
    original = interaction.original
    assert original is not None
    [embed] = original["embeds"]
    assert embed["title"] == "No image this time"
    what = field_value(embed, "What happened")
    assert "restarted" in what
    assert "did not count against your quota" in what
    assert original["attachments"] == []
    assert len(emulator.creates()) == 1, "a create that may have been billed is not repeated"
    job = await bot.wait_for_job(lambda j: j["delivery_state"] != "pending")
    assert (job["state"], job["error_code"], job["quota_state"]) == (
        "failed",
        "interrupted",
        "released",
    )
    bot.assert_log_clean()


async def test_expired_token_result_is_posted_as_a_channel_reply(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    interaction, task_id = await _task_in_flight(fake, emulator, bot)
    # The progress card was shown (the bot edits it once the task runs).
    await fake.wait_for(
        lambda: any(
            e.payload.get("embeds") and e.payload["embeds"][0]["title"] == PROGRESS_TITLE
            for e in interaction.edits
        ),
        what="progress edit",
    )
    progress_id = interaction.original_id
    assert progress_id is not None
    edits_before = len(interaction.edits)
    requests_before = len(fake.requests)

    fake.expire_token(interaction)
    emulator.complete_task(task_id)

    def reply() -> dict[str, Any] | None:
        return next(
            (
                m
                for m in fake.channel_messages(interaction.channel_id)
                if (m.get("message_reference") or {}).get("message_id") == str(progress_id)
            ),
            None,
        )

    message = await bot.race(fake.wait_for(reply, what="channel reply to the progress card"))
    assert message["channel_id"] == str(interaction.channel_id)
    assert fake.alice.mention in message["content"]
    [upload] = fake.message_files(message)
    assert upload.data.startswith(PNG_SIGNATURE)
    assert upload.data == _expected_png(emulator, task_id)
    [embed] = message["embeds"]
    assert embed["title"] == "Here is your image"
    assert PROMPT in embed_text(message)
    assert embed["image"]["url"] == f"attachment://{upload.filename}"
    [post] = [
        r
        for r in fake.requests_to("POST", rf"^/channels/{interaction.channel_id}/messages$")
        if r.status == 200
    ]
    mentionable = {str(u) for u in post.payload["allowed_mentions"].get("users", [])}
    assert str(fake.alice.id) in mentionable, "the mention must actually ping the requester"

    # Nothing reached @original after the token expired.
    assert len(interaction.edits) == edits_before
    late_patches = [
        r
        for r in fake.requests[requests_before:]
        if r.method == "PATCH" and r.path.startswith("/webhooks/")
    ]
    assert late_patches, "the bot is expected to try the edit first"
    assert {r.status for r in late_patches} == {401}

    job = await bot.wait_for_job(lambda j: j["delivery_state"] != "pending")
    assert (job["state"], job["delivered_via"], job["delivered_message_id"]) == (
        "succeeded",
        "channel",
        int(message["id"]),
    )
    assert len(emulator.creates()) == 1
    bot.assert_log_clean()


async def test_expired_token_and_forbidden_channel_fall_back_to_a_dm(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    interaction, task_id = await _task_in_flight(fake, emulator, bot)
    fake.expire_token(interaction)
    fake.forbid_channel(interaction.channel_id)
    emulator.complete_task(task_id)

    [dm] = await bot.race(fake.wait_for(lambda: fake.dms(fake.alice), what="a DM to alice"))
    [upload] = fake.message_files(dm)
    assert upload.data == _expected_png(emulator, task_id)
    assert dm["embeds"][0]["title"] == "Here is your image"
    assert f"<#{interaction.channel_id}>" in dm["content"]
    statuses = [
        r.status
        for r in fake.requests_to("POST", rf"^/channels/{interaction.channel_id}/messages$")
    ]
    assert statuses == [403]
    job = await bot.wait_for_job(lambda j: j["delivery_state"] != "pending")
    assert (job["delivered_via"], job["delivered_message_id"]) == ("dm", int(dm["id"]))
    assert len(emulator.creates()) == 1
    bot.assert_log_clean()


async def test_two_members_in_parallel_each_get_their_own_image(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    emulator.hold_tasks = True
    alice = await fake.invoke(
        "imagine", {"prompt": "alice's lemon", "model": "gpt-image-2"}, user=fake.alice
    )
    bob = await fake.invoke(
        "imagine", {"prompt": "bob's lime", "model": "gpt-image-2"}, user=fake.bob
    )
    await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 2))
    users = {body["prompt"]: body["user"] for body in emulator.creates()}
    assert users == {
        "alice's lemon": f"discord:{fake.guild_id}:{fake.alice.id}",
        "bob's lime": f"discord:{fake.guild_id}:{fake.bob.id}",
    }
    by_prompt = {task.prompt: task for task in emulator.tasks.values()}
    # Finish bob's first: outcomes must not depend on order.
    emulator.complete_task(by_prompt["bob's lime"].task_id)
    emulator.complete_task(by_prompt["alice's lemon"].task_id)

    expected = [(alice, "alice's lemon", fake.alice), (bob, "bob's lime", fake.bob)]
    for interaction, prompt, user in expected:
        await bot.race(wait_for_outcome(fake, interaction))
        original = interaction.original
        assert original is not None
        assert prompt in original["embeds"][0]["description"]
        assert field_value(original["embeds"][0], "Requested by") == user.mention
        [upload] = fake.original_files(interaction)
        assert upload.data == _expected_png(emulator, by_prompt[prompt].task_id)
    assert len(emulator.creates()) == 2
    bot.assert_log_clean()


async def test_sigterm_during_a_synchronous_create_delivers_the_image_within_the_grace(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    emulator.gate = asyncio.Event()
    interaction = await fake.invoke(
        "imagine", {"prompt": PROMPT, "model": "gemini-2.5-flash-image"}
    )
    await fake.wait_for_callback(interaction)
    await bot.race(emulator.wait_for(lambda: emulator.gated == 1))

    bot.send_signal(signal.SIGTERM)
    await bot.wait_for_log("jobs in flight")  # inside the shutdown grace period
    # While it shuts down, the bot takes no new work (and says so privately) ...
    late = await fake.invoke("imagine", {"prompt": "one more", "model": "gemini-2.5-flash-image"})
    _cb_type, data = await bot.race(fake.wait_for_callback(late))
    assert int(data.get("flags") or 0) & 64, data
    assert "restarting" in data["content"]
    # ... but the create in flight is allowed to finish and its image is delivered.
    emulator.gate.set()
    edit = await bot.race(wait_for_outcome(fake, interaction))
    [upload] = edit.files
    assert upload.data.startswith(PNG_SIGNATURE)
    assert await bot.wait_exit(SHUTDOWN_LIMIT) == 0

    assert len(emulator.creates()) == 1
    [job] = bot.jobs()  # the process has exited: the ledger is final
    assert (job["state"], job["quota_state"], job["delivery_state"], job["delivered_via"]) == (
        "succeeded",
        "settled",
        "delivered",
        "edit",
    )
    bot.assert_log_clean()


async def test_a_request_over_the_running_cap_waits_in_the_queue_even_across_a_crash(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: BotFactory
) -> None:
    bot = make_bot(env={"MAX_RUNNING_JOBS_PER_USER": "1"})
    await bot.start()
    emulator.hold_tasks = True
    first = await fake.invoke("imagine", {"prompt": "first lemon", "model": "gpt-image-2"})
    await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 1))
    [first_task] = emulator.tasks

    second = await fake.invoke("imagine", {"prompt": "second lemon", "model": "gpt-image-2"})
    cb_type, data = await bot.race(fake.wait_for_callback(second))
    assert cb_type == 4 and not int(data.get("flags") or 0) & 64
    assert "#1 in this server's queue" in field_value(data["embeds"][0], "State")

    async def first_recorded() -> bool:  # the crash comes once the first job is running
        return any(job["task_id"] == first_task for job in bot.jobs())

    # The gateway made the task before the bot wrote its id down: on a busy machine the
    # kill could fall between, and the restart rightly found the first job interrupted.
    await bot.race(until(first_recorded, 30, "the first job's task id recorded"))
    await bot.kill()
    assert len(emulator.creates()) == 1, "the second request must wait for a free slot"
    await bot.start()
    assert "'queued': 1" in bot.log_of_start(2)
    assert "'polling': 1" in bot.log_of_start(2)
    await bot.race(emulator.wait_for(lambda: len(emulator.polls(first_task)) >= 2))
    assert len(emulator.creates()) == 1

    freed_at = time.monotonic()
    emulator.complete_task(first_task)
    await bot.race(wait_for_outcome(fake, first))
    await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 2))
    second_create = [r for r in emulator.requests if r.path == GENERATIONS_PATH][1]
    assert second_create.at > freed_at
    assert second_create.json is not None
    assert second_create.json["prompt"] == "second lemon"
    [second_task] = [t for t in emulator.tasks if t != first_task]

    emulator.complete_task(second_task)
    edit = await bot.race(wait_for_outcome(fake, second))
    assert [f.data for f in edit.files] == [_expected_png(emulator, second_task)]
    assert fake.original_files(first)[0].data == _expected_png(emulator, first_task)
    assert len(emulator.creates()) == 2
    bot.assert_log_clean()


async def test_sigterm_lets_a_delivery_in_flight_finish_within_the_grace(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """An async job's delivery in flight at SIGTERM completes within the grace period.

    Regression: the download and delivery ran inside the poll task (the poller's
    on_done callback), which ``TaskPoller.stop()`` cancels at once, so the job stayed
    delivery-pending and was delivered at the next start (twice, had Discord already
    applied the first attempt).
    """
    interaction, task_id = await _task_in_flight(fake, emulator, bot)
    await fake.wait_for(lambda: interaction.edits, what="progress edit")
    edits_path = rf"^/webhooks/\d+/{interaction.token}/messages/"
    # The outcome edit is rate limited once: discord.py waits 1 s, then retries it.
    fake.rate_limit_next("PATCH", edits_path, retry_after=1.0)
    emulator.complete_task(task_id)
    await bot.race(
        fake.wait_for(
            lambda: any(r.status == 429 for r in fake.requests_to("PATCH", edits_path)),
            what="the outcome edit, rate limited",
        )
    )

    bot.send_signal(signal.SIGTERM)  # while the delivery waits to retry
    assert await bot.wait_exit(SHUTDOWN_LIMIT) == 0
    # Within the grace period the delivery in flight was completed ...
    [job] = bot.jobs()
    assert (job["state"], job["delivery_state"], job["delivered_via"]) == (
        "succeeded",
        "delivered",
        "edit",
    )
    [outcome] = [e for e in interaction.edits if e.files]
    assert outcome.files[0].data == _expected_png(emulator, task_id)
    # ... so the next start has nothing left to deliver.
    await bot.start()
    assert "'delivering': 0" in bot.log_of_start(2)


async def test_sigkill_with_the_image_stored_but_not_delivered_delivers_after_restart(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """SIGKILL between "image downloaded and stored" and "delivered": the restarted bot
    delivers it from the database, without polling or creating again."""
    interaction, task_id = await _task_in_flight(fake, emulator, bot)
    await fake.wait_for_edits(interaction)  # the "Generating" progress edit
    # Hold the result edit: discord.py waits out a 30 s rate limit before retrying it.
    fake.rate_limit_next("PATCH", r"^/webhooks/", retry_after=30)
    emulator.complete_task(task_id)
    await bot.race(
        fake.wait_for(
            lambda: any(r.status == 429 for r in fake.requests_to("PATCH", r"^/webhooks/")),
            what="the result edit rate-limited",
        )
    )
    job = await bot.wait_for_job(lambda j: j["state"] == "succeeded")
    assert (job["delivery_state"], job["quota_state"]) == ("pending", "settled")
    polls = len(emulator.polls(task_id))

    assert await bot.kill() == -signal.SIGKILL
    await bot.start()
    assert "'delivering': 1" in bot.log_of_start(2)
    edit = await bot.race(wait_for_outcome(fake, interaction))
    [upload] = edit.files
    assert upload.data == _expected_png(emulator, task_id)
    job = await bot.wait_for_job(lambda j: j["delivery_state"] != "pending")
    assert (job["delivered_via"], job["quota_state"]) == ("edit", "settled")
    assert len(emulator.creates()) == 1 and len(emulator.polls(task_id)) == polls
    bot.assert_log_clean()
