"""Image bytes: recognise a format from its magic bytes, and decode inline base64."""

from __future__ import annotations

import base64
import binascii

from bot.lemondata.errors import MalformedResponseError

# Magic bytes of the formats Discord displays, and the bot accepts as input.
SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/gif": "gif"}


def image_type(data: bytes) -> str | None:
    """Return the MIME type of PNG, JPEG, WebP or GIF bytes, or None for anything else."""
    for magic, mime in SIGNATURES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def sniff_content_type(data: bytes) -> str:
    """Return the image MIME type from magic bytes (PNG when unknown)."""
    return image_type(data) or "image/png"


def decode_b64_image(text: str) -> bytes:
    """Decode an inline ``b64_json`` image; raise MalformedResponseError when unreadable.

    Line breaks and other white space (MIME-style base64) are ignored.
    """
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise MalformedResponseError("the image service sent unreadable image data") from None
