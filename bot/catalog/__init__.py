"""Model catalog: which models exist (from the gateway) and what each family accepts.

The gateway's list of recommended image models decides *which* models may be used
(:mod:`bot.catalog.models`); the family rules (:mod:`bot.catalog.families`, taken from
LemonData's image API contract) decide *how* a request for each model must look.
:func:`validate` and :func:`build_request` (:mod:`bot.catalog.requests`) are pure, and
:mod:`bot.catalog.geometry` is the one place that translates a ratio.
"""

from __future__ import annotations

from bot.catalog.families import (
    CONSERVATIVE,
    FAMILIES,
    MAX_REFERENCE_IMAGES,
    Family,
    Geometry,
    ImageInput,
    ImageMode,
    family_of,
    image_input_of,
)
from bot.catalog.geometry import (
    dalle_size,
    describe_shape,
    geometry_for,
    gpt_image_size,
    is_valid_gpt_size,
)
from bot.catalog.models import ModelCatalog
from bot.catalog.options import (
    BACKGROUNDS,
    DALLE_QUALITIES,
    DEFAULT_RATIO,
    GPT_QUALITIES,
    MAX_COMPRESSION,
    MAX_COUNT,
    MAX_NEGATIVE_PROMPT_LENGTH,
    MAX_PROMPT_LENGTH,
    MAX_SEED,
    OUTPUT_FORMATS,
    RATIOS,
    RESOLUTIONS,
    STYLES,
    ImagineOptions,
    edit_options,
    rerolled,
)
from bot.catalog.requests import (
    GENERATIONS,
    Route,
    build_request,
    check_images,
    cost_units,
    either,
    route_for,
    unit_weight,
    validate,
)
from bot.catalog.specs import ModelSpec, spec_of

__all__ = [
    "BACKGROUNDS",
    "CONSERVATIVE",
    "DALLE_QUALITIES",
    "DEFAULT_RATIO",
    "FAMILIES",
    "GENERATIONS",
    "GPT_QUALITIES",
    "MAX_COMPRESSION",
    "MAX_COUNT",
    "MAX_NEGATIVE_PROMPT_LENGTH",
    "MAX_PROMPT_LENGTH",
    "MAX_REFERENCE_IMAGES",
    "MAX_SEED",
    "OUTPUT_FORMATS",
    "RATIOS",
    "RESOLUTIONS",
    "STYLES",
    "Family",
    "Geometry",
    "ImageInput",
    "ImageMode",
    "ImagineOptions",
    "ModelCatalog",
    "ModelSpec",
    "Route",
    "build_request",
    "check_images",
    "cost_units",
    "dalle_size",
    "describe_shape",
    "edit_options",
    "either",
    "family_of",
    "geometry_for",
    "gpt_image_size",
    "image_input_of",
    "is_valid_gpt_size",
    "rerolled",
    "route_for",
    "spec_of",
    "unit_weight",
    "validate",
]
