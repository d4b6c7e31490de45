"""The model catalog: list items, compact items, model details and pricing.

Each model has a profile (operations, price, request format, recommendation evidence)
built from the contract's defaults and a test's :class:`ModelOverride`. The extension
block is named ``tokenlab`` or, for some models, ``lemondata`` (both names appear).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from tests.fakes.lemondata.contract import (
    DALLE3_MODEL,
    DALLE3_SIZES,
    EDITS_PATH,
    GEMINI_FLASH_MODELS,
    GEMINI_PROMPT_ONLY_MODELS,
    GENERATIONS_PATH,
    GPT_IMAGE_MODEL,
    IMAGE_EDIT,
    IMAGE_TO_IMAGE,
    MAX_PROMPT_CHARS,
    MODEL_CREATED,
    RESOLUTIONS,
    TEXT_TO_IMAGE,
    default_operations,
)
from tests.fakes.lemondata.options import (
    COMMON_PARAMETERS,
    DALLE3_PARAMETERS,
    FLUX_PARAMETERS,
    GPT_IMAGE_PARAMETERS,
    MIDJOURNEY_ASPECT_RATIOS,
    MIDJOURNEY_PARAMETERS,
    REFERENCE_IMAGE_PARAMETERS,
    default_max_n,
    is_flux,
    is_midjourney,
    output_formats,
    recommended_summary,
)

EXTENSION_KEYS = ("tokenlab", "lemondata")
# Models whose extension block is named ``lemondata`` by default (the rest: ``tokenlab``).
LEMONDATA_EXTENSION_MODELS = frozenset({"flux-pro", "midjourney"})
ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")
GPT_IMAGE_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
DEFAULT_ONLINE_RPM = 60
CURRENCY = "USD"
UNIT_PER_REQUEST = "per_request"
UNIT_PER_1M_TOKENS = "per_1m_tokens"
ENDPOINT_BY_OPERATION = {
    TEXT_TO_IMAGE: GENERATIONS_PATH,
    IMAGE_TO_IMAGE: GENERATIONS_PATH,
    IMAGE_EDIT: EDITS_PATH,
}
DOCUMENTED_INPUTS = {
    TEXT_TO_IMAGE: ["prompt"],
    IMAGE_TO_IMAGE: ["prompt", "image_url", "image_urls", "reference_image_urls", "mask_url"],
    IMAGE_EDIT: ["prompt", "images", "image_url", "image_urls", "mask", "image", "image[]"],
}
CAPABILITY_BY_OPERATION = {IMAGE_TO_IMAGE: "image_to_image", IMAGE_EDIT: "image_edit"}
# gpt-image-2 is billed by tokens: text in, image in, cached in, image out (USD per 1M).
GPT_IMAGE_TOKEN_PRICES = {
    "text_input_per_1m": "5.00",
    "image_input_per_1m": "8.00",
    "cached_input_per_1m": "1.25",
    "image_output_per_1m": "40.00",
}


class ModelOverride(TypedDict, total=False):
    """What a test changes about one model (``LemonDataEmulator.model_overrides[model]``).

    ``supported_operations`` and ``capabilities`` replace the defaults (operations also
    decide what creates and edits accept); ``pricing``, ``agent_preferences`` (the
    ``image`` recommendation block) and ``request_format_summary`` (its
    ``service_limits`` too) are merged over them; ``pricing: None`` makes the model
    unpriced (:func:`pricing` None: no ``pricing`` block anywhere, left out of
    ``GET /v1/pricing``, no ``usage``); ``token_prices`` is merged over a token-billed
    model's detailed prices (:func:`token_prices`); ``extension_key`` renames the block
    (``tokenlab`` / ``lemondata``); ``omit_extension`` drops it from every answer;
    ``max_n`` replaces the most images one request may ask (dall-e-3 1, Midjourney 4,
    else 10).
    """

    supported_operations: Sequence[str]
    capabilities: Sequence[str]
    pricing: Mapping[str, Any] | None
    token_prices: Mapping[str, str]
    agent_preferences: Mapping[str, Any]
    request_format_summary: Mapping[str, Any]
    extension_key: str
    omit_extension: bool
    max_n: int


def owner(model: str) -> str:
    """Return the public provider of a model."""
    if model.startswith(("gpt-", "dall-e")):
        return "openai"
    if model.startswith(("gemini", "nano-banana")):
        return "google"
    if model.startswith("flux"):
        return "black-forest-labs"
    if model.startswith("midjourney"):
        return "midjourney"
    return "lemondata"


def operations(model: str, override: ModelOverride) -> tuple[str, ...]:
    """Return the model's supported operations (the override's, or the defaults)."""
    if "supported_operations" in override:
        return tuple(override["supported_operations"])
    return default_operations(model)


def _per_request(price: str, low: str | None = None, high: str | None = None) -> dict[str, Any]:
    pricing: dict[str, Any] = {
        "unit": UNIT_PER_REQUEST,
        "currency": CURRENCY,
        "per_request": price,
        "has_complex_pricing": low is not None,
    }
    if low is not None and high is not None:
        pricing.update({"min_price": low, "max_price": high})
    return pricing


def default_pricing(model: str) -> dict[str, Any]:
    """Return the model's compact ``pricing`` (prices are decimal strings, in USD)."""
    if model == GPT_IMAGE_MODEL:
        return {
            "unit": UNIT_PER_1M_TOKENS,
            "currency": CURRENCY,
            "input_per_1m": GPT_IMAGE_TOKEN_PRICES["text_input_per_1m"],
            "output_per_1m": GPT_IMAGE_TOKEN_PRICES["image_output_per_1m"],
            "min_price": "0.011",
            "max_price": "0.250",
            "has_complex_pricing": True,
        }
    if model in ("gemini-3-pro-image-preview", "nano-banana-pro"):
        return _per_request("0.134", "0.134", "0.240")
    if model in GEMINI_FLASH_MODELS or model in GEMINI_PROMPT_ONLY_MODELS:
        return _per_request("0.039")
    if model.startswith("flux"):
        return _per_request("0.050")
    if model.startswith("midjourney"):
        return _per_request("0.080")
    return _per_request("0.040")


