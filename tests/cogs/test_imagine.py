"""/imagine through discord.py's own parsing, against the fake Discord and the emulator.

Each test asserts what the user sees (callbacks, edits, attachments), what reached the
image API, and what was stored.
"""

from __future__ import annotations

import pytest

from bot.store import JobFilter
from tests.fakes.lemondata import PNG_SIGNATURE
from tests.fakes.lemondata.images import make_png

EPHEMERAL = 64


def embed_fields(message: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message["embeds"][0].get("fields", [])}


async def test_commands_synced_with_documented_options(env):
    """Start-up syncs /imagine with its documented options and types."""
    (imagine,) = [c for c in env.fake.global_commands if c["name"] == "imagine"]
    options = {o["name"]: o for o in imagine["options"]}
    assert list(options) == [
        "prompt",
        "model",
        "ratio",
        "resolution",
        "quality",
        "count",
        "style",
        "image",
        "image2",
        "image3",
        "background",
        "output_format",
        "compression",
        "negative_prompt",
        "seed",
    ]
    assert [options[n]["type"] for n in ("image", "image2", "image3")] == [11, 11, 11]
    assert [c["value"] for c in options["background"]["choices"]] == [
        "auto",
        "opaque",
        "transparent",
    ]
    assert [c["value"] for c in options["output_format"]["choices"]] == ["png", "jpeg", "webp"]
    assert (options["compression"]["min_value"], options["compression"]["max_value"]) == (0, 100)
    assert options["negative_prompt"]["max_length"] == 1000
    assert (options["seed"]["type"], options["seed"]["max_value"]) == (4, 2**32 - 1)
    assert not any(options[n].get("required") for n in ("image", "image2", "image3"))
    assert options["prompt"]["type"] == 3 and options["prompt"]["required"]
    assert options["prompt"]["max_length"] == 4000
    assert options["model"]["autocomplete"] is True
    assert [c["value"] for c in options["ratio"]["choices"]][:3] == ["1:1", "16:9", "9:16"]
    assert options["count"]["type"] == 4 and options["count"]["max_value"] == 4


async def test_sync_gemini_delivered_as_edit(env):
    """A synchronous Gemini request: progress at once, then @original edited with the PNG."""
    interaction = await env.imagine(
        prompt="a lemon on a beach", model="gemini-2.5-flash-image", ratio="16:9"
    )
    kind, data = interaction.callbacks[0]
    assert kind == 4 and not (data.get("flags", 0) & EPHEMERAL)
    progress = data["embeds"][0]
    assert progress["title"] == "Generating your image…"
    assert {f["name"] for f in progress["fields"]} >= {"Model", "Ratio", "State", "Started"}

    job = await env.settled((await env.job_for(interaction)).id)
    assert (job.state, job.quota_state, job.delivered_via) == ("succeeded", "settled", "edit")
    assert job.interaction_token is None  # forgotten once delivered

    (create,) = env.lemondata.creates()
    # Once the gateway has described the model as taking a seed, the bot draws one
    # (Details shows it); before that, the family table adds nothing the member did not ask.
    assert 0 <= create.pop("seed", 0) <= 2**32 - 1
    assert create == {
        "model": "gemini-2.5-flash-image",
        "prompt": "a lemon on a beach",
        "n": 1,
        "user": f"discord:{env.fake.guild_id}:{env.fake.alice.id}",
        "aspect_ratio": "16:9",
    }
    (image,) = env.fake.original_files(interaction)
    assert image.data.startswith(PNG_SIGNATURE)
    fields = embed_fields(interaction.original)
    assert fields["Model"] == "`gemini-2.5-flash-image`"
    assert fields["Requested by"] == f"<@{env.fake.alice.id}>"
    assert interaction.original["embeds"][0]["image"]["url"].endswith(image.filename)


async def test_async_gpt_image_polled_and_delivered(env):
    """gpt-image-2 is created as a task, polled, and delivered; the task id is stored."""
    interaction = await env.imagine(prompt="a city", model="gpt-image-2", ratio="16:9", count=2)
    job = await env.settled((await env.job_for(interaction)).id)
    (create,) = env.lemondata.creates()
    assert create["async"] is True and create["size"] == "1360x768" and create["n"] == 2
    assert "aspect_ratio" not in create
    assert job.task_id in env.lemondata.tasks
    assert job.state == "succeeded" and len(job.result_urls) == 2
    assert len(env.fake.original_files(interaction)) == 2
    assert job.quota_units == 4  # 2 images x weight 2


async def test_task_answer_without_asking_is_polled(env):
    """A create that answers with a task although async was not asked is polled."""
    env.lemondata.force_task_models.add("gemini-2.5-flash-image")
    interaction = await env.imagine(prompt="a fox", model="gemini-2.5-flash-image")
    job = await env.settled((await env.job_for(interaction)).id)
    assert "async" not in env.lemondata.creates()[0]
    assert job.task_id and job.state == "succeeded"
    assert env.lemondata.polls(job.task_id)
    assert env.fake.original_files(interaction)


async def test_failed_task_explained_and_refunded(env):
    """A failed task edits the message with a short explanation and releases the quota."""
    env.lemondata.fail_task_models["gpt-image-2"] = {"code": "upstream_error", "message": "boom"}
    interaction = await env.imagine(prompt="a city", model="gpt-image-2")
    job = await env.settled((await env.job_for(interaction)).id)
    assert (job.state, job.quota_state, job.error_code) == ("failed", "released", "task_failed")
    original = interaction.original
    text = embed_fields(original)["What happened"]
    assert "could not make this image: boom" in text
    assert "did not count against your quota" in text
    assert "{" not in text and len(text) < 2000
    assert env.fake.original_files(interaction) == []
    status = await env.bot.quota.status(env.fake.guild_id, env.fake.alice.id)
    assert status.used == 0


