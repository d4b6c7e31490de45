"""The format the bot picks (PNG if it fits as an attachment, else WebP), and refusal hints."""

from __future__ import annotations

import json

from bot.catalog import ImagineOptions, spec_of
from bot.i18n import CHINESE, ENGLISH
from bot.jobs.failures import hint_of
from bot.jobs.formats import OutputSizes, pixels_of
from bot.lemondata import BadRequestError, ContentPolicyError
from bot.store import StoredImage
from bot.ui.cards import failure_text
from tests.factories import job

MIB = 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n"
WEBP_HEAD = b"RIFF\x00\x00\x00\x00WEBP"


def gpt(**kw) -> ImagineOptions:
    return ImagineOptions(prompt="a lemon", model="gpt-image-2", **kw)


def test_pixels_come_from_the_size_or_the_resolution():
    assert pixels_of({"size": "1536x1024"}) == 1536 * 1024
    assert pixels_of({"aspect_ratio": "16:9", "resolution": "4k"}) == 4096 * 4096
    assert pixels_of({}) == 1024 * 1024


def test_png_when_it_fits_webp_when_it_would_not():
    sizes, spec = OutputSizes(), spec_of("gpt-image-2")
    assert sizes.pick(gpt(), spec, 10 * MIB) == "png"  # 1024x1024 at 2 bytes a pixel: 2 MiB
    assert sizes.pick(gpt(resolution="4k"), spec, 10 * MIB) == "webp"  # 8.3 MP: 16 MiB
    assert sizes.pick(gpt(resolution="4k"), spec, 50 * MIB) == "png"  # a boosted server
    # Four of 4 MiB each fit the file limit, not one message (25 MiB): WebP.
    assert sizes.pick(gpt(resolution="2k"), spec, 10 * MIB) == "png"
    assert sizes.pick(gpt(resolution="2k", count=4), spec, 10 * MIB) == "webp"
    assert sizes.pick(ImagineOptions("a", "dall-e-3"), spec_of("dall-e-3"), 10 * MIB) is None


def test_the_estimate_is_learned_from_delivered_images():
    sizes, spec = OutputSizes(), spec_of("gpt-image-2")
    made = job(model="gpt-image-2", request={"size": "1024x1024"})
    big = PNG + b"\0" * (9 * MIB)  # 9 MiB for a megapixel: these PNGs are heavy
    sizes.learn(made, [StoredImage(0, None, "image/png", big)])
    assert sizes.bytes_per_pixel("gpt-image-2", "png") > 8.9
    assert sizes.pick(gpt(), spec, 10 * MIB) == "webp"  # the next one would not fit as PNG
    webp = WEBP_HEAD + b"\0" * 100_000
    sizes.learn(made, [StoredImage(0, None, "image/webp", webp)])
    assert sizes.bytes_per_pixel("gpt-image-2", "webp") < 0.2
    assert sizes.bytes_per_pixel("flux-pro", "png") == 2.0  # per model: the prior still


def test_an_image_too_large_to_keep_counts_as_over_the_limit():
    sizes, spec = OutputSizes(), spec_of("gpt-image-2")
    made = job(model="gpt-image-2", request={"size": "1024x1024"}, upload_limit=10 * MIB)
    sizes.learn(made, [StoredImage(0, "https://cdn/x.png", "image/png", None)])  # a link
    assert sizes.bytes_per_pixel("gpt-image-2", "png") * 1024 * 1024 > 10 * MIB
    assert sizes.pick(gpt(), spec, 10 * MIB) == "webp"


def test_a_transparent_background_is_never_given_jpeg():
    sizes, spec = OutputSizes(), spec_of("flux-pro")
    huge = ImagineOptions("a", "flux-pro", resolution="4k", background="transparent")
    assert sizes.pick(huge, spec, 1 * MIB) == "webp"


def refused(**hints) -> BadRequestError:
    return BadRequestError("Invalid aspect_ratio for midjourney", status=400, hints=hints)


def test_a_gateway_refusal_becomes_one_sentence_in_the_members_language():
    error = refused(param="aspect_ratio", allowed_aspect_ratios=["1:1", "2:3", "3:2"])
    hint = hint_of(error)
    assert hint is not None and json.loads(hint)["values"] == ["1:1", "2:3", "3:2"]
    failed = job(
        model="midjourney",
        state="failed",
        error_code="bad_request",
        error_message=error.message,
        error_hint=hint,
        quota_state="released",
    )
    english = failure_text(failed, ENGLISH)
    assert english.startswith("`midjourney` takes `1:1`, `2:3` or `3:2`; try one of those.")
    assert english.endswith("It did not count against your quota.")
    assert "`2:3`" in failure_text(failed, CHINESE) and "try" not in failure_text(failed, CHINESE)


def test_each_kind_of_hint():
    said = {
        "model": hint_of(refused(did_you_mean="flux-pro")),
        "prompt": hint_of(refused(prompt_max_characters=1500)),
        "parameters": hint_of(refused(param="seed", supported_parameters=["prompt", "n", "size"])),
        "resolutions": hint_of(refused(allowed_resolutions=["1k", "2k"])),
    }
    texts = {k: failure_text(job(model="m", state="failed", error_hint=v)) for k, v in said.items()}
    assert "did you mean `flux-pro`?" in texts["model"]
    assert "1500 characters" in texts["prompt"] or "1,500 characters" in texts["prompt"]
    assert texts["parameters"].startswith("`m` doesn't take `seed`")
    assert "`1k` or `2k`" in texts["resolutions"]
    assert hint_of(refused()) is None  # nothing to name: the usual text
    assert hint_of(ContentPolicyError("safety system", status=400, hints={"param": "p"})) is None
    broken = job(model="m", state="failed", error_code="bad_request", error_hint="{not json")
    assert failure_text(broken) == failure_text(
        job(model="m", state="failed", error_code="bad_request")
    )


async def test_learned_sizes_survive_a_restart(db):
    """The samples are kept in bot_state, like the completion times are learned again."""
    sizes = OutputSizes(db.state)
    made = job(model="gpt-image-2", request={"size": "1024x1024"})
    sizes.learn(made, [StoredImage(0, None, "image/png", PNG + b"\0" * (9 * MIB))])
    await sizes.keep()
    again = OutputSizes(db.state)
    assert await again.restore() == 1
    assert again.bytes_per_pixel("gpt-image-2", "png") == sizes.bytes_per_pixel(
        "gpt-image-2", "png"
    )
    assert again.pick(gpt(), spec_of("gpt-image-2"), 10 * MIB) == "webp"
    assert OutputSizes().load("{not json") == 0
