"""Validation and request building: pure functions, run before anything is reserved or sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.catalog.families import Geometry, family_of
from bot.catalog.geometry import geometry_for
from bot.catalog.options import (
    DEFAULT_RATIO,
    MAX_PROMPT_LENGTH,
    RATIOS,
    RESOLUTION_WEIGHT,
    RESOLUTIONS,
    ImagineOptions,
)
from bot.errors import InvalidRequest


def _choices(values: Sequence[str]) -> str:
    quoted = [f"`{v}`" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def validate(options: ImagineOptions, listed: Callable[[str], bool]) -> ImagineOptions:
    """Return normalised options, or raise InvalidRequest with a short reason.

    ``listed`` says whether the gateway currently lists a model. Nothing here does
    I/O, so it runs before any quota is reserved or any request is sent.
    """
    options = options.normalized()
    if not options.prompt:
        raise InvalidRequest("Your prompt is empty: describe the image you want.")
    if len(options.prompt) > MAX_PROMPT_LENGTH:
        raise InvalidRequest(
            f"Your prompt is {len(options.prompt):,} characters long; "
            f"the limit is {MAX_PROMPT_LENGTH:,}."
        )
    if not options.model:
        raise InvalidRequest("Pick a model from the list.")
    if not listed(options.model):
        raise InvalidRequest(
            f"`{options.model[:80]}` is not an available image model. Pick one from the list."
        )
    family = family_of(options.model)
    model = f"`{options.model}`"
    if options.ratio is not None and options.ratio not in RATIOS:
        raise InvalidRequest(f"Ratio must be one of {_choices(RATIOS)}.")
    if family.geometry is Geometry.NONE and options.ratio not in (None, DEFAULT_RATIO):
        raise InvalidRequest(f"{model} takes only a prompt: leave `ratio` empty.")
    if options.resolution is not None:
        if options.resolution not in RESOLUTIONS:
            raise InvalidRequest(f"Resolution must be {_choices(RESOLUTIONS)}.")
        if options.resolution not in family.resolutions:
            raise InvalidRequest(
                f"{model} has no resolution choice: leave `resolution` empty "
                "or pick a Pro model such as `gemini-3-pro-image-preview`."
            )
    if options.quality is not None and options.quality not in family.qualities:
        if family.qualities:
            raise InvalidRequest(f"{model} takes quality {_choices(family.qualities)}.")
        raise InvalidRequest(f"{model} has no quality choice: leave `quality` empty.")
    if options.style is not None and options.style not in family.styles:
        raise InvalidRequest(f"{model} has no style choice: only `dall-e-3` takes a style.")
    if not 1 <= options.count <= family.max_count:
        images = "image" if family.max_count == 1 else "images"
        raise InvalidRequest(
            f"{model} makes at most {family.max_count} {images} per request; "
            f"you asked for {options.count}."
        )
    return options


def build_request(options: ImagineOptions, user: str) -> dict[str, Any]:
    """Build the ``POST /v1/images/generations`` body for validated ``options``."""
    family = family_of(options.model)
    body: dict[str, Any] = {
        "model": options.model,
        "prompt": options.prompt,
        "n": options.count,
        "user": user,
    }
    body.update(geometry_for(options))
    if options.quality:
        body["quality"] = options.quality
    if options.style:
        body["style"] = options.style
    if family.supports_async:
        body["async"] = True
    return body


def unit_weight(
    model: str, resolution: str | None = None, weights: Mapping[str, int] | None = None
) -> int:
    """Return what one image costs: the model weight times the resolution weight.

    The model weight is the configured one (``MODEL_WEIGHTS``), else its family's.
    """
    base = (weights or {}).get(model, family_of(model).weight)
    return base * RESOLUTION_WEIGHT.get(resolution or "1k", 1)


def cost_units(options: ImagineOptions, weights: Mapping[str, int] | None = None) -> int:
    """Return the quota units a request costs: count x :func:`unit_weight`."""
    return options.count * unit_weight(options.model, options.resolution, weights)