def pricing(model: str, override: ModelOverride) -> dict[str, Any] | None:
    """Return the model's effective ``pricing`` (defaults merged with the override).

    None when the override's ``pricing`` is None: the model has no price. A token-billed
    model's ``input_per_1m`` / ``output_per_1m`` default to its ``token_prices``
    override's ``text_input_per_1m`` / ``image_output_per_1m`` when it gives them.
    """
    changes = override.get("pricing", {})
    if changes is None:
        return None
    price = default_pricing(model)
    if price["unit"] == UNIT_PER_1M_TOKENS:
        detailed = override.get("token_prices", {})
        for key, detail in (
            ("input_per_1m", "text_input_per_1m"),
            ("output_per_1m", "image_output_per_1m"),
        ):
            if detail in detailed:
                price[key] = detailed[detail]
    return {**price, **changes}


def is_token_billed(price: Mapping[str, Any] | None) -> bool:
    """Return True when ``price`` (a ``pricing`` block) bills by tokens."""
    return price is not None and price.get("unit") == UNIT_PER_1M_TOKENS


def token_prices(model: str, override: ModelOverride) -> dict[str, str] | None:
    """Return a token-billed model's detailed prices (USD per 1M tokens), else None.

    :data:`GPT_IMAGE_TOKEN_PRICES` with the override's ``token_prices`` merged over it;
    text input and image output are the effective ``pricing``'s ``input_per_1m`` and
    ``output_per_1m`` (so the list, ``/v1/models/{model}/pricing`` and ``/v1/pricing``
    agree, and a ``pricing`` override moves them all).
    """
    price = pricing(model, override)
    if price is None or not is_token_billed(price):
        return None
    detailed = {**GPT_IMAGE_TOKEN_PRICES, **override.get("token_prices", {})}
    for key, detail in (
        ("input_per_1m", "text_input_per_1m"),
        ("output_per_1m", "image_output_per_1m"),
    ):
        if price.get(key) is not None:
            detailed[detail] = str(price[key])
    return detailed


def _capabilities(model: str, override: ModelOverride) -> list[str]:
    if "capabilities" in override:
        return list(override["capabilities"])
    ops = operations(model, override)
    return ["image_generation"] + [
        CAPABILITY_BY_OPERATION[op] for op in ops if op in CAPABILITY_BY_OPERATION
    ]


