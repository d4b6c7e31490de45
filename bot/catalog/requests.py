"""Validation and request building: pure functions, run before anything is reserved or sent."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.catalog.families import Geometry, ImageInput, ImageMode, family_of, image_input_of
from bot.catalog.geometry import geometry_for
from bot.catalog.options import (
    BACKGROUNDS,
    COMPRESSED_FORMATS,
    DEFAULT_RATIO,
    MAX_COMPRESSION,
    MAX_NEGATIVE_PROMPT_LENGTH,
    MAX_SEED,
    OUTPUT_FORMATS,
    RATIOS,
    RESOLUTION_WEIGHT,
    RESOLUTIONS,
    TRANSPARENT_FORMATS,
    ImagineOptions,
)
from bot.catalog.specs import MEMBER_OPTIONS, ModelSpec, spec_of
from bot.errors import InvalidRequest
from bot.i18n import Joined, Number, Text
from bot.lemondata.urls import EDITS_PATH, GENERATIONS_PATH

MAX_NAMED_MODELS = 5  # a refusal names at most this many models that take an option


def either(values: Sequence[str]) -> Text | str:
    """Return ``a``, ``b`` or ``c``, as the reader's language writes it."""
    quoted = [f"`{v}`" for v in values]
    if len(quoted) <= 1:
        return quoted[0] if quoted else ""
    return Text.of("join.or", head=Joined(quoted[:-1]), last=quoted[-1])


# Lists the listed models that take an option (with that value, when given), for refusals.
Takers = Callable[[str, str | None], Sequence[str]]


def _no_takers(option: str, value: str | None) -> Sequence[str]:
    return ()


def validate(
    options: ImagineOptions,
    listed: Callable[[str], bool],
    image_input: Callable[[str], ImageInput] = image_input_of,
    spec: Callable[[str], ModelSpec] = spec_of,
    takers: Takers = _no_takers,
) -> ImagineOptions:
    """Return normalised options, or raise InvalidRequest with a short reason.

    ``listed`` says whether the gateway currently lists a model, ``image_input`` how it
    takes reference images and ``spec`` what else it takes (the catalog knows the
    gateway's description of each model; the family table is the fallback). ``takers``
    names the models that take an option a model refuses. Nothing here does I/O, so it
    runs before any quota is reserved or any request is sent.
    """
    options = options.normalized()
    if not options.model:
        raise InvalidRequest("refusal.model_missing")
    if not listed(options.model):
        raise InvalidRequest("refusal.model_unknown", model=f"`{options.model[:80]}`")
    model_spec = spec(options.model)
    if not options.prompt:
        raise InvalidRequest("refusal.prompt_empty")
    if len(options.prompt) > model_spec.prompt_max:
        raise InvalidRequest(
            "refusal.prompt_too_long",
            length=Number(len(options.prompt)),
            limit=Number(model_spec.prompt_max),
        )
    family = model_spec.family
    model = f"`{options.model}`"
    _check_shape(options, model_spec, model)
    if options.quality is not None and options.quality not in model_spec.qualities:
        if model_spec.qualities:
            raise InvalidRequest(
                "refusal.quality_choices", model=model, choices=either(model_spec.qualities)
            )
        raise InvalidRequest("refusal.quality_none", model=model)
    if options.style is not None and options.style not in model_spec.styles:
        raise InvalidRequest("refusal.style_none", model=model)
    _check_outputs(options, model_spec, model, takers)
    if options.images:
        check_images(options.model, options.images, image_input(options.model))
    if not 1 <= options.count <= family.max_count:
        raise InvalidRequest(
            "refusal.count_too_many", model=model, count=family.max_count, asked=options.count
        )
    return options


def _check_shape(options: ImagineOptions, spec: ModelSpec, model: str) -> None:
    """Refuse a ratio or resolution the model does not take."""
    if options.ratio is not None and options.ratio not in RATIOS:
        raise InvalidRequest("refusal.ratio_unknown", choices=either(RATIOS))
    if spec.geometry is Geometry.NONE and options.ratio not in (None, DEFAULT_RATIO):
        raise InvalidRequest("refusal.ratio_prompt_only", model=model)
    if (
        options.ratio is not None
        and spec.geometry is Geometry.ASPECT_RATIO
        and options.ratio not in spec.ratios
    ):
        raise InvalidRequest("refusal.ratio_choices", model=model, choices=either(spec.ratios))
    if options.resolution is not None:
        if options.resolution not in RESOLUTIONS:
            raise InvalidRequest("refusal.resolution_unknown", choices=either(RESOLUTIONS))
        if options.resolution not in spec.resolutions:
            raise InvalidRequest("refusal.resolution_none", model=model)


