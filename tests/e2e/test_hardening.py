"""Odd answers, Discord's limits, crashes at awkward moments, and a first run that explains."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket

import pytest

from tests.e2e.conftest import BotFactory
from tests.e2e.harness import (
    PNG_SIGNATURE,
    BotProcess,
    embed_text,
    field_value,
    wait_for_outcome,
)
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.lemondata import LemonDataEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

EPHEMERAL = 1 << 6
MIB = 1024 * 1024
CALLBACK = r"^/interactions/\d+/[^/]+/callback$"
CHANNEL_POST = r"^/channels/\d+/messages$"


def free_port() -> int:
    """A port nothing listens on (bound and released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def forward(port: int, target: int) -> asyncio.Server:
    """Listen on ``port`` and pipe every connection to ``target`` (Discord coming back)."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", target)
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    return await asyncio.start_server(handle, "127.0.0.1", port)


async def test_a_refused_api_key_is_named_and_members_are_told_an_admin_must_fix_it(
    fake: FakeDiscord, make_bot: BotFactory
) -> None:
    """401 from the gateway: one log line names LEMONDATA_API_KEY; nothing is reserved."""
    bot = make_bot(env={"LEMONDATA_API_KEY": "sk-not-the-right-key"})
    bot.errors_expected = True
    await bot.start()
    await bot.wait_for_log("LEMONDATA_API_KEY")
    interaction = await fake.invoke("imagine", {"prompt": "a lemon"})
    _, data = await bot.race(fake.wait_for_callback(interaction))
    assert int(data.get("flags") or 0) & EPHEMERAL
    assert "not set up correctly" in data["content"] and "server admin" in data["content"]
    assert "try again" not in data["content"].lower()
    assert bot.jobs() == []
    [line] = [x for x in bot.log_text().splitlines() if "LEMONDATA_API_KEY" in x][:1]
    assert "refused" in line and "sk-not-the-right-key" not in bot.log_text()


@pytest.mark.parametrize("refused_on", ["create", "poll"])
async def test_a_key_refused_while_the_models_are_cached_refuses_the_next_request(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: BotFactory, refused_on: str
) -> None:
    """401 on a create or a poll: the next /imagine is refused privately, nothing reserved.

    Once a request with the key succeeds again (here a poll of another task, whose polls
    were answered 503 meanwhile), members are accepted again.
    """
    bot = make_bot()
    bot.errors_expected = True  # the client logs the refused key at ERROR, as it should
    await bot.start()
    emulator.hold_tasks = True
    waiting = await fake.invoke("imagine", {"prompt": "a slow lemon", "model": "gpt-image-2"})
    await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 1))
    [watch] = emulator.tasks
    emulator.fail_next(503, path_prefix=f"/v1/tasks/{watch}", count=1_000_000)
    if refused_on == "create":
        emulator.fail_next(401)  # the next create only
        refused = await fake.invoke("imagine", {"prompt": "a lemon", "model": "nano-banana"})
    else:
        refused = await fake.invoke("imagine", {"prompt": "a lemon", "model": "gpt-image-2"})
        await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 2))
        [task] = [t for t in emulator.tasks if t != watch]
        emulator.fail_next(401, path_prefix=f"/v1/tasks/{task}")
    edit = await bot.race(wait_for_outcome(fake, refused))
    assert edit.payload["embeds"][0]["title"] == "No image this time"
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered")
    assert (row["state"], row["error_code"], row["quota_state"]) == ("failed", "auth", "released")

    before = len(bot.jobs())
    turned_away = await fake.invoke("imagine", {"prompt": "again", "model": "nano-banana"})
    _, data = await bot.race(fake.wait_for_callback(turned_away))
    assert int(data.get("flags") or 0) & EPHEMERAL
    assert "not set up correctly" in data["content"] and "server admin" in data["content"]
    assert len(bot.jobs()) == before  # nothing reserved

    emulator.clear_faults()  # the watched task's next poll is answered: the key works
    await bot.wait_for_log("accepts LEMONDATA_API_KEY again")
    welcome = await fake.invoke("imagine", {"prompt": "welcome", "model": "nano-banana"})
    edit = await bot.race(wait_for_outcome(fake, welcome))
    assert edit.payload["embeds"][0]["title"] == "Here is your image"
    emulator.complete_task(watch)
    edit = await bot.race(wait_for_outcome(fake, waiting))
    assert edit.payload["embeds"][0]["title"] == "Here is your image"


async def test_an_unreachable_discord_is_retried_quietly_then_reached(
    fake: FakeDiscord, make_bot: BotFactory
) -> None:
    """Connection refused at start: one line per attempt, no traceback, then it connects."""
    port = free_port()
    bot = make_bot(env={"LEMONBOT_FAKE_DISCORD_URL": f"http://127.0.0.1:{port}"})
    await bot.start(wait_ready=False)
    await bot.wait_for_log("cannot reach Discord")
    identified = fake.identify_count
    server = await forward(port, fake.port)
    try:
        await bot.wait_ready(identified)
        attempts = [x for x in bot.log_text().splitlines() if "cannot reach Discord" in x]
        assert attempts and all("retrying in" in line for line in attempts)
        assert "Traceback" not in bot.log_text()
    finally:
        await bot.terminate()
        server.close()
    assert bot.exit_codes == [0]


async def test_sigterm_stops_a_bot_waiting_for_discord_at_once(make_bot: BotFactory) -> None:
    """While retrying an unreachable Discord, SIGTERM ends the process (exit 0) at once."""
    bot = make_bot(env={"LEMONBOT_FAKE_DISCORD_URL": f"http://127.0.0.1:{free_port()}"})
    await bot.start(wait_ready=False)
    await bot.wait_for_log("cannot reach Discord")
    assert await bot.terminate(timeout=3) == 0
    assert "Traceback" not in bot.log_text()


async def test_the_invite_link_is_logged_once_ready(fake: FakeDiscord, bot: BotProcess) -> None:
    """When ready, one log line carries the link that adds the bot, with its permissions."""
    await bot.wait_for_log("invite the bot to a server")
    [line] = [x for x in bot.log_text().splitlines() if "invite the bot" in x]
    assert f"client_id={fake.application_id}" in line
    assert "scope=bot+applications.commands" in line and "permissions=117760" in line


async def test_an_upper_case_base_url_is_the_same_gateway(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: BotFactory
) -> None:
    """HTTP://127.0.0.1:port is the emulator's origin: a task job is collected, not lost."""
    bot = make_bot(env={"LEMONDATA_BASE_URL": emulator.base_url.replace("http://", "HTTP://")})
    await bot.start()
    interaction = await fake.invoke("imagine", {"prompt": "a lemon", "model": "gpt-image-2"})
    edit = await bot.race(wait_for_outcome(fake, interaction))
    assert edit.payload["embeds"][0]["title"] == "Here is your image"
    assert edit.files[0].data.startswith(PNG_SIGNATURE)


async def test_four_large_images_all_reach_the_member_within_discords_limits(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """4 images of 8 MiB: the edit takes what fits in 25 MiB, a follow-up the rest.

    The fake refuses (and records, failing the test) any file over 10 MiB or any
    request over 25 MiB, as Discord does with 413 / 40005.
    """
    emulator.file_size_bytes = 8 * MIB
    interaction = await fake.invoke(
        "imagine", {"prompt": "four lemons", "model": "nano-banana", "count": 4}
    )
    edit = await bot.race(wait_for_outcome(fake, interaction, timeout=30))
    followups = await bot.race(fake.wait_for_followups(interaction, 1, timeout=30))
    attached = [f.data for f in edit.files] + [
        f.data for message in followups for f in fake.message_files(message)
    ]
    assert len(attached) == 4 and all(len(d) == 8 * MIB for d in attached)
    assert len(set(attached)) == 4  # four different images, none twice
    assert fake.limit_violations == []
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered")
    assert (row["quota_state"], row["quota_units"], row["parts_delivered"]) == ("settled", 4, 2)


NEAR_LIMIT = 10 * MIB - 512 * 1024  # just under the 10 MiB a file may have without boosts


def result_posts(messages: list[dict[str, object]]) -> list[dict[str, object]]:
    """The messages that carry a result (not the progress card left in the channel)."""
    return [m for m in messages if m.get("type") != 20]


async def test_four_large_images_reach_the_member_as_channel_replies(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Token expired: 4 images near 10 MiB go as replies, two a request (25 MiB), all billed."""
    emulator.hold_tasks = True
    emulator.file_size_bytes = NEAR_LIMIT
    options = {"prompt": "four lemons", "model": "gpt-image-2", "count": 4}
    interaction = await fake.invoke("imagine", options)
    await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 1))
    fake.expire_token(interaction)  # the outcome must go to the channel
    emulator.complete_task(next(iter(emulator.tasks)))
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered", timeout=30)
    posts = result_posts(fake.channel_messages(fake.channel_id))
    attached = [f.data for post in posts for f in fake.message_files(post)]
    assert len(posts) == 2 and len(attached) == 4 and len(set(attached)) == 4
    assert all(len(d) == NEAR_LIMIT for d in attached)
    assert fake.limit_violations == [] and fake.dms(fake.alice) == []
    # gpt-image-2 weighs 2 a picture: all 4 are charged, none taken back as unseen
    assert (row["delivered_via"], row["quota_state"], row["quota_units"]) == (
        "channel",
        "settled",
        8,
    )
    assert row["parts_delivered"] == 2


@pytest.mark.parametrize(
    ("size", "attached"),
    [
        (NEAR_LIMIT, 4),  # within the DM's 10 MiB: attached, two a message
        (10 * MIB + 512 * 1024, 0),  # over the DM's limit, within the server's: linked
    ],
)
async def test_four_large_images_reach_the_member_by_dm_within_the_dms_limit(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess, size: int, attached: int
) -> None:
    """Channel forbidden on a boosted server (25 MiB): the DM uses the DM's own 10 MiB.

    The fake refuses (and records) a file over the DM's limit, as Discord does.
    """
    fake.upload_limit = 25 * MIB  # the server's (boosted) limit; DMs keep 10 MiB
    emulator.hold_tasks = True
    emulator.file_size_bytes = size
    options = {"prompt": "four lemons", "model": "gpt-image-2", "count": 4}
    interaction = await fake.invoke("imagine", options)
    await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 1))
    fake.expire_token(interaction)
    fake.forbid_channel(fake.channel_id)
    emulator.complete_task(next(iter(emulator.tasks)))
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered", timeout=30)
    dms = fake.dms(fake.alice)
    files = [f.data for dm in dms for f in fake.message_files(dm)]
    assert len(files) == attached and len(set(files)) == attached
    shown_text = "\n".join(embed_text(dm) for dm in dms)
    linked = [url for url in json.loads(row["result_urls"]) if url in shown_text]
    assert len(files) + len(linked) == 4  # every billed image attached or linked
    assert fake.limit_violations == []
    assert (row["delivered_via"], row["quota_state"], row["quota_units"]) == ("dm", "settled", 8)


async def test_long_links_are_all_shown_and_all_that_is_charged(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """4 images too large to attach, with long signed URLs: no "+N more"; every one shown.

    Links that do not fit the first message's embed go in follow-ups, so that what is
    charged is what the member can see.
    """
    emulator.file_size_bytes = 4096
    emulator.result_redirect_to = "{file_url}?X-Amz-Signature=" + "a" * 700
    interaction = await fake.invoke(
        "imagine",
        {"prompt": "four lemons", "model": "nano-banana", "count": 4},
        attachment_size_limit=1024,
    )
    edit = await bot.race(wait_for_outcome(fake, interaction))
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered")
    urls = json.loads(row["result_urls"])
    assert len(urls) == 4 and all(len(url) > 700 for url in urls)
    followups = await bot.race(fake.wait_for_followups(interaction, row["parts_delivered"] - 1))
    shown_text = "\n".join(embed_text(m) for m in [edit.payload, *followups])
    assert all(url in shown_text for url in urls) and "more)" not in shown_text
    assert fake.limit_violations == []
    assert (row["quota_state"], row["quota_units"]) == ("settled", 4)


async def test_a_request_discord_never_saw_answered_is_dropped_at_restart(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Killed with the first answer in flight and unapplied: the job is dropped, refunded."""
    stall = fake.hold_next("POST", CALLBACK)
    await fake.invoke("imagine", {"prompt": "never seen", "model": "nano-banana"})
    await bot.race(asyncio.wait_for(stall.seen.wait(), 10))
    await bot.wait_for_job(lambda j: j["state"] == "queued")
    await bot.kill()
    await bot.start()
    assert "'dropped': 1" in bot.log_of_start(2)
    row = await bot.wait_for_job(lambda j: j["state"] == "cancelled")
    assert (row["quota_state"], row["delivery_state"]) == ("released", "failed")
    assert emulator.creates() == []
    assert fake.channel_messages(fake.channel_id) == []
    stall.release.set()


async def test_a_request_whose_answer_reached_discord_survives_the_same_crash(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Killed after Discord took the first answer (its reply lost): the job still runs."""
    stall = fake.hold_next("POST", CALLBACK, applied=True)
    interaction = await fake.invoke("imagine", {"prompt": "seen", "model": "nano-banana"})
    await bot.race(asyncio.wait_for(stall.seen.wait(), 10))
    await bot.race(fake.wait_for_callback(interaction))
    await bot.kill()
    stall.release.set()
    await bot.start()
    assert "'dropped': 0" in bot.log_of_start(2)
    edit = await bot.race(wait_for_outcome(fake, interaction))
    assert edit.payload["embeds"][0]["title"] == "Here is your image"
    assert len(emulator.creates()) == 1


async def test_a_channel_post_whose_answer_was_lost_is_not_doubled(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """The post succeeds but its answer never comes: the retry (same nonce) makes no twin."""
    emulator.hold_tasks = True
    interaction = await fake.invoke("imagine", {"prompt": "a lemon", "model": "gpt-image-2"})
    await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 1))
    fake.expire_token(interaction)  # the outcome must go to the channel
    stall = fake.drop_next("POST", CHANNEL_POST)
    emulator.complete_task(next(iter(emulator.tasks)))
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered", timeout=20)
    assert stall.seen.is_set() and row["delivered_via"] == "channel"
    posts = [m for m in fake.channel_messages(fake.channel_id) if m["type"] != 20]  # not the card
    assert len(posts) == 1
    assert fake.dms(fake.alice) == []
    assert field_value(posts[0]["embeds"][0], "Model") == "`gpt-image-2`"


async def test_a_channel_post_in_flight_at_a_kill_is_not_doubled_after_restart(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Discord made the post, the bot died before recording it: the restart makes no twin."""
    emulator.hold_tasks = True
    interaction = await fake.invoke("imagine", {"prompt": "a lemon", "model": "gpt-image-2"})
    await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 1))
    fake.expire_token(interaction)
    stall = fake.hold_next("POST", CHANNEL_POST, applied=True)
    emulator.complete_task(next(iter(emulator.tasks)))
    await bot.race(asyncio.wait_for(stall.seen.wait(), 10))
    await bot.kill()
    stall.release.set()
    await bot.start()
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered", timeout=20)
    assert row["delivered_via"] == "channel"
    posts = [m for m in fake.channel_messages(fake.channel_id) if m["type"] != 20]  # not the card
    assert len(posts) == 1


@pytest.mark.parametrize(
    "poll_url",
    [
        "http://[::1",  # not a URL at all
        "{other_base_url}/v1/tasks/{task_id}",  # another host: never sent the key
        "HTTP://127.0.0.1:{port}/v1/tasks/{task_id}",  # the gateway, upper-case scheme
    ],
)
async def test_an_odd_poll_url_never_hangs_a_job_or_leaks_the_key(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess, poll_url: str
) -> None:
    """Whatever poll_url the create answers, the task is polled on the gateway and collected."""
    emulator.poll_url_override = poll_url
    interaction = await fake.invoke("imagine", {"prompt": "a lemon", "model": "gpt-image-2"})
    edit = await bot.race(wait_for_outcome(fake, interaction))
    assert edit.payload["embeds"][0]["title"] == "Here is your image"
    assert emulator.foreign_requests() == []
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered")
    assert row["quota_state"] == "settled"


async def test_a_create_answer_without_a_status_is_a_task_to_poll(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """{task_id, poll_url} with no status is pending: polled and delivered, not malformed."""
    emulator.create_without_status = True
    interaction = await fake.invoke("imagine", {"prompt": "a lemon", "model": "gpt-image-2"})
    edit = await bot.race(wait_for_outcome(fake, interaction))
    assert edit.payload["embeds"][0]["title"] == "Here is your image"
    assert emulator.polls()


async def test_fewer_images_than_asked_are_all_that_is_charged(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Asked for 4, made 2: 2 are shown and charged, and the card says so."""
    emulator.short_images = 2
    interaction = await fake.invoke(
        "imagine", {"prompt": "four lemons", "model": "nano-banana", "count": 4}
    )
    edit = await bot.race(wait_for_outcome(fake, interaction))
    assert len(edit.files) == 2
    assert "made 2 of the 4 images" in field_value(edit.payload["embeds"][0], "Fewer images")
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered")
    assert (row["quota_state"], row["quota_units"]) == ("settled", 2)


@pytest.mark.parametrize(
    ("knob", "value", "code"),
    [
        ("serve_non_image", True, "malformed"),  # the link serves a login page
        ("result_redirect_to", "http://169.254.169.254/latest/meta-data", "malformed"),
    ],
)
async def test_a_result_link_that_is_not_a_safe_image_fails_and_refunds(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    bot: BotProcess,
    knob: str,
    value: object,
    code: str,
) -> None:
    """Not an image, or a redirect to a link-local address: no download, refunded, said."""
    setattr(emulator, knob, value)
    interaction = await fake.invoke("imagine", {"prompt": "a lemon", "model": "nano-banana"})
    edit = await bot.race(wait_for_outcome(fake, interaction))
    assert edit.payload["embeds"][0]["title"] == "No image this time"
    assert edit.files == []
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered")
    assert (row["state"], row["error_code"], row["quota_state"]) == ("failed", code, "released")


@pytest.mark.parametrize("model", ["nano-banana", "gpt-image-2"])
async def test_a_trickling_download_is_bounded_by_the_job_timeout(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: BotFactory, model: str
) -> None:
    """A gateway that trickles bytes cannot hold a slot past JOB_TIMEOUT_SECONDS: an inline
    answer's downloads nor a task's (gpt-image-2, collected by polling)."""
    bot = make_bot(env={"JOB_TIMEOUT_SECONDS": "2"})
    await bot.start()
    emulator.file_size_bytes = 4 * MIB
    emulator.trickle_bytes_per_second = 64 * 1024  # a minute for the image
    interaction = await fake.invoke("imagine", {"prompt": "a lemon", "model": model})
    edit = await bot.race(wait_for_outcome(fake, interaction, timeout=45))
    assert edit.payload["embeds"][0]["title"] == "No image this time"
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered")
    if model == "gpt-image-2":
        assert row["task_id"] and emulator.polls()  # it was a task, collected by polling
    assert (row["state"], row["error_code"], row["quota_state"]) == (
        "timed_out",
        "timeout",
        "released",
    )
    assert row["finished_at"] - row["submitted_at"] < 10  # the 2 s bound, not the minute


async def test_a_rejected_discord_token_is_named_and_the_bot_exits_without_a_traceback(
    make_bot: BotFactory,
) -> None:
    """A wrong DISCORD_TOKEN: Discord answers 401; one line says so; exit code 1."""
    bot = make_bot(env={"DISCORD_TOKEN": "MTIz.not-the.right-token"})
    bot.errors_expected = True
    await bot.start(wait_ready=False)
    assert await bot.wait_exit() == 1
    log = bot.log_text()
    assert "Discord rejected DISCORD_TOKEN" in log
    assert "Traceback" not in log and "not-the.right-token" not in log
