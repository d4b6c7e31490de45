"""Kept copies of reference images: small, WebP, transparency kept, nothing for junk."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.jobs.kept import KEPT_SIDE, small_copy
from bot.store import InputImage


def encoded(picture: Image.Image, kind: str, **options) -> bytes:
    out = io.BytesIO()
    picture.save(out, kind, **options)
    return out.getvalue()


@pytest.mark.parametrize(
    ("picture", "kind", "size", "mode"),
    [
        (Image.new("RGB", (3000, 1000), (9, 99, 199)), "JPEG", (KEPT_SIDE, 341), "RGB"),
        (Image.new("RGBA", (500, 2048), (9, 99, 199, 10)), "PNG", (250, KEPT_SIDE), "RGBA"),
        (Image.new("P", (300, 200)), "GIF", (300, 200), "RGB"),  # small: left its size
    ],
)
def test_a_kept_copy_is_a_small_webp(picture, kind, size, mode):
    """The longer side is at most KEPT_SIDE, ratio kept; transparency survives."""
    kept = small_copy(InputImage(1, "reference-2.x", "image/x", encoded(picture, kind)))
    assert (kept.position, kept.filename) == (1, "reference-2.webp")
    assert kept.content_type == "image/webp"
    assert kept.data is not None
    with Image.open(io.BytesIO(kept.data)) as copy:
        assert (copy.format, copy.size, copy.mode) == ("WEBP", size, mode)


def test_bytes_that_do_not_decode_keep_nothing():
    """A truncated image keeps no bytes, like one retention removed; it raises nothing."""
    whole = encoded(Image.new("RGB", (800, 800), (1, 2, 3)), "PNG")
    kept = small_copy(InputImage(0, "reference-1.png", "image/png", whole[:60]))
    assert (kept.data, kept.filename) == (None, "reference-1.png")