def _refuse_option(
    spec: ModelSpec, option: str, takers: Takers, value: str | None = None
) -> InvalidRequest:
    """Return a refusal naming the option (or its value) and the listed models taking it."""
    others = [f"`{m}`" for m in takers(option, value) if m != spec.model][:MAX_NAMED_MODELS]
    named = Text.of("refusal.option_takers", models=Joined(others)) if others else ""
    if value is None:
        return InvalidRequest(
            "refusal.option_none", model=f"`{spec.model}`", option=f"`{option}`", takers=named
        )
    choices = spec.backgrounds if option == "background" else spec.output_formats
    return InvalidRequest(
        "refusal.option_value",
        model=f"`{spec.model}`",
        option=f"`{option}`",
        value=f"`{value}`",
        choices=either(choices),
        takers=named,
    )


def _check_outputs(options: ImagineOptions, spec: ModelSpec, model: str, takers: Takers) -> None:
    """Refuse output options the model does not take, or that do not go together."""
    asked = {
        "background": options.background,
        "output_format": None if options.format_picked else options.output_format,
        "compression": options.compression,
        "negative_prompt": options.negative_prompt,
        "seed": options.seed,
    }
    for option in MEMBER_OPTIONS:
        if asked[option] is not None and not spec.takes(option):
            raise _refuse_option(spec, option, takers)
    if options.background is not None:
        if options.background not in BACKGROUNDS:
            raise InvalidRequest("refusal.option_unknown", option="`background`")
        if options.background not in spec.backgrounds:
            raise _refuse_option(spec, "background", takers, options.background)
    if options.output_format is not None and not options.format_picked:
        if options.output_format not in OUTPUT_FORMATS:
            raise InvalidRequest("refusal.option_unknown", option="`output_format`")
        if options.output_format not in spec.output_formats:
            raise _refuse_option(spec, "output_format", takers, options.output_format)
    if (
        options.background == "transparent"
        and options.output_format is not None
        and options.output_format not in TRANSPARENT_FORMATS
    ):
        raise InvalidRequest("refusal.transparent_format", format=f"`{options.output_format}`")
    if options.compression is not None:
        if not 0 <= options.compression <= MAX_COMPRESSION:
            raise InvalidRequest("refusal.compression_range", limit=MAX_COMPRESSION)
        if options.output_format not in COMPRESSED_FORMATS:
            raise InvalidRequest("refusal.compression_format")
    if options.negative_prompt is not None and (
        len(options.negative_prompt) > MAX_NEGATIVE_PROMPT_LENGTH
    ):
        raise InvalidRequest(
            "refusal.negative_prompt_too_long",
            length=Number(len(options.negative_prompt)),
            limit=Number(MAX_NEGATIVE_PROMPT_LENGTH),
        )
    if options.seed is not None and not 0 <= options.seed <= MAX_SEED:
        raise InvalidRequest("refusal.seed_range", limit=Number(MAX_SEED))


def check_images(model: str, count: int, accepts: ImageInput) -> None:
    """Refuse reference images the model does not take, or too many of them."""
    if not accepts.accepted:
        raise InvalidRequest("refusal.images_none", model=f"`{model}`")
    if count > accepts.max_images:
        raise InvalidRequest(
            "refusal.images_too_many", model=f"`{model}`", count=accepts.max_images, given=count
        )


def build_request(
    options: ImagineOptions,
    user: str,
    accepts: ImageInput | None = None,
    spec: ModelSpec | None = None,
) -> dict[str, Any]:
    """Build the request body for validated ``options`` (see :func:`route_for` for where).

    With reference images, a model taking them image-to-image gets ``operation``; an
    edit model's body is for the edits route. ``accepts`` is how the model takes
    images (the gateway's ``supported_operations`` when it lists them, the one that
    :func:`validate` checked against), else its family's. ``spec`` is what else the
    model takes (the one :func:`validate` checked against): each output option goes
    under the field the model takes it by.
    """
    family = family_of(options.model)
    spec = spec or spec_of(options.model)
    mode = (accepts or family.image_input).mode
    body: dict[str, Any] = {
        "model": options.model,
        "prompt": options.prompt,
        "n": options.count,
        "user": user,
    }
    body.update(geometry_for(options, spec.geometry))
    if options.quality:
        body["quality"] = options.quality
    if options.style:
        body["style"] = options.style
    values = {
        "background": options.background,
        "output_format": options.output_format,
        "compression": options.compression,
        "negative_prompt": options.negative_prompt,
        "seed": options.seed,
        "moderation": options.moderation,
    }
    for option, value in values.items():
        if value is not None and spec.takes(option):
            body[spec.fields[option]] = value
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
