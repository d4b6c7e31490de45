"""Model catalog: which models exist (from the gateway) and what each family accepts.

The gateway's list of recommended image models decides *which* models may be used
(:mod:`bot.catalog.models`); the family rules (:mod:`bot.catalog.families`, taken from
LemonData's image API contract) decide *how* a request for each model must look.
:func:`validate` and :func:`build_request` (:mod:`bot.catalog.requests`) are pure, and
:mod:`bot.catalog.geometry` is the one place that translates a ratio.
"""

from __future__ import annotations

from bot.catalog.families import CONSERVATIVE, FAMILIES, Family, Geometry, family_of
from bot.catalog.geometry import (
    dalle_size,
    describe_shape,
    geometry_for,
    gpt_image_size,
    is_valid_gpt_size,
)
from bot.catalog.models import ModelCatalog
from bot.catalog.options import (
    DALLE_QUALITIES,
    DEFAULT_RATIO,
    GPT_QUALITIES,
    MAX_COUNT,
    MAX_PROMPT_LENGTH,
    RATIOS,
    RESOLUTIONS,
    STYLES,
    ImagineOptions,
)
from bot.catalog.requests import build_request, cost_units, unit_weight, validate

__all__ = [
    "CONSERVATIVE",
    "DALLE_QUALITIES",
    "DEFAULT_RATIO",
    "FAMILIES",
    "GPT_QUALITIES",
    "MAX_COUNT",
    "MAX_PROMPT_LENGTH",
    "RATIOS",
    "RESOLUTIONS",
    "STYLES",
    "Family",
    "Geometry",
    "ImagineOptions",
    "ModelCatalog",
    "build_request",
    "cost_units",
    "dalle_size",
    "describe_shape",
    "family_of",
    "geometry_for",
    "gpt_image_size",
    "is_valid_gpt_size",
    "unit_weight",
    "validate",
]
