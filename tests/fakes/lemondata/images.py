"""Image bytes: the PNG, JPEG and WebP images the emulator serves, and sniffing inputs.

PNGs are written by hand; JPEG and WebP are encoded by Pillow (a solid-colour image,
cached per colour). All three can be padded to an exact size cheaply: PNG with
``tEXt`` chunks, JPEG with ``COM`` segments, WebP with a ``JUNK`` chunk (the file is
then in the extended format, with a ``VP8X`` header); past 64 KiB the padding is one
part built once per size plus a small one, so serving many 8 MiB images costs a write
each.
"""

from __future__ import annotations

import base64
import functools
import io
import struct
import zlib

from PIL import Image

from tests.fakes.lemondata.contract import IMAGE_SIDE, PNG_SIGNATURE

JPEG_SIGNATURE = b"\xff\xd8\xff"
WEBP_MAGIC = b"WEBP"
IMAGE_CONTENT_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
JPEG_QUALITY = 90
WEBP_QUALITY = 80
GIF_SIGNATURES = (b"GIF87a", b"GIF89a")
NOT_AN_IMAGE = b"<!DOCTYPE html><html><body>Access denied: this is not an image</body></html>\n"
MIME_LINE_CHARS = 76

_PNG_END = struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND") & 0xFFFFFFFF)
_PADDING_KEYWORD = b"Comment\x00"
_PADDING_OVERHEAD = 12  # a chunk's length, type and CRC
_SHARED_PADDING_FROM = 64 * 1024  # pad bigger images with one shared chunk + a small one
_HEAD_ALLOWANCE = 4096  # room left beside the shared chunk: head, small chunk, IEND
_JPEG_COMMENT = b"\xff\xfe"  # a COM marker: its 2-byte length counts itself
_JPEG_SEGMENT_MAX = 4 + 0xFFFF - 2  # marker, length, and at most 65,533 bytes of data
_JPEG_SEGMENT_MIN = 4
_JPEG_APP0 = b"\xff\xe0"
_WEBP_PADDING = b"JUNK"
_RIFF_CHUNK_HEAD = 8  # FourCC and a little-endian 32-bit size
_WEBP_VP8X_FLAGS = 0  # no alpha, ICC, EXIF, XMP nor animation


def sniff_image(data: bytes) -> str | None:
    """Return the MIME type of PNG, JPEG, GIF or WebP bytes (by magic number), else None."""
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    if data.startswith(JPEG_SIGNATURE):
        return "image/jpeg"
    if data.startswith(GIF_SIGNATURES):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == WEBP_MAGIC:
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


# --------------------------------------------------------------------------- JPEG, WebP


@functools.lru_cache(maxsize=4096)
def _encoded(rgb: tuple[int, int, int], side: int, output_format: str) -> bytes:
    """A solid-colour image encoded by Pillow (``jpeg`` or ``webp``)."""
    buffer = io.BytesIO()
    image = Image.new("RGB", (side, side), rgb)
    if output_format == "jpeg":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY)
    else:
        image.save(buffer, "WEBP", quality=WEBP_QUALITY)
    return buffer.getvalue()


