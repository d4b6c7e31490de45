"""Reference images through the real bot: what is refused at once, what is kept after."""

from __future__ import annotations

import asyncio
import io
import random

import pytest
from PIL import Image

from bot.jobs.kept import KEPT_SIDE
from bot.store import JobFilter
from tests.fakes.lemondata import make_png

FLASH = "gemini-2.5-flash-image"


def photo(width: int, height: int) -> bytes:
    """Return a PNG of noise (it compresses as badly as a photo)."""
    noise = random.Random(7).randbytes(width * height * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (width, height), noise).save(out, "PNG")
    return out.getvalue()


async def test_a_finished_job_keeps_a_small_copy_and_reroll_sends_it(env):
    """Delivered: the reference kept is a <= 1024 px WebP; a Reroll sends that copy."""
    data = photo(1600, 1200)
    attachment = env.fake.upload_attachment("cat.png", data, "image/png")
    interaction = await env.imagine(prompt="a painting", model=FLASH, image=attachment)
    await env.fake.wait_for_edits(interaction)  # deferred: the card follows the download
    job = await env.settled((await env.job_for(interaction)).id)
    assert env.lemondata.generations[0].input_bytes == [data]  # whole while the job needed it

    (kept,) = await env.db.jobs.inputs(job.id)
    assert (kept.filename, kept.content_type) == ("reference-1.webp", "image/webp")
    assert kept.data is not None and len(kept.data) < len(data) // 10
    with Image.open(io.BytesIO(kept.data)) as copy:
        assert (copy.format, copy.size) == ("WEBP", (KEPT_SIDE, KEPT_SIDE * 3 // 4))

    press = env.click(interaction, "Reroll", env.fake.alice)
    await env.fake.wait_for_edits(press)
    (reroll,) = [j for j in await env.db.jobs.search(JobFilter(), limit=10) if j.kind == "reroll"]
    reroll = await env.settled(reroll.id)
    assert (reroll.state, reroll.parent_id, reroll.input_count) == ("succeeded", job.id, 1)
    assert env.lemondata.generations[1].input_bytes == [kept.data]
    (again,) = await env.db.jobs.inputs(reroll.id)
    assert again.content_type == "image/webp"


EPHEMERAL = 64


@pytest.mark.parametrize(
    ("filename", "data", "content_type", "refusal"),
    [
        (
            "notes.txt",
            b"a lemon, but a text file",
            "text/plain; charset=utf-8",
            "`notes.txt` is `text/plain`, not an image: attach a PNG, JPEG, WebP or GIF.",
        ),
        (
            "big.png",
            make_png((1, 2, 3), size_bytes=2 * 1024 * 1024),
            "image/png",
            "`big.png` is 2.0 MB; reference images can be at most 1.0 MB.",
        ),
    ],
)
async def test_a_file_declared_no_image_or_too_large_is_refused_in_the_first_answer(
    running_bot, filename, data, content_type, refusal
):
    """The first answer is the private refusal: nothing public, reserved, fetched or sent."""
    async with running_bot(max_input_image_mb=1.0) as env:
        attachment = env.fake.upload_attachment(filename, data, content_type)
        interaction = await env.imagine(prompt="a lemon", model=FLASH, image=attachment)
        [(kind, answer)] = interaction.callbacks
        assert kind == 4  # not 5, a "thinking..." the whole channel sees
        assert (answer["flags"] & EPHEMERAL, answer["content"]) == (EPHEMERAL, refusal)
        assert await env.db.jobs.search(JobFilter()) == []
        status = await env.bot.quota.status(env.fake.guild_id, env.fake.alice.id, [])
        assert status.used == 0
        assert env.fake.cdn_fetches == []  # not downloaded
        assert [r for r in env.lemondata.requests if r.method == "POST"] == []


async def test_a_dropped_job_keeps_only_the_small_copy(env):
    """A card Discord refused (the job is dropped, refunded): its reference is kept small too."""
    env.fake.fail_next("PATCH", r"/webhooks/.*/messages/@original", 404, code=10015)
    data = photo(1200, 900)
    attachment = env.fake.upload_attachment("cat.png", data, "image/png")
    interaction = await env.imagine(prompt="a painting", model=FLASH, image=attachment)
    job = await env.wait_for_job(1, lambda j: j.terminal)
    assert (job.state, job.quota_state, interaction.id) == (
        "cancelled",
        "released",
        job.interaction_id,
    )
    (kept,) = await env.db.jobs.inputs(job.id)
    assert kept.content_type == "image/webp" and kept.data is not None
    assert len(kept.data) < len(data) // 5  # noise: the worst case for WebP
    assert [r for r in env.lemondata.requests if r.method == "POST"] == []


async def test_a_members_second_request_waits_for_the_first_and_a_third_is_refused(env):
    """A slow CDN: one reading at a time per member, one waits, the next is told privately."""
    env.fake.cdn_gate = asyncio.Event()
    first, second, third = (
        env.fake.upload_attachment(f"{name}.png", make_png((n, n, n)), "image/png")
        for n, name in enumerate(("first", "second", "third"), start=1)
    )
    one = await env.imagine(prompt="one", model=FLASH, image=first)
    await env.fake.wait_for(lambda: len(env.fake.cdn_fetches) == 1)
    two = await env.imagine(prompt="two", model=FLASH, image=second)  # deferred, waiting
    three = await env.imagine(prompt="three", model=FLASH, image=third)
    [(kind, answer)] = three.callbacks
    assert (kind, answer["flags"] & EPHEMERAL) == (4, EPHEMERAL)  # no public "thinking..."
    assert "still being read" in answer["content"]
    bob = await env.imagine(user=env.fake.bob, prompt="bob", model=FLASH, image=third)
    await env.fake.wait_for(lambda: len(env.fake.cdn_fetches) == 2)  # another member goes
    assert [aid for aid, _ in env.fake.cdn_fetches] == [int(first["id"]), int(third["id"])]
    env.fake.cdn_gate.set()
    for interaction in (one, two, bob):
        await env.fake.wait_for_edits(interaction)
        assert (await env.settled((await env.job_for(interaction)).id)).state == "succeeded"
    assert [aid for aid, _ in env.fake.cdn_fetches][2:] == [int(second["id"])]
    assert len(env.lemondata.generations) == 3
