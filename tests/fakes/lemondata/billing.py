"""What the gateway charges: the price list (``GET /v1/pricing``) and token usage.

Token-billed models (pricing unit ``per_1m_tokens``: gpt-image-2) report ``usage`` on
their inline answers and completed task bodies, in OpenAI's images shape::

    {"input_tokens": N, "input_tokens_details":
        {"text_tokens": T, "image_tokens": I, "cached_tokens": 0},
     "output_tokens": O, "total_tokens": N + O}

with T = ceil(len(prompt) / 4); I = 1000 per input image (uploads, URLs, ``data:`` URLs
and ``file_id``s; a mask is not counted); N = T + I; O = the per-image output tokens times
the images actually returned. Per image: 272 (low), 1056 (medium: also ``auto`` and
omitted) or 4160 (high) at 1024x1024, scaled by pixels / 1024² and rounded up
(``size`` ``auto`` or omitted counts as 1024x1024). Per-request and unpriced models
report none. :func:`usage_cost` turns a usage into dollars at a model's token prices.
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.fakes.lemondata.catalog import (
    CURRENCY,
    ModelOverride,
    is_token_billed,
    owner,
    pricing,
    pricing_entry,
    token_prices,
)
from tests.fakes.lemondata.contract import error_body
from tests.fakes.lemondata.records import Generation

PRICING_UPDATED_AT = "2026-07-01T00:00:00Z"
PRICING_PATH = "/v1/pricing"
CHARS_PER_TEXT_TOKEN = 4
IMAGE_INPUT_TOKENS = 1000
REFERENCE_PIXELS = 1024 * 1024
OUTPUT_TOKENS_AT_1024 = {"low": 272, "medium": 1056, "high": 4160}
DEFAULT_QUALITY = "medium"  # what auto (and an omitted quality) is billed as
TOKENS_PER_MILLION = Decimal(1_000_000)

# A dict: the usage every token-billed answer reports while set (a copy of it); a
# callable: (generation, images returned) -> the usage, or None for no usage at all.
UsageOverride = Mapping[str, Any] | Callable[[Generation, int], Mapping[str, Any] | None]

_SIZE_RE = re.compile(r"^(\d+)x(\d+)$")


def text_tokens(prompt: str) -> int:
    """Return the text tokens of ``prompt``: one per four characters, rounded up."""
    return math.ceil(len(prompt) / CHARS_PER_TEXT_TOKEN)


def output_tokens_per_image(size: Any = None, quality: Any = None) -> int:
    """Return the output tokens of one image of ``size`` (``WxH``) and ``quality``.

    ``auto``, omitted or unparsable sizes count as 1024x1024; ``auto``, omitted or
    unknown qualities as medium.
    """
    base = OUTPUT_TOKENS_AT_1024.get(str(quality), OUTPUT_TOKENS_AT_1024[DEFAULT_QUALITY])
    match = _SIZE_RE.match(str(size)) if size is not None else None
    pixels = int(match.group(1)) * int(match.group(2)) if match else REFERENCE_PIXELS
    return -(-base * pixels // REFERENCE_PIXELS)


def image_usage(
    prompt: str, *, input_images: int = 0, size: Any = None, quality: Any = None, images: int = 1
) -> dict[str, Any]:
    """Return the ``usage`` a token-billed answer reports (the module's formulas)."""
    text, image = text_tokens(prompt), IMAGE_INPUT_TOKENS * input_images
    output = output_tokens_per_image(size, quality) * images
    return {
        "input_tokens": text + image,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image, "cached_tokens": 0},
        "output_tokens": output,
        "total_tokens": text + image + output,
    }


def generation_usage(generation: Generation, images: int) -> dict[str, Any]:
    """Return the computed ``usage`` of ``generation`` answering ``images`` images."""
    return image_usage(
        generation.prompt,
        input_images=len(generation.input_bytes),
        size=generation.params.get("size"),
        quality=generation.params.get("quality"),
        images=images,
    )