def _recommendation(model: str, rank: int, override: ModelOverride) -> dict[str, Any]:
    """The ``agent_preferences.image`` block (``rank`` kept for older clients)."""
    if model.startswith("midjourney"):
        evidence: dict[str, Any] = {
            "success_rate_24h": None,
            "sample_count_24h": 4,
            "status": "insufficient_samples",
        }
    else:
        evidence = {
            "success_rate_24h": round(0.99 - 0.01 * rank, 2),
            "sample_count_24h": 2000 - 100 * rank,
            "status": "ready",
        }
    block = {"recommended": True, "rank": rank, "preferred_rank": rank, **evidence}
    return {**block, **override.get("agent_preferences", {})}


def _parameters(model: str, ops: Sequence[str]) -> tuple[list[str], list[str], list[str]]:
    """Return (supported parameters, aspect ratios, resolutions) of a model family.

    Gemini / Nano Banana models that take image-to-image add the image inputs,
    ``negative_prompt`` and ``seed``; Midjourney takes three ratios only.
    """
    common = list(COMMON_PARAMETERS)
    if model == GPT_IMAGE_MODEL:
        return [*common, *GPT_IMAGE_PARAMETERS], [], []
    if model == DALLE3_MODEL:
        return [*common, *DALLE3_PARAMETERS], [], []
    if model in GEMINI_PROMPT_ONLY_MODELS:
        return common, [], []
    image_params = list(REFERENCE_IMAGE_PARAMETERS) if IMAGE_TO_IMAGE in ops else []
    if model in GEMINI_FLASH_MODELS:
        return [*common, "aspect_ratio", *image_params], list(ASPECT_RATIOS), []
    if model.startswith(("gemini", "nano-banana")):
        params = [*common, "aspect_ratio", "resolution", *image_params]
        return params, list(ASPECT_RATIOS), list(RESOLUTIONS)
    if is_flux(model):
        return [*common, *FLUX_PARAMETERS], list(ASPECT_RATIOS), []
    if is_midjourney(model):
        return [*common, *MIDJOURNEY_PARAMETERS], list(MIDJOURNEY_ASPECT_RATIOS), []
    return [*common, "aspect_ratio"], list(ASPECT_RATIOS), []


