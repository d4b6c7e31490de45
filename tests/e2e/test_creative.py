"""The creative loop through the real bot: images in, and results to act on in one click."""

from __future__ import annotations

import csv
import io
import sqlite3
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


# ---------------------------------------------------------------------- every press, checked


def backdate(bot: BotProcess, days: int) -> None:
    """Make every job ``days`` older (the bot is stopped: it reads the rows at start)."""
    conn = sqlite3.connect(bot.db_path, timeout=5)
    try:
        with conn:
            conn.execute("UPDATE jobs SET created_at = created_at - ?", (days * 86400,))
    finally:
        conn.close()


async def test_a_press_on_a_job_gone_or_erased_by_retention_is_answered_privately(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: Any
) -> None:
    """Reroll and Edit of a job log retention erased, or of one the bot has no record of."""
    bot: BotProcess = make_bot()
    await bot.start()
    first = await deliver(fake, bot, {"prompt": "a lemon", "model": "nano-banana"})
    await bot.terminate()
    backdate(bot, 100)  # past LOG_RETENTION_DAYS (90): erased when the bot starts
    await bot.start()
    await bot.wait_for_job(lambda j: j["prompt"] == "", what="retention erased the prompt")
    erased = "That image's prompt was removed by the server's log retention"
    for label in ("Reroll", "Edit"):
        press = await fake.press(first, label)
        assert (await private_refusal(fake, bot, press)).startswith(erased)

    # The same buttons, read by an installation with no record of the job at all.
    await bot.terminate()
    other: BotProcess = make_bot("fresh")
    await other.start()
    for label in ("Reroll", "Edit", "Details"):
        press = await fake.press(first, label)
        text = await private_refusal(fake, other, press)
        assert text == "That image is no longer in the bot's records."
    assert len(emulator.creates()) == 1 and other.jobs() == []


async def test_a_blocked_member_cannot_reroll(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """The block is checked at the press: Bob, blocked after the result, is refused."""
    first = await deliver(fake, bot, {"prompt": "a lemon", "model": "nano-banana"}, user=fake.bob)
    await moderator_answer(fake, bot, "imagemod block", {"user": fake.bob})
    press = await fake.press(first, "Reroll", user=fake.bob)
    text = await private_refusal(fake, bot, press)
    assert text == "You're blocked from generating images on this server."
    edit = await fake.press(first, "Edit", user=fake.bob)  # told at once: no form to fill in
    assert await private_refusal(fake, bot, edit) == text
    data = picture((10, 200, 90))
    photo = fake.add_member_message(
        fake.alice, "my cat", attachments=[fake.upload_attachment("cat.png", data, "image/png")]
    )
    menu = await fake.invoke_message_command("Remix with lemonbot", photo, user=fake.bob)
    assert await private_refusal(fake, bot, menu) == text
    assert len(emulator.creates()) == 1 and len(bot.jobs()) == 1


async def test_quota_applies_to_every_press_and_every_edited_prompt(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: Any
) -> None:
    """With one image a day, Reroll and Edit are refused privately; nothing is sent."""
    bot: BotProcess = make_bot(env={"DAILY_IMAGE_QUOTA": "1"})
    await bot.start()
    first = await deliver(fake, bot, {"prompt": "a lemon", "model": "nano-banana"})
    press = await fake.press(first, "Reroll")
    used = "You've used all 1 of your images for today."
    assert (await private_refusal(fake, bot, press)).startswith(used)
    edit = await fake.press(first, "Edit")
    await bot.race(fake.wait_for_callback(edit))
    submitted = await fake.submit_modal(edit, {"prompt": "a blue lemon"})
    assert (await private_refusal(fake, bot, submitted)).startswith(used)
    assert len(api_calls(emulator)) == 1 and len(bot.jobs()) == 1


async def test_the_blocklist_applies_to_every_press_and_every_edited_prompt(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """A rule added after a result: its Reroll, and an Edit's new prompt, are refused."""
    stormy = await deliver(fake, bot, {"prompt": "a storm at sea", "model": "nano-banana"})
    calm = await deliver(fake, bot, {"prompt": "a calm sea", "model": "nano-banana"})
    await moderator_answer(fake, bot, "imagemod blocklist add", {"pattern": "storm"})
    blocked = "Your prompt was blocked by a rule of this server."
    press = await fake.press(stormy, "Reroll")
    assert await private_refusal(fake, bot, press) == blocked
    edit = await fake.press(calm, "Edit")
    await bot.race(fake.wait_for_callback(edit))
    submitted = await fake.submit_modal(edit, {"prompt": "a storm at sea"})
    assert await private_refusal(fake, bot, submitted) == blocked
    assert len(api_calls(emulator)) == 2 and len(bot.jobs()) == 2


async def test_running_caps_and_the_queue_apply_to_every_press(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: Any
) -> None:
    """One running, one waiting per member: a Reroll waits in the queue, the next is refused."""
    bot: BotProcess = make_bot(
        env={"MAX_RUNNING_JOBS_PER_USER": "1", "MAX_QUEUED_JOBS_PER_USER": "1"}
    )
    await bot.start()
    first = await deliver(fake, bot, {"prompt": "a lemon", "model": "nano-banana"})
    emulator.hold_tasks = True
    held = await fake.invoke("imagine", {"prompt": "a slow lemon", "model": "gpt-image-2"})
    await bot.race(fake.wait_for_callback(held))
    await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 1))

    waiting = await fake.press(first, "Reroll")
    _, card = await bot.race(fake.wait_for_callback(waiting))
    [embed] = card["embeds"]
    assert field_value(embed, "State") == "Waiting for a free slot: #1 in this server's queue"
    assert "Cancel" in buttons(card)
    refused = await fake.press(first, "Reroll")
    text = await private_refusal(fake, bot, refused)
    assert (
        text == "You already have 1 request waiting for a free slot. Please wait for one to start."
    )
    edit = await fake.press(first, "Edit")
    await bot.race(fake.wait_for_callback(edit))
    submitted = await fake.submit_modal(edit, {"prompt": "a blue lemon"})
    assert await private_refusal(fake, bot, submitted) == text
    assert [r["state"] for r in bot.jobs()] == ["succeeded", "running", "queued"]

    emulator.hold_tasks = False  # the slow one finishes; the waiting Reroll runs
    await bot.race(wait_for_outcome(fake, waiting))
    assert [c["prompt"] for c in emulator.creates()] == ["a lemon", "a slow lemon", "a lemon"]


