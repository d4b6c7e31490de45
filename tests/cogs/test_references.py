"""Reference images through the real bot: what is kept of them once their job is over."""

from __future__ import annotations

import io
import random

from PIL import Image

from bot.jobs.kept import KEPT_SIDE
from bot.store import JobFilter

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
