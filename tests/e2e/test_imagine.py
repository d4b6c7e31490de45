"""/imagine through the real bot process: delivered images, failed tasks, refusals."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import BotFactory
from tests.e2e.harness import (
    PNG_SIGNATURE,
    PROGRESS_TITLE,
    BotProcess,
    embed_text,
    field_value,
    wait_for_outcome,
)
from tests.fakes.fake_discord import FakeDiscord, FakeInteraction, RecordedEdit
from tests.fakes.lemondata import LemonDataEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

CHANNEL_MESSAGE = 4
EPHEMERAL = 1 << 6
PROMPT = "a lemon tree at dawn, watercolour"


async def _accepted(fake: FakeDiscord, interaction: FakeInteraction, model: str) -> None:
    """The interaction was answered at once, publicly, with the progress card."""
    cb_type, data = await fake.wait_for_callback(interaction)
    assert cb_type == CHANNEL_MESSAGE
    assert not int(data.get("flags") or 0) & EPHEMERAL
    assert not interaction.ephemeral
    [progress] = data["embeds"]
    assert progress["title"] == PROGRESS_TITLE
    assert field_value(progress, "Model") == f"`{model}`"
    assert interaction.original is not None


async def _assert_image_delivered(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    http: httpx.AsyncClient,
    interaction: FakeInteraction,
    *,
    model: str,
    file_id: str,
) -> RecordedEdit:
    """``@original`` now shows the emulator's PNG, attached, with model and prompt."""
    edit = await wait_for_outcome(fake, interaction)
    assert [d.path for d in emulator.downloads()] == [f"/files/{file_id}.png"]  # the bot's
    served = (await http.get(f"{emulator.base_url}/files/{file_id}.png")).content
    assert served.startswith(PNG_SIGNATURE)

    [upload] = edit.files
    assert upload.data.startswith(PNG_SIGNATURE)
    assert upload.data == served
    assert upload.filename.endswith(".png")

    original = interaction.original
    assert original is not None
    [attached] = fake.original_files(interaction)
    assert attached.data == served
    [embed] = original["embeds"]
    assert embed["title"] == "Here is your image"
    assert PROMPT in embed["description"]
    assert field_value(embed, "Model") == f"`{model}`"
    assert field_value(embed, "Requested by") == fake.alice.mention
    assert embed["image"]["url"] == f"attachment://{attached.filename}"
    return edit


async def test_sync_gemini_image_is_delivered_as_an_edit_of_the_original(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess, http: httpx.AsyncClient
) -> None:
    model = "gemini-2.5-flash-image"
    interaction = await fake.invoke("imagine", {"prompt": PROMPT, "model": model, "ratio": "16:9"})
    await _accepted(fake, interaction, model)

    await emulator.wait_for(lambda: len(emulator.downloads()) == 1)
    [download] = emulator.downloads()
    file_id = download.path.rsplit("/", 1)[-1].removesuffix(".png")
    await _assert_image_delivered(fake, emulator, http, interaction, model=model, file_id=file_id)

    [body] = emulator.creates()
    assert body["user"] == f"discord:{fake.guild_id}:{fake.alice.id}"
    assert body["model"] == model
    assert body["prompt"] == PROMPT
    assert body["aspect_ratio"] == "16:9"
    assert body.get("n", 1) == 1
    assert "async" not in body and "size" not in body
    assert emulator.tasks == {}

    job = await bot.wait_for_job(lambda j: j["delivery_state"] != "pending")
    assert (job["state"], job["quota_state"], job["delivery_state"], job["delivered_via"]) == (
        "succeeded",
        "settled",
        "delivered",
        "edit",
    )
    assert fake.unhandled == []
    bot.assert_log_clean()


async def test_async_gpt_image_2_task_is_polled_and_delivered(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess, http: httpx.AsyncClient
) -> None:
    model = "gpt-image-2"
    interaction = await fake.invoke("imagine", {"prompt": PROMPT, "model": model, "ratio": "16:9"})
    await _accepted(fake, interaction, model)

    await emulator.wait_for(lambda: any(t.done for t in emulator.tasks.values()))
    [task] = emulator.tasks.values()
    assert task.status == "completed" and task.requested_async
    await _assert_image_delivered(
        fake, emulator, http, interaction, model=model, file_id=task.file_ids[0]
    )

    [body] = emulator.creates()
    assert body["user"] == f"discord:{fake.guild_id}:{fake.alice.id}"
    assert body["model"] == model
    assert body["async"] is True
    assert body["size"] == "1360x768"
    assert "aspect_ratio" not in body
    assert len(emulator.polls(task.task_id)) == emulator.polls_to_complete

    job = await bot.wait_for_job(lambda j: j["delivery_state"] != "pending")
    assert job["task_id"] == task.task_id
    assert (job["state"], job["quota_state"], job["delivered_via"]) == (
        "succeeded",
        "settled",
        "edit",
    )
    assert fake.unhandled == []
    bot.assert_log_clean()


async def test_a_task_the_model_answers_unasked_is_polled_and_delivered(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess, http: httpx.AsyncClient
) -> None:
    model = "gemini-2.5-flash-image"  # DEFAULT_MODEL: no model option given
    emulator.force_task_models.add(model)
    interaction = await fake.invoke("imagine", {"prompt": PROMPT})
    await _accepted(fake, interaction, model)

    await emulator.wait_for(lambda: any(t.done for t in emulator.tasks.values()))
    [task] = emulator.tasks.values()
    assert not task.requested_async
    await _assert_image_delivered(
        fake, emulator, http, interaction, model=model, file_id=task.file_ids[0]
    )
    [body] = emulator.creates()
    assert body["model"] == model
    assert "async" not in body
    assert body["aspect_ratio"] == "1:1"
    assert len(emulator.polls(task.task_id)) >= 1
    bot.assert_log_clean()


