"""The LemonData emulator's model catalog: capabilities, prices, details and overrides."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.fakes.lemondata import (
    DEFAULT_MODELS,
    EDITS_PATH,
    GENERATIONS_PATH,
    LemonDataEmulator,
    make_png,
)

NO_TLS: dict[str, Any] = {"verify": False}
TOKENLAB_REQUIRED = {
    "aliases",
    "pricing",
    "capabilities",
    "max_input_tokens",
    "max_output_tokens",
    "category",
    "pricing_unit",
    "has_complex_pricing",
    "lifecycle",
    "commercial",
    "badges",
    "supported_operations",
    "request_endpoint",
}
LIFECYCLE_REQUIRED = {
    "stage",
    "reason",
    "replacement_model",
    "released_at",
    "deprecated_at",
    "retired_at",
    "sunset_at",
    "latest",
    "latest_source",
    "latest_window_days",
}
COMPACT_KEYS = {
    "id",
    "provider",
    "category",
    "capabilities",
    "max_input_tokens",
    "max_output_tokens",
    "pricing",
    "status",
    "latest",
    "supported_operations",
    "request_endpoint",
    "recommendation",
}
PRICING_KEYS = {
    "unit",
    "currency",
    "input_per_1m",
    "output_per_1m",
    "per_request",
    "min_price",
    "max_price",
    "has_complex_pricing",
}
OPERATIONS = {
    "gpt-image-2": ["text-to-image", "image-edit"],
    "dall-e-3": ["text-to-image"],
    "gemini-3-pro-image-preview": ["text-to-image", "image-to-image"],
    "nano-banana": ["text-to-image", "image-to-image"],
    "gemini-2.0-flash-preview-image-generation": ["text-to-image"],
    "flux-pro": ["text-to-image", "image-edit"],
}
LEMONDATA_NAMED = {"flux-pro", "midjourney"}


def extension(item: dict[str, Any]) -> dict[str, Any]:
    """Return the item's extension block, whichever of its two names it has."""
    (key,) = set(item) & {"tokenlab", "lemondata"}
    block: dict[str, Any] = item[key]
    return block