def usage_cost(usage: Mapping[str, Any], prices: Mapping[str, str]) -> Decimal:
    """Return the dollars ``usage`` costs at ``prices`` (:func:`token_prices`), exactly.

    Cached tokens are text tokens billed at the cached price instead of the text price:
    ((T - C) * text + I * image input + C * cached + O * image output) / 1M.
    """
    details = usage.get("input_tokens_details") or {}
    image = int(details.get("image_tokens", 0))
    text = int(details.get("text_tokens", int(usage.get("input_tokens", 0)) - image))
    cached = int(details.get("cached_tokens", 0))
    total = (
        (text - cached) * Decimal(prices["text_input_per_1m"])
        + image * Decimal(prices["image_input_per_1m"])
        + cached * Decimal(prices["cached_input_per_1m"])
        + int(usage.get("output_tokens", 0)) * Decimal(prices["image_output_per_1m"])
    )
    return total / TOKENS_PER_MILLION


def pricing_list(
    models: list[str],
    overrides: Mapping[str, ModelOverride],
    *,
    updated_at: str,
    provider: str | None = None,
    tag: str | None = None,
) -> dict[str, Any]:
    """Return the ``PricingResponse`` of ``GET /v1/pricing``: one entry per priced model.

    ``provider`` keeps the models of that owner; ``tag`` those with it among their
    capabilities or operations (or ``image``, their category).
    """
    data = []
    for model in models:
        entry = pricing_entry(model, overrides.get(model, {}))
        if entry is None or provider not in (None, owner(model)):
            continue
        tags = {"image", *entry["capabilities"], *entry["supported_operations"]}
        if tag is None or tag in tags:
            data.append(entry)
    return {"object": "pricing", "updated_at": updated_at, "currency": CURRENCY, "data": data}


class Billing:
    """The emulator's half that publishes prices and reports usage (a mixin).

    It reads the emulator's state and knobs declared below.
    """

    models: list[str]
    model_overrides: dict[str, ModelOverride]
    report_usage: bool
    usage_override: UsageOverride | None
    pricing_updated_at: str

    async def _pass_gate(self, name: str) -> bool:  # pragma: no cover - the emulator's
        raise NotImplementedError

    def generation(self, ref: str) -> Generation:  # pragma: no cover - the emulator's
        raise NotImplementedError

    def reported_cost(self, ref: str) -> Decimal | None:
        """Return the dollars the usage reported for ``ref`` costs at the model's prices now.

        ``ref`` is what :meth:`generation` takes. None when no usage was reported (yet).
        """
        generation = self.generation(ref)
        prices = token_prices(generation.model, self.model_overrides.get(generation.model, {}))
        if generation.usage is None or prices is None:
            return None
        return usage_cost(generation.usage, prices)

    def _usage(self, generation: Generation, images: int) -> dict[str, Any] | None:
        """The ``usage`` an answer of ``images`` images carries (recorded on ``generation``)."""
        price = pricing(generation.model, self.model_overrides.get(generation.model, {}))
        usage: dict[str, Any] | None = None
        if self.report_usage and is_token_billed(price):
            forced = self.usage_override
            if forced is None:
                usage = generation_usage(generation, images)
            else:
                chosen = forced(generation, images) if callable(forced) else forced
                usage = None if chosen is None else copy.deepcopy(dict(chosen))
        generation.usage = usage
        return usage

    async def _handle_pricing(self, request: web.Request) -> web.StreamResponse:
        if not await self._pass_gate("models_gate"):
            return web.json_response(
                error_body("The emulator is shutting down", "upstream_error"), status=503
            )
        return web.json_response(
            pricing_list(
                self.models,
                self.model_overrides,
                updated_at=self.pricing_updated_at,
                provider=request.query.get("provider"),
                tag=request.query.get("tag"),
            )
        )