def _derived(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary fields that follow from its lists (recomputed after an override)."""
    ops = list(summary["public_operations"])
    params = list(summary["supported_parameters"])
    ratios, resolutions = list(summary["aspect_ratios"]), list(summary["resolutions"])
    return {
        "optional_selectors": [p for p in ("size", "aspect_ratio", "resolution") if p in params],
        "resolutions_label": "Resolution" if resolutions else None,
        "aspect_ratios_label": "Aspect ratio" if ratios else None,
        "request_endpoint_by_operation": {op: ENDPOINT_BY_OPERATION.get(op) for op in ops},
        "operation_constraints": [
            {
                "operation": op,
                "request_endpoint": ENDPOINT_BY_OPERATION.get(op),
                "supported_parameters": params,
                "allowed_aspect_ratios": ratios,
                "allowed_resolutions": resolutions,
                "documented_inputs": DOCUMENTED_INPUTS.get(op, ["prompt"]),
            }
            for op in ops
        ],
    }


def format_summary(model: str, override: ModelOverride) -> dict[str, Any]:
    """Return the detail route's ``request_format_summary`` (override merged in).

    The selectors, labels, per-operation endpoints and ``operation_constraints`` follow
    the overridden lists unless the override gives them too: creates and edits are
    checked against this summary (:func:`~tests.fakes.lemondata.options.check_options`).
    """
    ops = list(operations(model, override))
    params, ratios, resolutions = _parameters(model, ops)
    asynchronous = model == GPT_IMAGE_MODEL or is_flux(model)
    summary: dict[str, Any] = {
        "public_operations": ops,
        "supported_parameters": params,
        "feature_flags": {"async": asynchronous, "b64_json": True},
        "output_formats": output_formats(model),
        "service_limits": {
            "online_rpm": DEFAULT_ONLINE_RPM,
            "concurrency": None,
            "offline_inference": False,
            "offline_tpd": None,
            "prompt_max_characters": MAX_PROMPT_CHARS,
        },
        "required_selectors": [],
        "resolutions": resolutions,
        "durations": [],
        "durations_label": None,
        "aspect_ratios": ratios,
        "request_endpoint": GENERATIONS_PATH,
        "status_mode": "async_task_optional" if asynchronous else "sync",
        "request_shape_mode": "openai_images",
        "recommended_request_summary": recommended_summary(model),
    }
    if model == GPT_IMAGE_MODEL:
        summary["sizes"] = list(GPT_IMAGE_SIZES)
    elif model == DALLE3_MODEL:
        summary["sizes"] = list(DALLE3_SIZES)
    changes = dict(override.get("request_format_summary", {}))
    limits = {**summary["service_limits"], **changes.pop("service_limits", {})}
    summary.update(changes)
    summary["service_limits"] = limits
    for key, value in _derived(summary).items():
        summary.setdefault(key, value)
    return summary


def max_images(model: str, override: ModelOverride) -> int:
    """Return the most images one request may ask of ``model`` (``max_n`` overrides it)."""
    return override.get("max_n", default_max_n(model))


def _extension_key(model: str, override: ModelOverride) -> str:
    default = "lemondata" if model in LEMONDATA_EXTENSION_MODELS else "tokenlab"
    return override.get("extension_key", default)


def _lifecycle(model: str) -> dict[str, Any]:
    return {
        "stage": "preview" if "preview" in model else "active",
        "reason": None,
        "replacement_model": None,
        "released_at": None,
        "deprecated_at": None,
        "retired_at": None,
        "sunset_at": None,
        "latest": False,
        "latest_source": "none",
        "latest_window_days": None,
    }


def _extension(model: str, override: ModelOverride) -> dict[str, Any]:
    """The fields the list and detail routes share."""
    price = pricing(model, override)
    ops = list(operations(model, override))
    extension = {
        "aliases": [],
        "pricing": price,
        "capabilities": _capabilities(model, override),
        "providers": [owner(model)],
        "max_input_tokens": None,
        "max_output_tokens": None,
        "category": "image",
        "pricing_unit": None if price is None else price.get("unit", UNIT_PER_REQUEST),
        "has_complex_pricing": bool(price and price.get("has_complex_pricing", False)),
        "supported_operations": ops,
        "request_endpoint": GENERATIONS_PATH,
        "lifecycle": _lifecycle(model),
        "commercial": {"user_charge_policy": "paid", "free_reason": None, "free_until": None},
        "badges": [],
    }
    if price is None:  # unpriced: no price block (the schema requires one; none is known)
        del extension["pricing"], extension["pricing_unit"]
    return extension


def _item(model: str, extension: dict[str, Any], override: ModelOverride) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": model,
        "object": "model",
        "created": MODEL_CREATED,
        "owned_by": owner(model),
    }
    if not override.get("omit_extension", False):
        item[_extension_key(model, override)] = extension
    return item


def list_item(
    model: str, rank: int, recommended_for: str | None, override: ModelOverride
) -> dict[str, Any]:
    """Return the ``ModelListItem`` of ``model`` (``agent_preferences`` when recommended)."""
    extension = _extension(model, override)
    summary = format_summary(model, override)
    extension["request_format_summary"] = {
        key: summary[key]
        for key in ("public_operations", "request_endpoint", "request_endpoint_by_operation")
    }
    if recommended_for is not None:
        extension["agent_preferences"] = {recommended_for: _recommendation(model, rank, override)}
    return _item(model, extension, override)


def compact_item(
    model: str, rank: int, recommended_for: str | None, override: ModelOverride
) -> dict[str, Any]:
    """Return the ``CompactModelListItem`` of ``model`` (``recommendation`` when asked).

    With ``omit_extension`` the optional operation, endpoint and recommendation fields
    are left out.
    """
    item: dict[str, Any] = {
        "id": model,
        "provider": owner(model),
        "category": "image",
        "capabilities": _capabilities(model, override),
        "max_input_tokens": None,
        "max_output_tokens": None,
        "pricing": pricing(model, override),
        "status": _lifecycle(model)["stage"],
        "latest": False,
    }
    if item["pricing"] is None:  # unpriced: no price block (see _extension)
        del item["pricing"]
    if override.get("omit_extension", False):
        return item
    item["supported_operations"] = list(operations(model, override))
    item["request_endpoint"] = GENERATIONS_PATH
    if recommended_for is not None:
        evidence = _recommendation(model, rank, override)
        item["recommendation"] = {
            key: evidence.get(key)
            for key in ("preferred_rank", "success_rate_24h", "sample_count_24h", "status")
        }
    return item


def model_detail(model: str, rank: int, override: ModelOverride) -> dict[str, Any]:
    """Return the ``Model`` answer of ``GET /v1/models/{model}``."""
    extension = _extension(model, override)
    summary = format_summary(model, override)
    extension.update(
        {
            "pricing_summary": pricing(model, override),  # None when unpriced
            "pricing_provenance": None,
            "agent_preferences": {"image": _recommendation(model, rank, override)},
            "accepted_request_formats": [],
            "request_format_summary": summary,
            "request_format_details": {
                **copy.deepcopy(summary),
                "documented_inputs": sorted(
                    {
                        i
                        for op in summary["public_operations"]
                        for i in DOCUMENTED_INPUTS.get(op, ["prompt"])
                    }
                ),
                "documented_outputs": ["data[].url", "data[].b64_json"],
                "fallback_status_endpoints": ["/v1/images/{id}"],
                "notes": [],
                "recommended_request": {
                    "model": model,
                    "prompt": "A lemon on a table",
                    **(summary.get("recommended_request_summary") or {}),
                },
            },
        }
    )
    return _item(model, extension, override)


def pricing_detail(model: str, override: ModelOverride) -> dict[str, Any]:
    """Return the ``ModelPricingResponse`` of ``GET /v1/models/{model}/pricing``.

    An unpriced model answers ``pricing`` null, no ``pricing_unit`` and no scalars.
    """
    price = pricing(model, override)
    scalar = {
        key: price[key]
        for key in ("per_request", "input_per_1m", "output_per_1m", "min_price", "max_price")
        if price is not None and key in price
    }
    detailed = token_prices(model, override)
    answer = {
        "model": model,
        "pricing_unit": None if price is None else price.get("unit", UNIT_PER_REQUEST),
        "has_complex_pricing": bool(price and price.get("has_complex_pricing", False)),
        "supported_operations": list(operations(model, override)),
        "pricing": price,
        "pricing_summary": price,
        "pricing_provenance": None,
        "pricing_details": None if detailed is None else {"currency": CURRENCY, **detailed},
        "scalar_pricing": scalar,
    }
    if price is None:
        del answer["pricing_unit"]
    return answer


def pricing_entry(model: str, override: ModelOverride) -> dict[str, Any] | None:
    """Return the ``PricingEntry`` of ``model`` in ``GET /v1/pricing`` (None: unpriced).

    A per-request model is a lock price: ``is_lock_price`` true and
    ``lock_price_per_request`` its ``per_request``; a token-billed one has
    ``input_per_1m_tokens`` / ``output_per_1m_tokens`` (its ``input_per_1m`` /
    ``output_per_1m``) and a ``pricing_summary`` with its detailed token prices and
    ``min_price`` / ``max_price``. Prices are the list's, as decimal strings.
    """
    price = pricing(model, override)
    if price is None:
        return None
    detailed = token_prices(model, override)
    limits: dict[str, Any] = {k: price[k] for k in ("min_price", "max_price") if k in price}
    summary: dict[str, Any] = {"unit": price.get("unit", UNIT_PER_REQUEST), "currency": CURRENCY}
    if detailed is None:
        per_request = price.get("per_request")
        summary.update({"per_request": per_request, **limits})
    else:
        per_request = None
        summary.update({**detailed, **limits})
    return {
        "model": model,
        "provider": owner(model),
        "is_lock_price": per_request is not None,
        "capabilities": _capabilities(model, override),
        "aliases": [],
        "input_per_1m_tokens": None if detailed is None else price.get("input_per_1m"),
        "output_per_1m_tokens": None if detailed is None else price.get("output_per_1m"),
        "lock_price_per_request": per_request,
        "has_complex_pricing": bool(price.get("has_complex_pricing", False)),
        "supported_operations": list(operations(model, override)),
        "pricing_summary": summary,
        "pricing_provenance": None,
    }
