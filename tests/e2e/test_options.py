"""Issue 21 through the real bot process: every option the gateway offers, and new models.

Each option reaches the gateway as the contract says, or is refused privately with no
API call; a model no table knows works from the gateway's description; a result too
large as PNG arrives as WebP attachments; ``low`` strictness is sent only in an
age-restricted channel; a gateway refusal is named in one sentence and refunded.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.harness import BotProcess, embed_text, wait_for_outcome
from tests.fakes.fake_discord import FakeDiscord, FakeInteraction
from tests.fakes.lemondata import LemonDataEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

EPHEMERAL = 1 << 6
GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"
MIB = 1024 * 1024


def creates(emulator: LemonDataEmulator) -> list[dict[str, Any]]:
    return [c for c in emulator.creates() if c is not None]


def posts(emulator: LemonDataEmulator) -> int:
    return sum(1 for r in emulator.requests if r.method == "POST")


async def outcome(fake: FakeDiscord, bot: BotProcess, interaction: FakeInteraction) -> Any:
    return await bot.race(wait_for_outcome(fake, interaction, timeout=60))


async def refusal(fake: FakeDiscord, bot: BotProcess, interaction: FakeInteraction) -> str:
    """The private first answer of a refused request."""
    kind, data = await bot.race(fake.wait_for_callback(interaction))
    assert kind == 4 and int(data.get("flags") or 0) & EPHEMERAL, data
    return str(data["content"])


async def described(emulator: LemonDataEmulator, bot: BotProcess, model: str) -> None:
    """Wait until the bot has read the gateway's description of ``model``."""
    await bot.wait_for_log("image model descriptions refreshed")
    assert any(r.path == f"/v1/models/{model}" for r in emulator.requests)


