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
from bot.i18n import Joined, Number, Text
from bot.lemondata.urls import EDITS_PATH, GENERATIONS_PATH


def _choices(values: Sequence[str]) -> Text | str:
    """Return ``a``, ``b`` or ``c``, as the reader's language writes it."""
    quoted = [f"`{v}`" for v in values]
    if len(quoted) == 1:
        return quoted[0]
    return Text.of("join.or", head=Joined(quoted[:-1]), last=quoted[-1])


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
        raise InvalidRequest("refusal.prompt_empty")
    if len(options.prompt) > MAX_PROMPT_LENGTH:
        raise InvalidRequest(
            "refusal.prompt_too_long",
            length=Number(len(options.prompt)),
            limit=Number(MAX_PROMPT_LENGTH),
        )
    if not options.model:
        raise InvalidRequest("refusal.model_missing")
    if not listed(options.model):
        raise InvalidRequest("refusal.model_unknown", model=f"`{options.model[:80]}`")
    family = family_of(options.model)
    model = f"`{options.model}`"
    if options.ratio is not None and options.ratio not in RATIOS:
        raise InvalidRequest("refusal.ratio_unknown", choices=_choices(RATIOS))
    if family.geometry is Geometry.NONE and options.ratio not in (None, DEFAULT_RATIO):
        raise InvalidRequest("refusal.ratio_prompt_only", model=model)
    if options.resolution is not None:
        if options.resolution not in RESOLUTIONS:
            raise InvalidRequest("refusal.resolution_unknown", choices=_choices(RESOLUTIONS))
        if options.resolution not in family.resolutions:
            raise InvalidRequest("refusal.resolution_none", model=model)
    if options.quality is not None and options.quality not in family.qualities:
        if family.qualities:
            raise InvalidRequest(
                "refusal.quality_choices", model=model, choices=_choices(family.qualities)
            )
        raise InvalidRequest("refusal.quality_none", model=model)
    if options.style is not None and options.style not in family.styles:
        raise InvalidRequest("refusal.style_none", model=model)
    if options.images:
        check_images(options.model, options.images, image_input(options.model))
    if not 1 <= options.count <= family.max_count:
        raise InvalidRequest(
            "refusal.count_too_many", model=model, count=family.max_count, asked=options.count
        )
    return options


def check_images(model: str, count: int, accepts: ImageInput) -> None:
    """Refuse reference images the model does not take, or too many of them."""
    if not accepts.accepted:
        raise InvalidRequest("refusal.images_none", model=f"`{model}`")
    if count > accepts.max_images:
        raise InvalidRequest(
            "refusal.images_too_many", model=f"`{model}`", count=accepts.max_images, given=count
        )


def build_request(
    options: ImagineOptions, user: str, accepts: ImageInput | None = None
) -> dict[str, Any]:
    """Build the request body for validated ``options`` (see :func:`route_for` for where).

    With reference images, a model taking them image-to-image gets ``operation``; an
    edit model's body is for the edits route. ``accepts`` is how the model takes
    images (the gateway's ``supported_operations`` when it lists them, the one that
    :func:`validate` checked against), else its family's.
    """
    family = family_of(options.model)
    mode = (accepts or family.image_input).mode
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
    if options.images and mode is ImageMode.IMAGE_TO_IMAGE:
        body["operation"] = ImageMode.IMAGE_TO_IMAGE.value
    return body


@dataclass(frozen=True)
class Route:
    """Where a create goes, and under which form field its reference images travel."""

    path: str
    file_field: str | None = None  # None: a JSON body without images


GENERATIONS = Route(GENERATIONS_PATH)


def route_for(body: Mapping[str, Any], input_count: int) -> Route:
    """Return where a stored request body goes (the bytes go as a multipart upload).

    Discord's attachment links are signed and expire, so images always travel as bytes:
    one ``image`` upload on a multipart generation (image-to-image), or ``image[]``
    uploads on a multipart edit.
    """
    if not input_count:
        return GENERATIONS
    if body.get("operation") == ImageMode.IMAGE_TO_IMAGE.value:
        return Route(GENERATIONS_PATH, "image")
    return Route(EDITS_PATH, "image[]")


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
