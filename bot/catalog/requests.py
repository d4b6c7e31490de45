"""Validation and request building: pure functions, run before anything is reserved or sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.catalog.families import Geometry, ImageInput, ImageMode, family_of, image_input_of
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


def validate(
    options: ImagineOptions,
    listed: Callable[[str], bool],
    image_input: Callable[[str], ImageInput] = image_input_of,
) -> ImagineOptions:
    """Return normalised options, or raise InvalidRequest with a short reason.

    ``listed`` says whether the gateway currently lists a model, ``image_input`` how it
    takes reference images (the catalog knows the gateway's metadata). Nothing here does
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
    if options.images:
        check_images(options.model, options.images, image_input(options.model))
    if not 1 <= options.count <= family.max_count:
        images = "image" if family.max_count == 1 else "images"
        raise InvalidRequest(
            f"{model} makes at most {family.max_count} {images} per request; "
            f"you asked for {options.count}."
        )
    return options


def check_images(model: str, count: int, accepts: ImageInput) -> None:
    """Refuse reference images the model does not take, or too many of them."""
    if not accepts.accepted:
        raise InvalidRequest(
            f"`{model}` makes images from text only: remove the reference image, or pick a "
            "model that takes one, such as `gpt-image-2` or `gemini-2.5-flash-image`."
        )
    if count > accepts.max_images:
        takes = (
            "one reference image"
            if accepts.max_images == 1
            else (f"up to {accepts.max_images} reference images")
        )
        raise InvalidRequest(f"`{model}` takes {takes}; you gave {count}.")


def build_request(options: ImagineOptions, user: str) -> dict[str, Any]:
    """Build the request body for validated ``options`` (see :func:`route_for` for where).

    With reference images, a family taking them image-to-image gets ``operation``; an
    edit family's body is for ``/v1/images/edits``.
    """
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
    if options.images and family.image_input.mode is ImageMode.IMAGE_TO_IMAGE:
        body["operation"] = ImageMode.IMAGE_TO_IMAGE.value
    return body


@dataclass(frozen=True)
class Route:
    """Where a create goes, and under which form field its reference images travel."""

    path: str
    file_field: str | None = None  # None: a JSON body without images


GENERATIONS = Route("/v1/images/generations")


def route_for(body: Mapping[str, Any], input_count: int) -> Route:
    """Return where a stored request body goes (the bytes go as a multipart upload).

    Discord's attachment links are signed and expire, so images always travel as bytes:
    one ``image`` upload on a multipart generation (image-to-image), or ``image[]``
    uploads on a multipart edit.
    """
    if not input_count:
        return GENERATIONS
    if body.get("operation") == ImageMode.IMAGE_TO_IMAGE.value:
        return Route("/v1/images/generations", "image")
    return Route("/v1/images/edits", "image[]")


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