def _jpeg_segments(total: int) -> bytes:
    """``COM`` segments of exactly ``total`` bytes (at least :data:`_JPEG_SEGMENT_MIN`)."""
    sizes = [_JPEG_SEGMENT_MAX] * (total // _JPEG_SEGMENT_MAX)
    rest = total % _JPEG_SEGMENT_MAX
    if 0 < rest < _JPEG_SEGMENT_MIN:  # too small for a segment: borrow from a full one
        sizes[-1] -= _JPEG_SEGMENT_MIN
        rest += _JPEG_SEGMENT_MIN
    if rest:
        sizes.append(rest)
    return b"".join(
        _JPEG_COMMENT + struct.pack(">H", size - 2) + b"." * (size - 4) for size in sizes
    )


@functools.lru_cache(maxsize=4)
def _shared_jpeg_padding(total: int) -> bytes:
    return _jpeg_segments(total)


def jpeg_parts(
    rgb: tuple[int, int, int], *, side: int = IMAGE_SIDE, size_bytes: int | None = None
) -> list[bytes]:
    """Return a solid-colour JPEG as parts, padded with ``COM`` segments to ``size_bytes``.

    The comments follow the ``APP0`` (JFIF) segment. Padding needs at least 4 spare
    bytes; a smaller target yields a slightly larger file.
    """
    data = _encoded(rgb, side, "jpeg")
    if size_bytes is None or size_bytes <= len(data):
        return [data]
    cut = 2  # after SOI, and after APP0 when it comes first
    if data[cut : cut + 2] == _JPEG_APP0:
        cut += 2 + struct.unpack(">H", data[cut + 2 : cut + 4])[0]
    head, tail = data[:cut], data[cut:]
    spare = max(size_bytes - len(data), _JPEG_SEGMENT_MIN)
    if spare < _SHARED_PADDING_FROM or len(data) > _HEAD_ALLOWANCE - 64:
        return [head, _jpeg_segments(spare), tail]
    shared = _shared_jpeg_padding(size_bytes - _HEAD_ALLOWANCE)
    return [head, shared, _jpeg_segments(spare - len(shared)), tail]


def _riff_chunk(kind: bytes, data: bytes) -> bytes:
    return kind + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) % 2)


@functools.lru_cache(maxsize=4)
def _shared_webp_padding(total: int) -> bytes:
    """A ``JUNK`` chunk of exactly ``total`` bytes (an even number, at least 8)."""
    return _riff_chunk(_WEBP_PADDING, b"." * (total - _RIFF_CHUNK_HEAD))


def webp_parts(
    rgb: tuple[int, int, int], *, side: int = IMAGE_SIDE, size_bytes: int | None = None
) -> list[bytes]:
    """Return a solid-colour lossy WebP as parts, padded with ``JUNK`` to ``size_bytes``.

    A padded file is in the extended format (``VP8X``, then ``VP8``, then the unknown
    chunk, which decoders skip). RIFF chunks are even-sized, so an odd target is
    rounded up; padding needs at least 26 spare bytes (a ``VP8X`` and an empty chunk).
    """
    simple = _encoded(rgb, side, "webp")
    if size_bytes is None or size_bytes <= len(simple):
        return [simple]
    canvas = struct.pack("<I", side - 1)[:3] * 2
    vp8x = _riff_chunk(b"VP8X", bytes([_WEBP_VP8X_FLAGS, 0, 0, 0]) + canvas)
    image = simple[12:]  # the VP8 chunk, after "RIFF", the size and "WEBP"
    base = 12 + len(vp8x) + len(image)
    target = max(size_bytes + size_bytes % 2, base + _RIFF_CHUNK_HEAD)
    spare = target - base
    if spare < _SHARED_PADDING_FROM or base > _HEAD_ALLOWANCE - 64:
        padding = [_riff_chunk(_WEBP_PADDING, b"." * (spare - _RIFF_CHUNK_HEAD))]
    else:
        shared = _shared_webp_padding(target - _HEAD_ALLOWANCE)
        rest = spare - len(shared)
        padding = [shared, _riff_chunk(_WEBP_PADDING, b"." * (rest - _RIFF_CHUNK_HEAD))]
    header = b"RIFF" + struct.pack("<I", target - 8) + WEBP_MAGIC
    return [header, vp8x, image, *padding]


def image_parts(
    rgb: tuple[int, int, int],
    output_format: str = "png",
    *,
    side: int = IMAGE_SIDE,
    size_bytes: int | None = None,
) -> list[bytes]:
    """Return a solid-colour image in ``output_format`` (png, jpeg, webp) as parts."""
    if output_format == "jpeg":
        return jpeg_parts(rgb, side=side, size_bytes=size_bytes)
    if output_format == "webp":
        return webp_parts(rgb, side=side, size_bytes=size_bytes)
    return png_parts(rgb, side=side, size_bytes=size_bytes)


def make_image(
    rgb: tuple[int, int, int],
    output_format: str = "png",
    *,
    side: int = IMAGE_SIDE,
    size_bytes: int | None = None,
) -> bytes:
    """Return :func:`image_parts` joined: a valid image of that format (and size)."""
    return b"".join(image_parts(rgb, output_format, side=side, size_bytes=size_bytes))


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
