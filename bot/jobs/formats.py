"""The output format the bot picks when a member picks none: PNG if it fits, else WebP.

A result's images travel as attachments only while each is within the upload limit of
the place it is posted in, and one message carries them all only while they are within
Discord's request limit together (:mod:`bot.ui.parts`); past the first they become
links. So before the request, for a model that takes ``output_format``, the bot
estimates how large the images asked will be as PNG, from their pixels and the bytes
per pixel learned from the images delivered so far (per model and format, like the
completion times: :mod:`bot.scheduler`), and asks for PNG when the count asked is
expected to fit one message as attachments, WebP otherwise.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.catalog import ImagineOptions, geometry_for
from bot.catalog.specs import ModelSpec
from bot.lemondata.images import image_type
from bot.store import Job, StoredImage
from bot.store.state import StateStore
from bot.ui.parts import REQUEST_LIMIT, REQUEST_OVERHEAD

# Bytes per pixel before anything is learned: a detailed PNG from an image model is
# about 1.5-2 bytes per pixel, the same picture as WebP or JPEG about a fifth of that.
PRIOR_BYTES_PER_PIXEL = {"png": 2.0, "webp": 0.4, "jpeg": 0.4}
# Pixels of a picture whose size the request does not spell out, by resolution.
PIXELS_BY_RESOLUTION = {None: 1024 * 1024, "1k": 1024 * 1024, "2k": 2048 * 2048, "4k": 4096 * 4096}
KEPT_SAMPLES = 32  # observations kept per model and format
SAFETY = 0.9  # an estimate must fit within this share of the limit
STATE_KEY = "output_sizes"  # the bot_state key the samples are kept under
FORMAT_OF_TYPE = {"image/png": "png", "image/webp": "webp", "image/jpeg": "jpeg"}


def pixels_of(body: Mapping[str, Any]) -> int:
    """Return how many pixels one image of a request body will have (estimated).

    ``size`` when it spells them out (``WIDTHxHEIGHT``), else by ``resolution``.
    """
    width, _, height = str(body.get("size") or "").partition("x")
    if width.isdigit() and height.isdigit():
        return int(width) * int(height)
    resolution = body.get("resolution")
    return PIXELS_BY_RESOLUTION.get(resolution, PIXELS_BY_RESOLUTION[None])


def _shape(options: ImagineOptions, spec: ModelSpec) -> dict[str, Any]:
    return {"resolution": options.resolution, **geometry_for(options, spec.geometry)}


@dataclass
class OutputSizes:
    """Bytes per pixel of delivered images, per model and format, and the pick they make.

    With ``state`` (the store's ``bot_state``), :meth:`keep` and :meth:`restore` keep the
    samples across restarts, like the completion times.
    """

    state: StateStore | None = None
    _samples: dict[tuple[str, str], deque[float]] = field(default_factory=dict)

    async def keep(self) -> None:
        """Store the samples (after each delivered job, in the background)."""
        if self.state is not None:
            await self.state.set(STATE_KEY, self.dump())

    async def restore(self) -> int:
        """Load the samples kept before a restart; return how many."""
        return self.load(await self.state.get(STATE_KEY)) if self.state is not None else 0

    def dump(self) -> str:
        """Return the samples as JSON (kept in ``bot_state`` so a restart keeps them)."""
        return json.dumps([[m, f, list(v)] for (m, f), v in self._samples.items()])

    def load(self, text: str | None) -> int:
        """Take the samples of :meth:`dump` (malformed text: none); return how many."""
        try:
            rows = json.loads(text) if text else []
            for model, fmt, values in rows:
                kept = deque((float(v) for v in values), maxlen=KEPT_SAMPLES)
                self._samples[(str(model), str(fmt))] = kept
        except (ValueError, TypeError):
            self._samples.clear()
        return sum(len(v) for v in self._samples.values())

    def bytes_per_pixel(self, model: str, fmt: str) -> float:
        """Return the estimate for ``model`` in ``fmt``: the largest recent one, or the prior."""
        samples = self._samples.get((model, fmt))
        if not samples:
            return PRIOR_BYTES_PER_PIXEL.get(fmt, PRIOR_BYTES_PER_PIXEL["png"])
        return max(samples)

    def learn(self, job: Job, images: Sequence[StoredImage]) -> None:
        """Record the sizes of a succeeded job's images (by the format they arrived in).

        An image that exceeded the upload limit was not kept (a link instead): it counts
        as one byte over the limit, in the format asked (PNG when none was), so the next
        request that size asks for a smaller format.
        """
        pixels = pixels_of(job.request)
        asked = str(job.request.get("output_format") or "png")
        for image in images:
            if image.data:
                size = len(image.data)
                fmt = FORMAT_OF_TYPE.get(image_type(image.data) or image.content_type)
            elif image.url:
                size, fmt = job.upload_limit + 1, asked
            else:
                continue
            if fmt is None:
                continue
            samples = self._samples.setdefault((job.model, fmt), deque(maxlen=KEPT_SAMPLES))
            samples.append(size / pixels)

    def expected_bytes(self, options: ImagineOptions, spec: ModelSpec, fmt: str) -> int:
        """Return the expected size of one image of ``options`` in ``fmt``."""
        pixels = pixels_of(_shape(options, spec))
        return round(pixels * self.bytes_per_pixel(options.model, fmt))

    def pick(self, options: ImagineOptions, spec: ModelSpec, upload_limit: int) -> str | None:
        """Return the format to ask for: PNG when the images fit one message, else WebP.

        None when the model takes no output format (or offers no choice).
        """
        formats = spec.output_formats
        if not spec.takes("output_format") or "png" not in formats:
            return None
        each = self.expected_bytes(options, spec, "png")
        together = each * max(1, options.count)
        if (
            each <= upload_limit * SAFETY
            and together <= (REQUEST_LIMIT - REQUEST_OVERHEAD) * SAFETY
        ):
            return "png"
        smaller = [f for f in ("webp", "jpeg") if f in formats]
        if options.background == "transparent":
            smaller = [f for f in smaller if f == "webp"]
        return smaller[0] if smaller else "png"
