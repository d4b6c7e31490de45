"""Thumbnails: WebP about 384 px, and nothing decoded beyond Pillow's bounds."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from bot.dashboard.thumbnails import MAX_PIXELS, BadImage, make_thumbnail


def encoded(size: tuple[int, int], fmt: str = "PNG", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (255, 165, 0, 128) if mode == "RGBA" else "orange").save(out, fmt)
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize(("size", "fmt"), [((1024, 768), "PNG"), ((300, 900), "JPEG")])
def test_a_thumbnail_is_webp_within_384_px(size, fmt):
    thumb = make_thumbnail(encoded(size, fmt))
    with Image.open(io.BytesIO(thumb)) as image:
        assert image.format == "WEBP"
        assert max(image.size) <= 384
        assert image.size[0] / image.size[1] == pytest.approx(size[0] / size[1], rel=0.02)


def test_transparency_is_kept():
    thumb = make_thumbnail(encoded((500, 500), "PNG", "RGBA"))
    with Image.open(io.BytesIO(thumb)) as image:
        assert "A" in image.getbands()


def test_a_decompression_bomb_is_refused_before_decoding():
    side = int(MAX_PIXELS**0.5) + 100
    with pytest.raises(BadImage):
        make_thumbnail(png_header_only(side, side))
    with pytest.raises(BadImage):
        make_thumbnail(png_header_only(60_000, 60_000))


@pytest.mark.parametrize("data", [b"", b"not an image", encoded((64, 64))[:40]])
def test_garbage_and_truncated_images_are_refused(data):
    with pytest.raises(BadImage):
        make_thumbnail(data)
