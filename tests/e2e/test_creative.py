"""The creative loop through the real bot: images in, and results to act on in one click."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.e2e.harness import BotProcess, field_value, wait_for_outcome
from tests.fakes.fake_discord import FakeDiscord, FakeInteraction
from tests.fakes.lemondata import LemonDataEmulator, make_png

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]

EPHEMERAL = 1 << 6
MODAL = 9
GENERATIONS = "/v1/images/generations"
EDITS = "/v1/images/edits"


def picture(colour: tuple[int, int, int] = (200, 120, 30)) -> bytes:
    return make_png(colour)


def api_calls(emulator: LemonDataEmulator) -> list[Any]:
    """Every request that creates something (generations, edits, file uploads)."""
    return [r for r in emulator.requests if r.method == "POST"]


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        c.get("label") or c.get("custom_id")
        for row in message["components"]
        for c in row["components"]
    ]


async def deliver(
    fake: FakeDiscord, bot: BotProcess, options: dict[str, Any], **kw: Any
) -> FakeInteraction:
    interaction = await fake.invoke("imagine", options, **kw)
    await bot.race(wait_for_outcome(fake, interaction))
    return interaction


async def private_refusal(fake: FakeDiscord, bot: BotProcess, interaction: FakeInteraction) -> str:
    """The refusal a member alone sees: an ephemeral answer, or an ephemeral follow-up."""
    _, data = await bot.race(fake.wait_for_callback(interaction))
    if int((data or {}).get("flags") or 0) & EPHEMERAL:
        return str(data["content"])
    [followup] = await bot.race(fake.wait_for_followups(interaction, 1))
    assert int(followup.get("flags") or 0) & EPHEMERAL
    assert interaction.original is None or interaction.original.get("deleted")
    return str(followup["content"])


@pytest.mark.parametrize(
    ("model", "path", "field"),
    [("nano-banana", GENERATIONS, "image"), ("gpt-image-2", EDITS, "image[]")],
)
async def test_an_attachment_reaches_the_gateway_as_exactly_its_bytes(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    bot: BotProcess,
    model: str,
    path: str,
    field: str,
) -> None:
    """/imagine with an attachment: the create carries the bytes, never Discord's link."""
    data = picture()
    attachment = fake.upload_attachment("cat.png", data, "image/png")
    interaction = await deliver(
        fake, bot, {"prompt": "make it a painting", "model": model, "image": attachment}
    )
    [create] = [r for r in api_calls(emulator) if r.path == path]
    assert [(f.field, f.data) for f in create.files] == [(field, data)]
    assert attachment["url"].split("?")[0] not in create.body.decode("latin-1")
    assert "cdn" not in str(create.form)
    assert interaction.original is not None
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered")
    assert (row["input_count"], row["kind"]) == (1, "imagine")


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"model": "dall-e-3"}, "makes images from text only"),
        ({"model": "nano-banana", "image2": "second"}, "takes one reference image"),
    ],
)
async def test_a_model_without_image_input_is_refused_privately_with_no_call(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    bot: BotProcess,
    options: dict[str, Any],
    reason: str,
) -> None:
    """No image input, or too many images: refused at once, privately; nothing sent."""
    given = {"prompt": "a cat", "image": fake.upload_attachment("a.png", picture(), "image/png")}
    for name, value in options.items():
        given[name] = (
            fake.upload_attachment("b.png", picture((1, 2, 3)), "image/png")
            if name.startswith("image")
            else value
        )
    interaction = await fake.invoke("imagine", given)
    assert reason in await private_refusal(fake, bot, interaction)
    assert api_calls(emulator) == [] and bot.jobs() == []
    assert fake.cdn_fetches == []  # refused before anything was downloaded