async def test_content_policy_refusal(env):
    """A prompt refused by the content policy says so, and is refunded."""
    interaction = await env.imagine(prompt="something forbidden", model="nano-banana")
    job = await env.settled((await env.job_for(interaction)).id)
    assert (job.error_code, job.quota_state) == ("content_policy", "released")
    assert "content policy" in embed_fields(interaction.original)["What happened"]


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"model": "gemini-2.5-flash-image", "resolution": "2k"}, "no resolution choice"),
        ({"model": "dall-e-3", "count": 2}, "at most 1 image"),
        ({"model": "no-such-model"}, "not an available image model"),
        ({"model": "gpt-image-2", "style": "vivid"}, "only `dall-e-3` takes a style"),
        ({"model": "gpt-image-2", "quality": "hd"}, "takes quality"),
        ({"prompt": "x" * 5000}, "5,000 characters"),
        ({"prompt": "   "}, "prompt is empty"),
    ],
)
async def test_invalid_input_refused_ephemerally(env, options, reason):
    """Invalid input gets a short ephemeral reason; nothing is stored or sent."""
    interaction = await env.imagine(**({"prompt": "a cat"} | options))
    kind, data = interaction.callbacks[0]
    assert kind == 4 and data["flags"] & EPHEMERAL
    assert reason in data["content"] and len(data["content"]) < 300
    assert env.lemondata.creates() == []
    assert await env.db.jobs.search(JobFilter()) == []


async def test_quota_refusal_is_ephemeral_and_sends_nothing(running_bot):
    """Over the daily quota: an ephemeral refusal naming the reset, no API request."""
    async with running_bot(daily_image_quota=1) as env:
        first = await env.imagine(prompt="a cat", model="nano-banana")
        await env.settled((await env.job_for(first)).id)
        second = await env.imagine(prompt="a dog", model="nano-banana")
        kind, data = second.callbacks[0]
        assert kind == 4 and data["flags"] & EPHEMERAL
        assert "used all 1 of your images for today" in data["content"]
        assert "<t:" in data["content"]
        assert len(env.lemondata.creates()) == 1


async def test_model_autocomplete(env):
    """Autocomplete offers the gateway's models matching what was typed."""
    await env.bot.catalog.ensure_loaded(5)
    interaction = env.send("imagine", {"prompt": "x", "model": "gem"}, type=4, focused="model")
    await env.fake.wait_for_callback(interaction)
    values = [c["value"] for c in interaction.choices]
    assert values and all(v.startswith("gemini") for v in values)
    assert set(values) <= set(env.lemondata.models)


async def test_default_model_used_when_none_given(env):
    """Without a model, DEFAULT_MODEL is used."""
    interaction = await env.imagine(prompt="a cat")
    await env.settled((await env.job_for(interaction)).id)
    assert env.lemondata.creates()[0]["model"] == env.bot.settings.default_model


async def test_unanswerable_interaction_releases_quota(env):
    """When the interaction response fails, the job is cancelled and the quota released."""
    # An unknown interaction stays unknown: the error reply's callback fails as well.
    env.fake.fail_next("POST", r"/interactions/.*/callback", 404, code=10062, count=2)
    interaction = env.send("imagine", {"prompt": "a cat", "model": "nano-banana"})
    await env.fake.wait_for(lambda: env.fake.requests_to("POST", r"/interactions/"))
    job = await env.wait_for_job(1, lambda j: j.terminal)
    assert (job.state, job.quota_state) == ("cancelled", "released")
    assert env.lemondata.creates() == []
    assert interaction.callbacks == []


async def test_dev_guild_sync(running_bot, fake):
    """With DEV_GUILD_ID the commands go to that server at start, not globally."""
    async with running_bot(dev_guild_id=fake.guild_id):
        names = {c["name"] for c in fake.guild_commands[fake.guild_id]}
        assert {"imagine", "quota", "imagemod"} <= names
        assert fake.global_commands == []


async def test_a_failure_after_deferring_goes_to_the_one_router(env, monkeypatch, caplog):
    """A crash while references are read: the "thinking" message goes, a private ref comes."""

    async def broken(attachments):
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(env.bot.references, "attachments", broken)
    image = env.fake.upload_attachment("cat.png", make_png((9, 9, 9)), "image/png")
    interaction = env.send("imagine", {"prompt": "a cat", "image": image})
    [followup] = await env.fake.wait_for_followups(interaction, 1)
    assert followup["flags"] & EPHEMERAL
    assert followup["content"].startswith("Something went wrong")
    assert "the disk is full" not in followup["content"]
    assert interaction.original_deleted  # the public "thinking" message was withdrawn
    assert any("the disk is full" in str(r.exc_info) for r in caplog.records if r.exc_info)
    assert env.lemondata.creates() == []


async def test_prompt_markdown_is_escaped_in_public_cards(env):
    """A prompt's masked link and markdown show as typed in the cards, never as a live link."""
    prompt = "[Free Nitro](https://evil.example) **now**"
    interaction = await env.imagine(prompt=prompt, model="gemini-2.5-flash-image")
    _, data = interaction.callbacks[0]
    shown = r"\[Free Nitro\](https://evil.example) \*\*now\*\*"
    assert data["embeds"][0]["description"] == shown
    job = await env.settled((await env.job_for(interaction)).id)
    assert job.prompt == prompt  # stored and sent as typed
    assert env.lemondata.creates()[0]["prompt"] == prompt
    assert interaction.original["embeds"][0]["description"] == shown
