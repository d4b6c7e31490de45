"""Image bytes: the PNGs the emulator serves, and sniffing the bytes a client sends."""

from __future__ import annotations

import base64
import functools
import struct
import zlib

from tests.fakes.lemondata.contract import IMAGE_SIDE, PNG_SIGNATURE

JPEG_SIGNATURE = b"\xff\xd8\xff"
GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
NOT_AN_IMAGE = b"<!DOCTYPE html><html><body>Access denied: this is not an image</body></html>\n"
MIME_LINE_CHARS = 76

_PNG_END = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND") & 0xFFFFFFFF)
_PADDING_KEYWORD = b"Comment\x00"
_PADDING_OVERHEAD = 12  # a chunk's length, type and CRC
_SHARED_PADDING_FROM = 64 * 1024  # pad bigger images with one shared chunk + a small one
_HEAD_ALLOWANCE = 4096  # room left beside the shared chunk: head, small chunk, IEND


def sniff_image(data: bytes) -> str | None:
    """Return the MIME type of PNG, JPEG, GIF or WebP bytes (by magic number), else None."""
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    if data.startswith(JPEG_SIGNATURE):
        return "image/jpeg"
    if data.startswith(GIF_SIGNATURES):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


@functools.lru_cache(maxsize=4096)
def _png_head(rgb: tuple[int, int, int], side: int) -> bytes:
    """Signature, IHDR and IDAT of a solid-colour image (everything but IEND)."""
    row = b"\x00" + bytes(rgb) * side
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(row * side))
    )


@functools.lru_cache(maxsize=4)
def _padding_chunk(spare: int) -> bytes:
    """A ``tEXt`` chunk of exactly ``spare`` bytes (or the smallest one); cached by size."""
    filler = max(0, spare - _PADDING_OVERHEAD - len(_PADDING_KEYWORD))
    return _png_chunk(b"tEXt", _PADDING_KEYWORD + b"." * filler)


def _small_padding(spare: int) -> bytes:
    return _png_chunk(b"tEXt", _PADDING_KEYWORD + b"." * (spare - _PADDING_OVERHEAD - 8))


def png_parts(
    rgb: tuple[int, int, int], *, side: int = IMAGE_SIDE, size_bytes: int | None = None
) -> list[bytes]:
    """Return :func:`make_png`'s bytes as a few parts, to write without joining them.

    Past 64 KiB the padding is one big ``tEXt`` chunk that depends only on the size
    (built once per size) and a small one: serving many 8 MiB images costs a write
    each, not a CRC over 8 MiB each.
    """
    head = _png_head(rgb, side)
    if size_bytes is None or size_bytes <= len(head) + len(_PNG_END):
        return [head, _PNG_END]
    spare = size_bytes - len(head) - len(_PNG_END)
    if spare < _SHARED_PADDING_FROM or len(head) > _HEAD_ALLOWANCE - 64:
        return [head, _padding_chunk(spare), _PNG_END]
    # One big chunk that depends only on size_bytes (the head's length varies with the
    # colour), and a small one for the rest.
    shared = _padding_chunk(size_bytes - _HEAD_ALLOWANCE)
    return [head, shared, _small_padding(spare - len(shared)), _PNG_END]


def make_png(
    rgb: tuple[int, int, int], *, side: int = IMAGE_SIDE, size_bytes: int | None = None
) -> bytes:
    """Return a valid solid-colour RGB PNG, padded with a ``tEXt`` chunk to ``size_bytes``.

    Padding needs at least 20 spare bytes; a smaller target yields a slightly larger file.
    """
    return b"".join(png_parts(rgb, side=side, size_bytes=size_bytes))


def b64_encode(data: bytes, *, line_breaks: bool = False) -> str:
    """Base64-encode ``data``; with ``line_breaks``, MIME style: 76-character CRLF lines."""
    text = base64.b64encode(data).decode("ascii")
    if not line_breaks:
        return text
    return "\r\n".join(
        text[start : start + MIME_LINE_CHARS] for start in range(0, len(text), MIME_LINE_CHARS)
    )


def decode_data_url(url: str) -> tuple[str, bytes] | None:
    """Return ``(media type, bytes)`` of a ``data:`` URL, or None when it is not one."""
    if url[:5].lower() != "data:":
        return None
    meta, comma, payload = url[5:].partition(",")
    if not comma:
        return None
    media_type, *params = meta.split(";")
    try:
        if "base64" in (p.strip().lower() for p in params):
            return media_type, base64.b64decode(payload, validate=False)
    except ValueError:
        return None
    return media_type, payload.encode()