async def test_each_option_reaches_the_gateway_as_the_contract_says(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    options = {
        "prompt": "a lemon on glass",
        "model": "flux-pro",
        "background": "transparent",
        "output_format": "webp",
        "compression": 40,
        "negative_prompt": "blur",
        "seed": 42,
    }
    interaction = await fake.invoke("imagine", options)
    edit = await outcome(fake, bot, interaction)
    assert edit.payload["embeds"][0]["title"] == "Here is your image"
    [create] = creates(emulator)
    assert {k: create.get(k) for k in ("background", "output_format", "output_compression")} == {
        "background": "transparent",
        "output_format": "webp",
        "output_compression": 40,
    }
    assert (create["negative_prompt"], create["seed"]) == ("blur", 42)
    assert [f.filename.rsplit(".", 1)[-1] for f in edit.files] == ["webp"]
    details = await fake.press(interaction, "Details")
    _, data = await bot.race(fake.wait_for_callback(details))
    text = embed_text(data)
    assert "background transparent" in text and "format WEBP" in text and "`42`" in text


@pytest.mark.parametrize(
    ("options", "said"),
    [
        (
            {"model": "gpt-image-2", "background": "transparent"},
            "`gpt-image-2` takes `background` `auto` or `opaque`, not `transparent`.",
        ),
        ({"model": "dall-e-3", "seed": 7}, "`dall-e-3` doesn't take `seed`."),
        ({"model": "gpt-image-2", "compression": 50}, "for JPEG and WebP only"),
        (
            {"model": "flux-pro", "background": "transparent", "output_format": "jpeg"},
            "needs PNG or WebP output",
        ),
    ],
)
async def test_an_option_the_model_does_not_take_is_refused_privately_for_nothing(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    bot: BotProcess,
    options: dict[str, Any],
    said: str,
) -> None:
    interaction = await fake.invoke("imagine", {"prompt": "a lemon", **options})
    content = await refusal(fake, bot, interaction)
    assert said in content
    if "background" in options and options["model"] == "gpt-image-2":
        assert "`flux-pro`" in content  # the models that do take it are named
    assert posts(emulator) == 0


async def test_an_unknown_model_works_from_the_gateways_description(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    await described(emulator, bot, "midjourney")
    refused = await fake.invoke(
        "imagine", {"prompt": "a lemon", "model": "midjourney", "ratio": "16:9"}
    )
    content = await refusal(fake, bot, refused)
    assert content == "`midjourney` takes `1:1`, `2:3` or `3:2`; try one of those."
    assert posts(emulator) == 0
    made = await fake.invoke(
        "imagine", {"prompt": "a lemon", "model": "midjourney", "ratio": "2:3", "seed": 9}
    )
    edit = await outcome(fake, bot, made)
    assert edit.payload["embeds"][0]["title"] == "Here is your image"
    [create] = creates(emulator)
    assert (create["aspect_ratio"], create["seed"]) == ("2:3", 9)
    choices = await fake.autocomplete("imagine", {"prompt": "x", "model": "midj"}, focused="model")
    assert [c["name"] for c in choices] == ["midjourney · 1:1/2:3/3:2 · negative prompt · seed"]


async def test_a_result_too_large_as_png_arrives_as_webp_attachments(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """PNGs of 12 MiB miss the 10 MiB limit (links); the next request asks for WebP."""
    emulator.file_size_bytes_by_format = {"png": 12 * MIB}
    first = await fake.invoke("imagine", {"prompt": "a lemon", "model": "gpt-image-2"})
    edit = await outcome(fake, bot, first)
    assert not edit.files  # too large to attach: a link
    second = await fake.invoke("imagine", {"prompt": "a lime", "model": "gpt-image-2"})
    edit = await outcome(fake, bot, second)
    asked = [c.get("output_format") for c in creates(emulator)]
    assert asked == ["png", "webp"]
    assert [f.filename.rsplit(".", 1)[-1] for f in edit.files] == ["webp"]
    details = await fake.press(second, "Details")
    _, data = await bot.race(fake.wait_for_callback(details))
    assert "format WEBP (picked by the bot)" in embed_text(data)


async def test_low_strictness_is_sent_only_in_an_age_restricted_channel(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: Any
) -> None:
    fake.channels[fake.channel2_id]["nsfw"] = True  # before the bot reads its channels
    bot = make_bot()
    await bot.start()
    config = await fake.invoke("imagemod config", {"strictness": "low_age_restricted"}, fake.mod)
    await bot.race(fake.wait_for_callback(config))
    for channel in (fake.channel_id, fake.channel2_id):
        interaction = await fake.invoke(
            "imagine", {"prompt": "a lemon", "model": "gpt-image-2"}, channel_id=channel
        )
        await outcome(fake, bot, interaction)
    assert [c.get("moderation") for c in creates(emulator)] == ["auto", "low"]
    # The audit channel is unset here; the ledger keeps the strictness each job ran with.
    jobs = sorted(bot.jobs(), key=lambda j: j["id"])
    assert ['"moderation": "low"' in j["options"] for j in jobs] == [False, True]


async def test_a_gateway_refusal_is_named_in_one_sentence_and_refunded(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    emulator.fail_next(
        400,
        body={
            "error": {
                "message": "aspect_ratio 21:9 is not available for nano-banana",
                "type": "invalid_request_error",
                "param": "aspect_ratio",
                "allowed_aspect_ratios": ["1:1", "16:9"],
            }
        },
    )
    interaction = await fake.invoke(
        "imagine", {"prompt": "a lemon", "model": "nano-banana", "ratio": "21:9"}
    )
    edit = await outcome(fake, bot, interaction)
    text = embed_text(edit.payload)
    assert "`nano-banana` takes `1:1` or `16:9`; try one of those." in text
    assert "It did not count against your quota." in text
    [job] = bot.jobs()
    assert (job["state"], job["quota_state"]) == ("failed", "released")
    assert job["error_message"] == "aspect_ratio 21:9 is not available for nano-banana"


def modal_fields(modal: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        c["custom_id"]: c
        for row in modal["components"]
        for c in [row.get("component") or row["components"][0]]
    }


async def test_reroll_draws_a_new_seed_and_edit_and_remix_keep_the_parents(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    await described(emulator, bot, "flux-pro")  # a seed is drawn for what the gateway says
    first = await fake.invoke("imagine", {"prompt": "a lemon", "model": "flux-pro", "seed": 42})
    await outcome(fake, bot, first)
    reroll = await fake.press(first, "Reroll")
    await outcome(fake, bot, reroll)
    press = await fake.press(first, "Edit")
    _, modal = await bot.race(fake.wait_for_callback(press))
    assert modal_fields(modal)["seed"]["value"] == "42"  # the parent's, pre-filled
    edited = await fake.submit_modal(press, {"prompt": "a blue lemon", "seed": "42"})
    await outcome(fake, bot, edited)
    menu = await fake.invoke_message_command("Remix with lemonbot", first)
    _, modal = await bot.race(fake.wait_for_callback(menu))
    assert modal_fields(modal)["seed"]["value"] == "42"
    remixed = await fake.submit_modal(menu, {"prompt": "as ink", "model": "flux-pro", "seed": "7"})
    await outcome(fake, bot, remixed)
    made = [r.json or r.form for r in emulator.requests if r.path in (GENERATIONS, EDITS)]
    seeds = [int(body["seed"]) for body in made]
    assert seeds[0] == 42 and seeds[1] != 42 and seeds[2:] == [42, 7]
    kinds = [j["kind"] for j in bot.jobs()]
    assert kinds == ["imagine", "reroll", "edit", "remix"]
    bad = await fake.press(first, "Edit")
    await bot.race(fake.wait_for_callback(bad))
    refused = await fake.submit_modal(bad, {"prompt": "a lemon", "seed": "-1"})
    _, data = await bot.race(fake.wait_for_callback(refused))
    assert "A seed is a whole number from 0 to" in data["content"]
    assert posts(emulator) == 4  # the refused form sent nothing
