"""What is kept of a job's reference images once the job is over: a small copy.

A reference image is kept whole (up to ``MAX_INPUT_IMAGE_MB`` each) while its job may
still send it: until the create has been accepted, and across a restart before it.
Once the job's outcome is delivered nothing sends those bytes again (a Reroll, Edit or
Remix is a new job with references of its own), so they are replaced by a copy of at
most :data:`KEPT_SIDE` pixels a side, WebP: enough for moderators' review and for a
Reroll of the job, a small fraction of the size. Log retention removes that copy with
the prompt.

Decoding a large image takes a while, so copies are made off the event loop, one at a
time (a 40-megapixel PNG alone decodes to 160 MB).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

from bot.store import InputImage

log = logging.getLogger(__name__)

KEPT_SIDE = 1024  # pixels, the longer side of a kept copy
KEPT_QUALITY = 80  # WebP quality of a kept copy
KEPT_TYPE = "image/webp"
_POOL = ThreadPoolExecutor(1, thread_name_prefix="kept-copies")


def small_copy(image: InputImage) -> InputImage:
    """Return ``image`` as its kept copy: at most ``KEPT_SIDE`` px a side, WebP.

    An image that cannot be decoded (or would decode past Pillow's bound on pixels)
    keeps no bytes at all: ``data`` None, as after retention.
    """
    if image.data is None:
        return image
    try:
        with Image.open(io.BytesIO(image.data)) as picture:
            picture.draft(None, (KEPT_SIDE, KEPT_SIDE))  # a JPEG decodes at a fraction
            picture.thumbnail((KEPT_SIDE, KEPT_SIDE))  # the first frame of an animation
            mode = "RGBA" if picture.has_transparency_data or "A" in picture.mode else "RGB"
            out = io.BytesIO()
            picture.convert(mode).save(out, "WEBP", quality=KEPT_QUALITY)
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        log.warning("reference image %s: no copy kept (%s)", image.position + 1, exc)
        return InputImage(image.position, image.filename, image.content_type, None)
    name = f"reference-{image.position + 1}.webp"
    return InputImage(image.position, name, KEPT_TYPE, out.getvalue())


async def small_copies(images: Sequence[InputImage]) -> list[InputImage]:
    """Return the kept copy of each image, made in a thread of their own, one at a time."""
    loop = asyncio.get_running_loop()
    return [await loop.run_in_executor(_POOL, small_copy, image) for image in images]
