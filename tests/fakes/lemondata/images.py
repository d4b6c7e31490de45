"""Image bytes the emulator serves: small valid PNGs, optionally padded to a size."""

from __future__ import annotations

import struct
import zlib

from tests.fakes.lemondata.contract import IMAGE_SIDE, PNG_SIGNATURE


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def make_png(
    rgb: tuple[int, int, int], *, side: int = IMAGE_SIDE, size_bytes: int | None = None
) -> bytes:
    """Return a valid solid-colour RGB PNG, padded with a ``tEXt`` chunk to ``size_bytes``.

    Padding needs at least 20 spare bytes; a smaller target yields a slightly larger file.
    """
    row = b"\x00" + bytes(rgb) * side
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    png = (
        PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(row * side))
    )
    end = _png_chunk(b"IEND", b"")
    if size_bytes is not None and size_bytes > len(png) + len(end):
        keyword = b"Comment\x00"
        spare = size_bytes - len(png) - len(end) - 12  # 12 = length + type + CRC
        png += _png_chunk(b"tEXt", keyword + b"." * max(0, spare - len(keyword)))
    return png + end