async def models(api: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await api.get("/v1/models", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --------------------------------------------------------------------------- the list


async def test_models_list_has_contract_shape(lemondata, api):
    """The recommended list carries one ModelListItem per model, ranked, with evidence."""
    body = await models(api, recommended_for="image")
    assert set(body) == {"object", "data"}
    assert body["object"] == "list"
    assert [item["id"] for item in body["data"]] == DEFAULT_MODELS
    for rank, item in enumerate(body["data"], start=1):
        key = "lemondata" if item["id"] in LEMONDATA_NAMED else "tokenlab"
        assert set(item) == {"id", "object", "created", "owned_by", key}
        assert item["object"] == "model"
        assert isinstance(item["created"], int)
        assert item["owned_by"]
        ext = item[key]
        assert set(ext) >= TOKENLAB_REQUIRED
        assert ext["category"] == "image"
        assert ext["capabilities"][0] == "image_generation"
        assert ext["request_endpoint"] == GENERATIONS_PATH
        assert ext["max_input_tokens"] is None
        assert ext["badges"] == []
        assert set(ext["lifecycle"]) == LIFECYCLE_REQUIRED
        assert set(ext["commercial"]) == {"user_charge_policy", "free_reason", "free_until"}
        assert set(ext["pricing"]) <= PRICING_KEYS
        assert ext["pricing"]["currency"] == "USD"
        assert ext["pricing_unit"] == ext["pricing"]["unit"]
        assert ext["has_complex_pricing"] == ext["pricing"]["has_complex_pricing"]
        summary = ext["request_format_summary"]
        assert summary["public_operations"] == ext["supported_operations"]
        assert set(summary["request_endpoint_by_operation"]) == set(ext["supported_operations"])
        image = ext["agent_preferences"]["image"]
        assert image["rank"] == image["preferred_rank"] == rank
        assert image["recommended"] is True
        assert set(image) >= {"success_rate_24h", "sample_count_24h", "status"}
        assert image["status"] in ("ready", "insufficient_samples")
        assert isinstance(image["sample_count_24h"], int)


async def test_operations_capabilities_and_endpoints_per_family(api):
    """supported_operations follow the contract; edits are routed to /v1/images/edits."""
    items = {item["id"]: extension(item) for item in (await models(api))["data"]}
    for model, ops in OPERATIONS.items():
        assert items[model]["supported_operations"] == ops, model
    gpt = items["gpt-image-2"]
    assert gpt["capabilities"] == ["image_generation", "image_edit"]
    assert gpt["request_format_summary"]["request_endpoint_by_operation"] == {
        "text-to-image": GENERATIONS_PATH,
        "image-edit": EDITS_PATH,
    }
    assert items["nano-banana"]["capabilities"] == ["image_generation", "image_to_image"]
    assert items["dall-e-3"]["capabilities"] == ["image_generation"]


async def test_prices_gpt_image_by_tokens_and_others_per_request(api):
    """gpt-image-2 is billed by tokens (with a range); the rest per request, in USD strings."""
    items = {item["id"]: extension(item) for item in (await models(api))["data"]}
    gpt = items["gpt-image-2"]["pricing"]
    assert gpt["unit"] == "per_1m_tokens"
    assert "per_request" not in gpt
    assert gpt["has_complex_pricing"] is True
    assert Decimal(gpt["min_price"]) < Decimal(gpt["max_price"])
    assert Decimal(gpt["input_per_1m"]) > 0 and Decimal(gpt["output_per_1m"]) > 0
    dalle = items["dall-e-3"]["pricing"]
    assert dalle == {
        "unit": "per_request",
        "currency": "USD",
        "per_request": "0.040",
        "has_complex_pricing": False,
    }
    pro = items["nano-banana-pro"]["pricing"]
    assert (pro["has_complex_pricing"], pro["min_price"], pro["max_price"]) == (
        True,
        "0.134",
        "0.240",
    )


async def test_insufficient_samples_have_no_success_rate(api):
    """A model without enough samples reports a null success rate."""
    items = {
        item["id"]: extension(item) for item in (await models(api, recommended_for="image"))["data"]
    }
    image = items["midjourney"]["agent_preferences"]["image"]
    assert (image["status"], image["success_rate_24h"]) == ("insufficient_samples", None)
    ready = items["gpt-image-2"]["agent_preferences"]["image"]
    assert ready["status"] == "ready"
    assert 0 < ready["success_rate_24h"] <= 1


async def test_models_list_follows_mutations_and_omits_preferences_without_filter(lemondata, api):
    """`models` is live; agent_preferences appears only with recommended_for."""
    lemondata.models.remove("midjourney")
    lemondata.models.append("flux-dev")
    body = await models(api)
    ids = [item["id"] for item in body["data"]]
    assert "midjourney" not in ids
    assert ids[-1] == "flux-dev"
    assert extension(body["data"][-1])["supported_operations"] == ["text-to-image", "image-edit"]
    assert all("agent_preferences" not in extension(item) for item in body["data"])
    rejected = await api.post(GENERATIONS_PATH, json={"model": "midjourney", "prompt": "a lemon"})
    assert rejected.status_code == 400
    assert rejected.json()["error"]["type"] == "model_not_found"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"recommended_for": "video"}, []),
        ({"category": "chat"}, []),
        (
            {"category": "image", "provider": "google"},
            [m for m in DEFAULT_MODELS if m.startswith(("gemini", "nano"))],
        ),
        ({"provider": "openai", "view": "full"}, ["gpt-image-2", "dall-e-3"]),
    ],
)
async def test_models_list_filters(api, params, expected):
    """recommended_for, category and provider filter the list."""
    assert [item["id"] for item in (await models(api, **params))["data"]] == expected