async def test_failed_task_is_explained_in_one_sentence_and_refunded(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    model = "gpt-image-2"
    emulator.fail_task_models[model] = {"code": "upstream_error", "message": "boom"}
    interaction = await fake.invoke("imagine", {"prompt": PROMPT, "model": model})
    await _accepted(fake, interaction, model)

    edit = await wait_for_outcome(fake, interaction)
    assert edit.files == []
    original = interaction.original
    assert original is not None
    assert original["attachments"] == []
    [embed] = original["embeds"]
    assert embed["title"] == "No image this time"
    what = field_value(embed, "What happened")
    assert "could not make this image" in what
    assert "did not count against your quota" in what
    visible = embed_text(original)
    assert len(visible) < 2000
    for raw in ("{", "}", '"', "upstream_error", "Traceback"):
        assert raw not in visible, f"raw upstream detail {raw!r} shown to the user: {visible!r}"
    assert [t.status for t in emulator.tasks.values()] == ["failed"]
    assert emulator.downloads() == []

    job = await bot.wait_for_job(lambda j: j["delivery_state"] != "pending")
    assert (job["state"], job["error_code"], job["quota_state"], job["delivered_via"]) == (
        "failed",
        "task_failed",
        "released",
        "edit",
    )
    bot.assert_log_clean()


async def test_interaction_tokens_never_reach_the_log(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Interaction tokens are credentials (15 minutes): not even DEBUG logs show them.

    Regression: aiosqlite's DEBUG records carry SQL parameters, e.g. the token stored
    by ``INSERT INTO jobs``.
    """
    interaction = await fake.invoke("imagine", {"prompt": PROMPT})
    await _accepted(fake, interaction, "gemini-2.5-flash-image")
    await wait_for_outcome(fake, interaction)
    await bot.wait_for_job(lambda j: j["delivery_state"] != "pending")
    leaks = [line[:160] for line in bot.log_text().splitlines() if interaction.token in line]
    assert not leaks, f"{len(leaks)} log line(s) hold the interaction token: {leaks[:3]}"


INVALID: list[Any] = [
    pytest.param(
        {"model": "gemini-2.5-flash-image", "resolution": "2k"},
        "has no resolution choice",
        id="resolution-on-gemini-flash",
    ),
    pytest.param({"model": "dall-e-3", "count": 2}, "at most 1 image", id="count-2-on-dall-e-3"),
    pytest.param(
        # Over the registered max_length: Discord's client would refuse it, but the bot
        # must not rely on that (discord.py does not check max_length on receipt).
        {"prompt": "lemon" * 1000},
        "5,000 characters long",
        id="prompt-of-5000-characters",
    ),
    pytest.param({"model": "no-such-model"}, "not an available image model", id="unlisted-model"),
]


@pytest.mark.parametrize(("options", "reason"), INVALID)
async def test_invalid_input_is_refused_privately_without_calling_the_api(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    bot: BotProcess,
    options: dict[str, Any],
    reason: str,
) -> None:
    interaction = await fake.invoke("imagine", {"prompt": PROMPT, **options})
    cb_type, data = await fake.wait_for_callback(interaction)

    assert cb_type == CHANNEL_MESSAGE
    assert int(data["flags"]) & EPHEMERAL
    assert interaction.ephemeral
    assert reason in data["content"], data["content"]
    assert len(data["content"]) <= 2000
    assert not data.get("embeds")
    assert fake.channel_messages(interaction.channel_id) == []  # nothing public

    assert emulator.creates() == []
    assert not [r for r in emulator.requests if r.path.startswith("/v1/images")]
    assert bot.jobs() == []  # refused before anything was reserved or stored
    assert bot.running
    bot.assert_log_clean()
    json.dumps(data)  # the answer is plain JSON (no surprises in the recorded callback)


async def test_quota_is_reserved_refunded_on_failure_and_enforced(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: BotFactory
) -> None:
    bot = make_bot(env={"DAILY_IMAGE_QUOTA": "2"})
    await bot.start()

    # gpt-image-2 costs 2 units: the failed one is refunded, so the second one fits.
    emulator.fail_task_models["gpt-image-2"] = "upstream failure"
    failed = await fake.invoke("imagine", {"prompt": PROMPT, "model": "gpt-image-2"})
    await _accepted(fake, failed, "gpt-image-2")
    await wait_for_outcome(fake, failed)
    await bot.wait_for_job(lambda j: j["quota_state"] == "released")

    del emulator.fail_task_models["gpt-image-2"]
    made = await fake.invoke("imagine", {"prompt": PROMPT, "model": "gpt-image-2"})
    await _accepted(fake, made, "gpt-image-2")
    await wait_for_outcome(fake, made)
    assert fake.original_files(made)

    # Both units are now used: a 1-unit request is refused privately, with the reset.
    refused = await fake.invoke("imagine", {"prompt": PROMPT, "model": "gemini-2.5-flash-image"})
    cb_type, data = await fake.wait_for_callback(refused)
    assert cb_type == CHANNEL_MESSAGE
    assert int(data["flags"]) & EPHEMERAL
    assert "all 2" in data["content"] and "today" in data["content"], data["content"]
    assert re.search(r"<t:\d+:R>", data["content"]), data["content"]
    assert len(emulator.creates()) == 2
    assert [(j["state"], j["quota_state"]) for j in bot.jobs()] == [
        ("failed", "released"),
        ("succeeded", "settled"),
    ]
