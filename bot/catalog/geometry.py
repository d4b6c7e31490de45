"""The one place that translates a member's ``ratio`` into what each family takes.

* Gemini families and models without a family rule get ``aspect_ratio``;
* gpt-image-2 gets a ``WIDTHxHEIGHT`` ``size`` that satisfies its size contract and
  is as close to the ratio as that contract allows (see :func:`gpt_image_size`);
* DALL-E 3 gets the closest of its three sizes;
* prompt-only models get nothing, and refuse a ratio other than 1:1.
"""

from __future__ import annotations

import functools
import math

from bot.catalog.families import CONSERVATIVE, Geometry, family_of
from bot.catalog.options import DEFAULT_RATIO, ImagineOptions
from bot.errors import InvalidRequest

# gpt-image-2 size contract
GPT_EDGE_STEP = 16
GPT_MAX_EDGE = 3840
GPT_MAX_RATIO = 3.0
GPT_MIN_PIXELS = 655_360
GPT_MAX_PIXELS = 8_294_400
GPT_TARGET_PIXELS = {"1k": 1024 * 1024, "2k": 2048 * 2048, "4k": GPT_MAX_PIXELS}
# How much a 1 % miss in pixel count weighs against a 1 % miss in aspect ratio.
GPT_AREA_WEIGHT = 0.1

DALLE_SIZES = ((1024, 1024), (1792, 1024), (1024, 1792))


def _ratio_value(ratio: str) -> float:
    width, _, height = ratio.partition(":")
    return int(width) / int(height)


@functools.cache
def gpt_image_size(ratio: str, resolution: str | None = None) -> tuple[int, int]:
    """Return the gpt-image-2 ``(width, height)`` closest to ``ratio`` at ``resolution``.

    Candidates satisfy the whole size contract (multiples of 16, longest edge at most
    3840, long/short at most 3, pixels within bounds). Among them the winner minimises
    ``|log aspect error| + GPT_AREA_WEIGHT * |log pixel error|`` against the target
    pixel count of the resolution (1k by default), so the shape is kept first and the
    size second.
    """
    target_ratio = _ratio_value(ratio)
    target_pixels = GPT_TARGET_PIXELS[resolution or "1k"]
    best: tuple[float, int, int] | None = None
    for height in range(GPT_EDGE_STEP, GPT_MAX_EDGE + 1, GPT_EDGE_STEP):
        exact = height * target_ratio / GPT_EDGE_STEP
        for steps in {math.floor(exact), math.ceil(exact)}:
            width = steps * GPT_EDGE_STEP
            if not is_valid_gpt_size(width, height):
                continue
            score = abs(math.log(width / height / target_ratio)) + GPT_AREA_WEIGHT * abs(
                math.log(width * height / target_pixels)
            )
            if best is None or score < best[0]:
                best = (score, width, height)
    if best is None:  # pragma: no cover - every offered ratio has candidates
        raise InvalidRequest(f"gpt-image-2 has no size for ratio {ratio}.")
    return best[1], best[2]


def is_valid_gpt_size(width: int, height: int) -> bool:
    """Return True if ``width x height`` satisfies the gpt-image-2 size contract."""
    if width <= 0 or height <= 0:
        return False
    if width % GPT_EDGE_STEP or height % GPT_EDGE_STEP:
        return False
    long_edge, short_edge = max(width, height), min(width, height)
    if long_edge > GPT_MAX_EDGE or long_edge / short_edge > GPT_MAX_RATIO:
        return False
    return GPT_MIN_PIXELS <= width * height <= GPT_MAX_PIXELS


def dalle_size(ratio: str) -> tuple[int, int]:
    """Return the DALL-E 3 size whose shape is closest to ``ratio``."""
    target = math.log(_ratio_value(ratio))
    return min(DALLE_SIZES, key=lambda size: abs(math.log(size[0] / size[1]) - target))


def geometry_for(options: ImagineOptions, geometry: Geometry | None = None) -> dict[str, str]:
    """Translate ``ratio`` (and resolution) into the fields the model takes.

    ``geometry`` is how the model takes a shape when the gateway's description says so
    (:mod:`bot.catalog.specs`); by default, its family's.
    """
    family = family_of(options.model)
    geometry = geometry or family.geometry
    ratio = options.ratio or DEFAULT_RATIO
    if family is CONSERVATIVE and options.ratio is None:
        return {}  # a model without a rule gets no shape it was not asked for
    if geometry is Geometry.ASPECT_RATIO:
        fields = {"aspect_ratio": ratio}
        if options.resolution:
            fields["resolution"] = options.resolution
        return fields
    if geometry is Geometry.GPT_SIZE:
        width, height = gpt_image_size(ratio, options.resolution)
        return {"size": f"{width}x{height}"}
    if geometry is Geometry.DALLE_SIZE:
        width, height = dalle_size(ratio)
        return {"size": f"{width}x{height}"}
    return {}


def describe_shape(options: ImagineOptions) -> str:
    """Return how the ratio was sent, e.g. ``16:9`` or ``16:9 (1360x768)``."""
    fields = geometry_for(options)
    ratio = options.ratio or DEFAULT_RATIO
    if "size" in fields:
        return f"{ratio} ({fields['size']})"
    if not fields:
        return "model default"
    return f"{ratio}, {options.resolution}" if options.resolution else ratio
