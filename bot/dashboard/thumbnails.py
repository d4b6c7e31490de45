"""Thumbnails: WebP, about 384 px on the long side, decoded within Pillow's bomb limit."""

from __future__ import annotations

import io
import warnings

from PIL import Image

from bot.errors import InvalidRequest

THUMBNAIL_PX = 384
# Decoding stops (Image.DecompressionBombError) beyond this many pixels: Pillow's own
# default limit made an error instead of a warning, so a huge image never decodes.
MAX_PIXELS = 89_478_485


class BadImage(InvalidRequest):
    """The bytes are not an image Pillow may decode within its bounds (``reason``: why)."""

    def __init__(self, reason: str) -> None:
        super().__init__("web.bad_image")
        self.reason = reason


def make_thumbnail(data: bytes, size: int = THUMBNAIL_PX) -> bytes:
    """Return a WebP thumbnail of ``data`` (an image), at most ``size`` px each side.

    Runs in a worker thread (CPU work). Raises BadImage for anything that is not an
    image, is truncated, or has more pixels than :data:`MAX_PIXELS`.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                width, height = opened.size
                if width * height > MAX_PIXELS:
                    raise BadImage(f"{width}x{height} is over the decoding limit")
                opened.draft("RGB", (size, size))  # JPEG: decode at a reduced scale
                image = opened.convert("RGBA" if "A" in opened.getbands() else "RGB")
        image.thumbnail((size, size))
        out = io.BytesIO()
        image.save(out, "WEBP", quality=80, method=4)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        if isinstance(exc, BadImage):
            raise
        raise BadImage(str(exc)) from None
    except Image.DecompressionBombWarning as exc:
        raise BadImage(str(exc)) from None
    return out.getvalue()