@pytest.mark.parametrize("param", ["view", "recommended_for", "category"])
async def test_models_list_rejects_unknown_enum_values(api, param):
    """Query values outside the OpenAPI enums answer 400 naming the parameter."""
    response = await api.get("/v1/models", params={param: "everything"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == param


async def test_compact_view(api):
    """view=compact: the CompactModelsResponse, with the same pricing and operations."""
    full = {item["id"]: extension(item) for item in (await models(api))["data"]}
    body = await models(api, view="compact", recommended_for="image")
    assert set(body) == {"object", "view", "count", "data"}
    assert (body["object"], body["view"], body["count"]) == ("list", "compact", len(DEFAULT_MODELS))
    for rank, item in enumerate(body["data"], start=1):
        assert set(item) == COMPACT_KEYS
        assert item["pricing"] == full[item["id"]]["pricing"]
        assert item["supported_operations"] == full[item["id"]]["supported_operations"]
        assert item["recommendation"]["preferred_rank"] == rank
        assert set(item["recommendation"]) == {
            "preferred_rank",
            "success_rate_24h",
            "sample_count_24h",
            "status",
        }
    plain = await models(api, view="compact")
    assert all("recommendation" not in item for item in plain["data"])


# --------------------------------------------------------------------------- one model


async def test_model_detail_has_request_format_summary(api):
    """GET /v1/models/{model} adds ratios, resolutions and service limits."""
    response = await api.get("/v1/models/nano-banana-pro")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"id", "object", "created", "owned_by", "tokenlab"}
    ext = body["tokenlab"]
    assert ext["accepted_request_formats"] == []
    assert ext["supported_operations"] == ["text-to-image", "image-to-image"]
    summary = ext["request_format_summary"]
    assert "16:9" in summary["aspect_ratios"] and "21:9" in summary["aspect_ratios"]
    assert summary["resolutions"] == ["1k", "2k", "4k"]
    assert summary["service_limits"]["prompt_max_characters"] == 4000
    assert summary["service_limits"]["online_rpm"] == 60
    constraint = summary["operation_constraints"][1]
    assert constraint["operation"] == "image-to-image"
    assert "reference_image_urls" in constraint["documented_inputs"]
    assert ext["agent_preferences"]["image"]["preferred_rank"] == 4
    flash = (await api.get("/v1/models/gemini-2.5-flash-image")).json()["tokenlab"]
    assert flash["request_format_summary"]["resolutions"] == []
    gpt = (await api.get("/v1/models/gpt-image-2")).json()["tokenlab"]["request_format_summary"]
    assert gpt["aspect_ratios"] == []
    assert "1536x1024" in gpt["sizes"]


@pytest.mark.parametrize("path", ["/v1/models/dall-e-2", "/v1/models/dall-e-2/pricing"])
async def test_unknown_model_detail_is_404(api, path):
    """An unknown model answers 404 model_not_found."""
    response = await api.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "model_not_found"


async def test_model_pricing(api):
    """GET /v1/models/{model}/pricing: gpt-image-2's token prices, dall-e-3's per request."""
    gpt = (await api.get("/v1/models/gpt-image-2/pricing")).json()
    assert (gpt["model"], gpt["pricing_unit"], gpt["has_complex_pricing"]) == (
        "gpt-image-2",
        "per_1m_tokens",
        True,
    )
    assert set(gpt["pricing_details"]) == {
        "currency",
        "text_input_per_1m",
        "image_input_per_1m",
        "cached_input_per_1m",
        "image_output_per_1m",
    }
    assert gpt["supported_operations"] == ["text-to-image", "image-edit"]
    dalle = (await api.get("/v1/models/dall-e-3/pricing")).json()
    assert dalle["scalar_pricing"] == {"per_request": "0.040"}
    assert dalle["pricing_details"] is None


# --------------------------------------------------------------------------- knobs


async def test_models_gate_holds_every_model_route(lemondata, api):
    """models_gate makes the list, detail and pricing routes wait until it opens."""
    lemondata.models_gate = asyncio.Event()
    pending = [
        asyncio.create_task(api.get(path))
        for path in ("/v1/models", "/v1/models/gpt-image-2", "/v1/models/gpt-image-2/pricing")
    ]
    await lemondata.wait_for(lambda: lemondata.models_gated == 3)
    assert not any(task.done() for task in pending)
    creates = await api.post(GENERATIONS_PATH, json={"model": "dall-e-3", "prompt": "a lemon"})
    assert creates.status_code == 200  # other routes are not held
    lemondata.models_gate.set()
    assert [(await task).status_code for task in pending] == [200, 200, 200]
    assert lemondata.models_gated == 0


async def test_stop_releases_a_gated_models_request():
    """Stopping the emulator answers a held models request with 503 instead of hanging."""
    emulator = LemonDataEmulator()
    await emulator.start()
    emulator.models_gate = asyncio.Event()
    async with httpx.AsyncClient(
        base_url=emulator.base_url,
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        **NO_TLS,
    ) as client:
        pending = asyncio.create_task(client.get("/v1/models"))
        await emulator.wait_for(lambda: emulator.models_gated == 1)
        await asyncio.wait_for(emulator.stop(), timeout=3)
        assert (await pending).status_code == 503


async def test_override_operations_drive_the_list_and_validation(lemondata, api):
    """An operations override shows in the list and decides what edits are accepted."""
    image = lemondata.host(make_png((9, 9, 9)))
    lemondata.model_overrides["gpt-image-2"] = {"supported_operations": ["text-to-image"]}
    ext = extension((await models(api, provider="openai"))["data"][0])
    assert ext["supported_operations"] == ["text-to-image"]
    assert ext["capabilities"] == ["image_generation"]
    refused = await api.post(
        EDITS_PATH, json={"model": "gpt-image-2", "prompt": "a lemon", "image_url": image}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["supported_operations"] == ["text-to-image"]
    lemondata.model_overrides["midjourney"] = {
        "supported_operations": ["text-to-image", "image-to-image"]
    }
    accepted = await api.post(
        GENERATIONS_PATH, json={"model": "midjourney", "prompt": "a lemon", "image_url": image}
    )
    assert accepted.status_code == 200, accepted.text


async def test_override_pricing_preferences_and_extension_name(lemondata, api):
    """pricing and agent_preferences merge; extension_key renames the block."""
    lemondata.model_overrides["dall-e-3"] = {
        "pricing": {"per_request": "0.080"},
        "agent_preferences": {"status": "insufficient_samples", "success_rate_24h": None},
        "extension_key": "lemondata",
    }
    item = (await models(api, recommended_for="image"))["data"][1]
    assert set(item) == {"id", "object", "created", "owned_by", "lemondata"}
    ext = item["lemondata"]
    assert ext["pricing"]["per_request"] == "0.080"
    assert ext["pricing"]["currency"] == "USD"
    assert ext["agent_preferences"]["image"]["status"] == "insufficient_samples"
    assert ext["agent_preferences"]["image"]["rank"] == 2
    pricing = (await api.get("/v1/models/dall-e-3/pricing")).json()
    assert pricing["scalar_pricing"] == {"per_request": "0.080"}


async def test_override_omits_the_extension_block(lemondata, api):
    """omit_extension leaves a bare OpenAI-style item in every view."""
    lemondata.model_overrides["gpt-image-2"] = {"omit_extension": True}
    full = (await models(api, recommended_for="image"))["data"][0]
    assert full == {
        "id": "gpt-image-2",
        "object": "model",
        "created": full["created"],
        "owned_by": "openai",
    }
    detail = (await api.get("/v1/models/gpt-image-2")).json()
    assert set(detail) == {"id", "object", "created", "owned_by"}
    compact = (await models(api, view="compact", recommended_for="image"))["data"][0]
    assert not {"supported_operations", "request_endpoint", "recommendation"} & set(compact)
    assert compact["pricing"]["unit"] == "per_1m_tokens"


async def test_request_format_limits_are_enforced(lemondata, api):
    """Published aspect ratios and prompt_max_characters are what creates are held to."""
    odd = await api.post(
        GENERATIONS_PATH,
        json={"model": "nano-banana-pro", "prompt": "a lemon", "aspect_ratio": "7:3"},
    )
    assert odd.status_code == 400
    assert odd.json()["error"]["param"] == "aspect_ratio"
    assert "16:9" in odd.json()["error"]["allowed_aspect_ratios"]
    lemondata.model_overrides["nano-banana-pro"] = {
        "request_format_summary": {
            "aspect_ratios": ["1:1"],
            "service_limits": {"prompt_max_characters": 10},
        }
    }
    summary = (await api.get("/v1/models/nano-banana-pro")).json()["tokenlab"][
        "request_format_summary"
    ]
    assert summary["service_limits"] == {
        "online_rpm": 60,
        "concurrency": None,
        "offline_inference": False,
        "offline_tpd": None,
        "prompt_max_characters": 10,
    }
    wide = await api.post(
        GENERATIONS_PATH, json={"model": "nano-banana-pro", "prompt": "a", "aspect_ratio": "16:9"}
    )
    assert wide.json()["error"]["allowed_aspect_ratios"] == ["1:1"]
    long = await api.post(
        GENERATIONS_PATH, json={"model": "nano-banana-pro", "prompt": "a lemon tree"}
    )
    assert long.status_code == 400
    assert long.json()["error"]["prompt_max_characters"] == 10
    ok = await api.post(
        GENERATIONS_PATH,
        json={"model": "nano-banana-pro", "prompt": "a lemon", "aspect_ratio": "1:1"},
    )
    assert ok.status_code == 200