# ---------------------------------------------------------------------- images in


async def test_the_gateways_supported_operations_win_over_the_family_table(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: Any
) -> None:
    """nano-banana listed text-only is refused an image; dall-e-3 listed as editing takes one."""
    emulator.model_overrides["nano-banana"] = {"supported_operations": ["text-to-image"]}
    emulator.model_overrides["dall-e-3"] = {"supported_operations": ["text-to-image", "image-edit"]}
    bot: BotProcess = make_bot()
    await bot.start()
    data = picture()
    refused = await fake.invoke(
        "imagine",
        {
            "prompt": "a cat",
            "model": "nano-banana",
            "image": fake.upload_attachment("a.png", data, "image/png"),
        },
    )
    assert "makes images from text only" in await private_refusal(fake, bot, refused)
    assert api_calls(emulator) == [] and fake.cdn_fetches == []

    await deliver(
        fake,
        bot,
        {
            "prompt": "a cat",
            "model": "dall-e-3",
            "image": fake.upload_attachment("b.png", data, "image/png"),
        },
    )
    [edit] = emulator.edits()
    assert [f.data for f in edit.files] == [data] and edit.form["model"] == "dall-e-3"


async def test_the_route_follows_the_gateways_operations_where_they_differ_from_the_family(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: Any
) -> None:
    """dall-e-3 listed image-to-image goes to generations with ``operation`` and ``image``;
    nano-banana listed as editing only goes to the edits route with ``image[]``."""
    emulator.model_overrides["dall-e-3"] = {"supported_operations": ["image-to-image"]}
    emulator.model_overrides["nano-banana"] = {"supported_operations": ["image-edit"]}
    bot: BotProcess = make_bot()
    await bot.start()
    data = picture((40, 40, 200))
    for model in ("dall-e-3", "nano-banana"):
        await deliver(
            fake,
            bot,
            {
                "prompt": "a cat",
                "model": model,
                "image": fake.upload_attachment(f"{model}.png", data, "image/png"),
            },
        )
    [generation] = [
        r for r in api_calls(emulator) if r.files and (r.form or {}).get("model") == "dall-e-3"
    ]
    assert generation.path == "/v1/images/generations"
    assert generation.form["operation"] == "image-to-image"
    assert [(f.field, f.data) for f in generation.files] == [("image", data)]
    [edit] = emulator.edits()
    assert edit.form["model"] == "nano-banana" and "operation" not in edit.form
    assert [(f.field, f.data) for f in edit.files] == [("image[]", data)]