async def test_a_file_that_is_not_an_image_is_refused_privately_with_no_call(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """A PDF named like a PNG: its bytes are sniffed, and it is refused before any call."""
    fake_png = fake.upload_attachment("photo.png", b"%PDF-1.7 not an image", "image/png")
    interaction = await fake.invoke(
        "imagine", {"prompt": "a cat", "model": "nano-banana", "image": fake_png}
    )
    text = await private_refusal(fake, bot, interaction)
    assert "not an image the bot can use" in text
    assert api_calls(emulator) == [] and bot.jobs() == []


async def test_count_four_arrives_in_one_message_with_buttons(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    """Four images in one message (a gallery of attachments), with a pick for Edit."""
    interaction = await deliver(
        fake, bot, {"prompt": "four lemons", "model": "nano-banana", "count": 4}
    )
    assert len(fake.original_files(interaction)) == 4
    assert interaction.followups == []  # one message, not one per image
    labels = buttons(interaction.original)
    assert labels[:3] == ["Reroll", "Details", "Delete"]
    [select] = [
        c for row in interaction.original["components"] for c in row["components"] if c["type"] == 3
    ]
    assert [o["value"] for o in select["options"]] == ["1", "2", "3", "4"]


async def test_reroll_before_and_after_a_restart(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Reroll makes the same request again as a new job, also from a card sent before a restart."""
    first = await deliver(fake, bot, {"prompt": "a red lemon", "model": "nano-banana"})
    assert buttons(first.original) == ["Reroll", "Edit", "Details", "Delete"]
    again = await fake.press(first, "Reroll")
    await bot.race(wait_for_outcome(fake, again))
    await bot.restart()
    later = await fake.press(first, "Reroll")  # the old message's button, after the restart
    await bot.race(wait_for_outcome(fake, later))
    prompts = [c["prompt"] for c in emulator.creates()]
    assert prompts == ["a red lemon"] * 3
    rows = bot.jobs()
    assert [(r["kind"], r["parent_id"]) for r in rows] == [
        ("imagine", None),
        ("reroll", rows[0]["id"]),
        ("reroll", rows[0]["id"]),
    ]
    assert all(r["quota_state"] == "settled" for r in rows)


async def test_edit_sends_the_results_own_bytes_through_the_modal(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Edit opens a modal with the prompt; the new job's reference is the result itself."""
    first = await deliver(fake, bot, {"prompt": "a lemon", "model": "nano-banana", "ratio": "16:9"})
    [result] = fake.original_files(first)
    press = await fake.press(first, "Edit")
    kind, modal = await bot.race(fake.wait_for_callback(press))
    assert kind == MODAL
    fields = {
        c["custom_id"]: c
        for row in modal["components"]
        for c in [row.get("component") or row["components"][0]]
    }
    assert fields["prompt"]["value"] == "a lemon" and fields["ratio"]["value"] == "16:9"
    submitted = await fake.submit_modal(press, {"prompt": "the same lemon, but blue"})
    await bot.race(wait_for_outcome(fake, submitted))
    [edit_create] = [r for r in api_calls(emulator) if r.files]
    assert [f.data for f in edit_create.files] == [result.data]
    assert edit_create.form["prompt"] == "the same lemon, but blue"
    row = bot.jobs()[-1]
    assert (row["kind"], row["parent_id"], row["input_count"]) == ("edit", bot.jobs()[0]["id"], 1)


async def test_edit_of_a_text_only_models_image_uses_the_default_edit_model(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """DALL-E 3 takes no reference image: the edit is made with DEFAULT_EDIT_MODEL, and said."""
    first = await deliver(fake, bot, {"prompt": "a lemon", "model": "dall-e-3"})
    press = await fake.press(first, "Edit")
    await bot.race(fake.wait_for_callback(press))
    submitted = await fake.submit_modal(press, {"prompt": "a lemon at night"})
    edit = await bot.race(wait_for_outcome(fake, submitted))
    embed = edit.payload["embeds"][0]
    assert field_value(embed, "Model") == "`gemini-2.5-flash-image`"
    assert "`dall-e-3` takes no reference image" in field_value(embed, "Model used")


async def test_details_is_private(fake: FakeDiscord, bot: BotProcess) -> None:
    """Details answers only the member who pressed, with the full prompt and the job."""
    prompt = "a lemon " + "with many words " * 40
    first = await deliver(fake, bot, {"prompt": prompt.strip(), "model": "nano-banana"})
    press = await fake.press(first, "Details", user=fake.bob)
    _, data = await bot.race(fake.wait_for_callback(press))
    assert int(data["flags"]) & EPHEMERAL
    [embed] = data["embeds"]
    assert embed["description"] == prompt.strip()
    assert embed["footer"]["text"] == f"Job {bot.jobs()[0]['id']}"


async def test_delete_is_refused_to_another_member_and_works_for_the_requester(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    """Bob may not delete Alice's image; Alice may, and it is recorded like /imagemod delete."""
    first = await deliver(fake, bot, {"prompt": "a lemon", "model": "nano-banana"}, user=fake.alice)
    refused = await fake.press(first, "Delete", user=fake.bob)
    assert "Only the member who asked" in await private_refusal(fake, bot, refused)
    assert bot.jobs()[0]["deleted_at"] is None
    done = await fake.press(first, "Delete", user=fake.alice)
    [reply] = await bot.race(fake.wait_for_edits(done))
    assert reply.payload["content"] == f"Deleted the image of job {bot.jobs()[0]['id']}."
    row = await bot.wait_for_job(lambda j: j["deleted_at"] is not None)
    assert row["deleted_by"] == fake.alice.id
    assert fake.requests_to("DELETE", r"^/channels/\d+/messages/\d+$")


async def test_remix_a_members_picture_from_the_context_menu(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Apps → Remix with lemonbot on a member's photo: a modal, then a job from its bytes."""
    data = picture((10, 200, 90))
    message = fake.add_member_message(
        fake.bob, "my cat", attachments=[fake.upload_attachment("cat.png", data, "image/png")]
    )
    menu = await fake.invoke_message_command("Remix with lemonbot", message, user=fake.alice)
    kind, _ = await bot.race(fake.wait_for_callback(menu))
    assert kind == MODAL
    submitted = await fake.submit_modal(menu, {"prompt": "as a watercolour"})
    await bot.race(wait_for_outcome(fake, submitted))
    [create] = [r for r in api_calls(emulator) if r.files]
    assert [f.data for f in create.files] == [data]
    row = bot.jobs()[-1]
    assert (row["kind"], row["input_count"], row["user_id"]) == ("remix", 1, fake.alice.id)


async def test_remix_of_a_message_without_an_image_is_refused_privately(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """A text-only message has nothing to remix: a private answer, no modal, no call."""
    message = fake.add_member_message(fake.bob, "just words")
    menu = await fake.invoke_message_command("Remix with lemonbot", message, user=fake.alice)
    assert "no image to remix" in await private_refusal(fake, bot, menu)
    assert api_calls(emulator) == []


MIB = 1024 * 1024


async def test_a_reference_over_max_input_image_mb_is_refused_before_any_download(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: Any
) -> None:
    """A declared size over MAX_INPUT_IMAGE_MB: refused privately, not fetched, nothing sent."""
    bot: BotProcess = make_bot(env={"MAX_INPUT_IMAGE_MB": "1"})
    await bot.start()
    big = fake.upload_attachment("big.png", make_png((9, 9, 9), size_bytes=2 * MIB), "image/png")
    interaction = await fake.invoke(
        "imagine", {"prompt": "a cat", "model": "nano-banana", "image": big}
    )
    text = await private_refusal(fake, bot, interaction)
    assert text == "`big.png` is 2.0 MB; reference images can be at most 1.0 MB."
    assert fake.cdn_fetches == [] and api_calls(emulator) == [] and bot.jobs() == []


async def test_a_reference_larger_than_declared_is_stopped_at_the_cap(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: Any
) -> None:
    """Discord says 1 KB, the CDN serves 16 MB: the download stops at the cap, and is refused.

    The bytes are streamed with a running cap (not read whole, then measured): the fake
    CDN sees the bot stop reading part-way. Refused privately; nothing reserved or sent.
    """
    bot: BotProcess = make_bot(env={"MAX_INPUT_IMAGE_MB": "1"})
    await bot.start()
    liar = fake.upload_attachment("liar.png", make_png((1, 1, 1), size_bytes=16 * MIB), "image/png")
    liar["size"] = 1000  # what Discord declares; the CDN serves the real 16 MB
    interaction = await fake.invoke(
        "imagine", {"prompt": "a cat", "model": "nano-banana", "image": liar}
    )
    text = await private_refusal(fake, bot, interaction)
    assert text == "`liar.png` is larger than 1.0 MB, the most a reference image can be."
    await bot.race(fake.wait_for(lambda: fake.cdn_transfers, what="the CDN transfer ended"))
    assert fake.cdn_transfers == [(int(liar["id"]), False)]  # not read to the end
    assert api_calls(emulator) == [] and bot.jobs() == []


async def moderator_answer(
    fake: FakeDiscord, bot: BotProcess, name: str, options: dict[str, Any]
) -> dict[str, Any]:
    """A moderator's private /imagemod answer (after a defer, the edited original)."""
    interaction = await fake.invoke(name, options, fake.mod)
    kind, _ = await bot.race(fake.wait_for_callback(interaction))
    if kind == 5:
        await bot.race(fake.wait_for(lambda: interaction.edits, what=f"{name} answer"))
    message = interaction.original
    assert message is not None and int(message.get("flags") or 0) & EPHEMERAL
    return message


async def test_lineage_in_details_imagemod_job_and_the_export(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """An Edit's parent, kind and reference image: in Details, /imagemod job and the CSV."""
    first = await deliver(fake, bot, {"prompt": "a lemon", "model": "nano-banana"})
    [result] = fake.original_files(first)
    press = await fake.press(first, "Edit")
    await bot.race(fake.wait_for_callback(press))
    edited = await fake.submit_modal(press, {"prompt": "a blue lemon"})
    await bot.race(wait_for_outcome(fake, edited))
    parent, edit = (r["id"] for r in bot.jobs())

    details = await fake.press(edited, "Details")
    _, data = await bot.race(fake.wait_for_callback(details))
    [embed] = data["embeds"]
    assert field_value(embed, "Made from") == f"Edit of job {parent}"
    assert field_value(embed, "Reference images") == "1"

    job = await moderator_answer(fake, bot, "imagemod job", {"job_id": edit})
    assert field_value(job["embeds"][0], "Made from") == f"Edit of job {parent}"
    assert field_value(job["embeds"][0], "Reference") == "1 image (attached)"
    assert [f.data for f in fake.message_files(job)] == [result.data]  # the image it edited

    export = await moderator_answer(fake, bot, "imagemod export", {})
    [csv_file] = fake.message_files(export)
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(csv_file.data.decode("utf-8")))}
    assert (rows[str(edit)]["parent_id"], rows[str(edit)]["kind"]) == (str(parent), "edit")
    assert rows[str(edit)]["input_images"] == "1"
    assert (rows[str(parent)]["kind"], rows[str(parent)]["input_images"]) == ("imagine", "0")

    # A Remix of a member's picture has no parent job; it still says how it was made.
    message = fake.add_member_message(
        fake.bob, "my cat", attachments=[fake.upload_attachment("cat.png", picture(), "image/png")]
    )
    menu = await fake.invoke_message_command("Remix with lemonbot", message)
    await bot.race(fake.wait_for_callback(menu))
    remixed = await fake.submit_modal(menu, {"prompt": "as a watercolour"})
    await bot.race(wait_for_outcome(fake, remixed))
    details = await fake.press(remixed, "Details")
    _, data = await bot.race(fake.wait_for_callback(details))
    assert field_value(data["embeds"][0], "Made from") == "Remix of a message's images"
    assert field_value(data["embeds"][0], "Reference images") == "1"


async def test_details_shows_a_4000_character_prompt_and_its_revised_prompt_whole(
    fake: FakeDiscord, bot: BotProcess
) -> None:
    """The full prompt (4,000 characters) and DALL-E 3's longer revised prompt, both whole.

    Together they are over Discord's 6,000 characters of embeds per message (the fake
    refuses more), so the revised prompt follows in a second private message.
    """
    words = " ".join(f"lemon{n}" for n in range(1000))
    prompt = words[:4000].rstrip() + "x" * (4000 - len(words[:4000].rstrip()))
    assert len(prompt) == 4000
    first = await deliver(fake, bot, {"prompt": prompt, "model": "dall-e-3"})
    revised = f"A detailed, vivid illustration of {prompt}"
    assert bot.jobs()[0]["revised_prompt"] == revised and len(revised) > 4000

    press = await fake.press(first, "Details", user=fake.bob)
    _, data = await bot.race(fake.wait_for_callback(press))
    assert int(data["flags"]) & EPHEMERAL
    [embed] = data["embeds"]
    assert embed["description"] == prompt
    [more] = await bot.race(fake.wait_for_followups(press, 1))
    assert int(more["flags"]) & EPHEMERAL
    [second] = more["embeds"]
    assert (second["title"], second["description"]) == ("Revised prompt", revised)