async def test_a_flux_edit_is_an_async_task_on_the_edits_route_and_is_polled(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """FLUX with a reference: POST /v1/images/edits with async, then polls until done."""
    data = picture((5, 50, 250))
    interaction = await deliver(
        fake,
        bot,
        {
            "prompt": "in the style of a poster",
            "model": "flux-pro",
            "image": fake.upload_attachment("p.png", data, "image/png"),
        },
    )
    [edit] = emulator.edits()
    assert [(f.field, f.data) for f in edit.files] == [("image[]", data)]
    assert edit.form["async"] == "true" and emulator.create_requests() == []
    row = await bot.wait_for_job(lambda j: j["delivery_state"] == "delivered")
    assert row["task_id"] and emulator.polls(row["task_id"])
    assert len(fake.original_files(interaction)) == 1


async def test_a_restart_before_the_create_sends_the_stored_bytes_without_a_new_fetch(
    fake: FakeDiscord, emulator: LemonDataEmulator, make_bot: Any
) -> None:
    """A request waiting in the queue across a restart: its create carries the kept bytes."""
    bot: BotProcess = make_bot(env={"MAX_RUNNING_JOBS_PER_USER": "1"})
    await bot.start()
    emulator.hold_tasks = True
    held = await fake.invoke("imagine", {"prompt": "a slow lemon", "model": "gpt-image-2"})
    await bot.race(fake.wait_for_callback(held))
    await bot.race(emulator.wait_for(lambda: len(emulator.tasks) == 1))
    data = picture((77, 7, 177))
    waiting = await fake.invoke(
        "imagine",
        {
            "prompt": "a lemon like this",
            "model": "nano-banana",
            "image": fake.upload_attachment("c.png", data, "image/png"),
        },
    )
    await bot.race(fake.wait_for(lambda: waiting.original is not None, what="queued card"))
    await bot.wait_for_job(lambda j: j["state"] == "queued" and j["message_id"] is not None)
    fetched = list(fake.cdn_fetches)
    assert len(fetched) == 1

    await bot.restart()
    emulator.hold_tasks = False
    await bot.race(wait_for_outcome(fake, waiting))
    [create] = [r for r in api_calls(emulator) if r.files]
    assert [f.data for f in create.files] == [data]
    assert fake.cdn_fetches == fetched  # the bytes came from the ledger, not Discord


async def test_picking_image_3_in_the_edit_select_sends_image_3s_bytes(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Of four results, the third chosen in the select is the new job's reference."""
    first = await deliver(fake, bot, {"prompt": "four lemons", "model": "nano-banana", "count": 4})
    files = fake.original_files(first)
    assert len({f.data for f in files}) == 4  # four different images
    [select] = [
        c for row in first.original["components"] for c in row["components"] if c["type"] == 3
    ]
    pick = await fake.choose(first, select["custom_id"], ["3"])
    kind, _ = await bot.race(fake.wait_for_callback(pick))
    assert kind == MODAL
    submitted = await fake.submit_modal(pick, {"prompt": "only the third lemon, bigger"})
    await bot.race(wait_for_outcome(fake, submitted))
    [edit_create] = [r for r in api_calls(emulator) if r.files]
    assert [f.data for f in edit_create.files] == [files[2].data]


# ---------------------------------------------------------------------- remix


async def test_remix_of_a_gallery_uses_the_first_images_and_says_which_were_left_out(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """Four images, a model that takes one: the first is used, and the member is told."""
    gallery = await deliver(
        fake, bot, {"prompt": "four lemons", "model": "nano-banana", "count": 4}
    )
    files = fake.original_files(gallery)
    menu = await fake.invoke_message_command("Remix with lemonbot", gallery, user=fake.bob)
    await bot.race(fake.wait_for_callback(menu))
    submitted = await fake.submit_modal(menu, {"prompt": "as a woodcut"})
    await bot.race(wait_for_outcome(fake, submitted))
    [create] = [r for r in api_calls(emulator) if r.files]
    assert [f.data for f in create.files] == [files[0].data]
    [note] = await bot.race(fake.wait_for_followups(submitted, 1))
    assert int(note["flags"]) & EPHEMERAL
    assert note["content"] == (
        "Remix used the first image of the message's 4:"
        " with `gemini-2.5-flash-image` it takes one reference image."
    )


async def test_remix_of_a_result_delivered_as_a_link(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """An image over the upload limit is delivered as a link: Remix still finds it."""
    emulator.file_size_bytes = 11 * MIB  # over the 10 MiB upload limit: linked
    linked = await deliver(fake, bot, {"prompt": "a huge lemon", "model": "nano-banana"})
    assert fake.original_files(linked) == []
    menu = await fake.invoke_message_command("Remix with lemonbot", linked, user=fake.bob)
    kind, _ = await bot.race(fake.wait_for_callback(menu))
    assert kind == MODAL
    submitted = await fake.submit_modal(menu, {"prompt": "smaller"})
    await bot.race(wait_for_outcome(fake, submitted))
    [create] = [r for r in api_calls(emulator) if r.files]
    [reference] = create.files  # the linked image, downloaded (within MAX_INPUT_IMAGE_MB)
    assert len(reference.data) >= 11 * MIB and reference.data.startswith(b"\x89PNG")
    assert bot.jobs()[-1]["parent_id"] == bot.jobs()[0]["id"]


async def test_remix_of_a_members_link_preview(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """A member posts a link to a picture; Discord shows its preview as an embed."""
    data = picture((90, 30, 160))
    url = emulator.host(data)
    message = fake.add_member_message(fake.bob, url)
    message["embeds"] = [
        {"type": "image", "url": url, "thumbnail": {"url": url, "width": 64, "height": 64}}
    ]
    menu = await fake.invoke_message_command("Remix with lemonbot", message, user=fake.alice)
    kind, _ = await bot.race(fake.wait_for_callback(menu))
    assert kind == MODAL
    submitted = await fake.submit_modal(menu, {"prompt": "as a mosaic"})
    await bot.race(wait_for_outcome(fake, submitted))
    [create] = [r for r in api_calls(emulator) if r.files]
    assert [f.data for f in create.files] == [data]
