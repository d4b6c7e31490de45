"""The LemonData emulator's prices: GET /v1/pricing, overrides and unpriced models."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.fakes.lemondata import (
    DEFAULT_MODELS,
    GPT_IMAGE_TOKEN_PRICES,
    schema_errors,
)

NO_TLS: dict[str, Any] = {"verify": False}
PER_REQUEST = {
    "dall-e-3": "0.040",
    "gemini-3-pro-image-preview": "0.134",
    "nano-banana-pro": "0.134",
    "gemini-2.5-flash-image": "0.039",
    "gemini-3.1-flash-image-preview": "0.039",
    "nano-banana": "0.039",
    "gemini-2.0-flash-preview-image-generation": "0.039",
    "flux-pro": "0.050",
    "midjourney": "0.080",
}


async def price_list(api: httpx.AsyncClient, **query: str) -> dict[str, Any]:
    response = await api.get("/v1/pricing", params=query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def entries(api: httpx.AsyncClient, **query: str) -> dict[str, dict[str, Any]]:
    return {entry["model"]: entry for entry in (await price_list(api, **query))["data"]}


async def list_pricing(api: httpx.AsyncClient) -> dict[str, Any]:
    """Each listed model's extension block, by id."""
    body = (await api.get("/v1/models")).json()
    return {item["id"]: item.get("tokenlab") or item.get("lemondata") for item in body["data"]}


# --------------------------------------------------------------------------- GET /v1/pricing


async def test_pricing_list_fits_the_contract(lemondata, api):
    """GET /v1/pricing is a PricingResponse with one PricingEntry per listed model."""
    body = await price_list(api)
    assert schema_errors("PricingResponse", body) == []
    assert (body["object"], body["currency"]) == ("pricing", "USD")
    assert datetime.fromisoformat(body["updated_at"]).tzinfo is not None
    assert [entry["model"] for entry in body["data"]] == DEFAULT_MODELS
    for entry in body["data"]:
        assert schema_errors("PricingEntry", entry) == []
        assert entry["aliases"] == []
        assert entry["supported_operations"] == list(lemondata.supported_operations(entry["model"]))
    lemondata.pricing_updated_at = "2026-08-01T12:00:00Z"
    assert (await price_list(api))["updated_at"] == "2026-08-01T12:00:00Z"


async def test_per_request_models_are_lock_prices_matching_the_list(api):
    """Per-request models: is_lock_price and lock_price_per_request, the list's per_request."""
    listed, priced = await list_pricing(api), await entries(api)
    for model, price in PER_REQUEST.items():
        entry = priced[model]
        assert listed[model]["pricing"]["per_request"] == price
        assert (entry["is_lock_price"], entry["lock_price_per_request"]) == (True, price)
        assert (entry["input_per_1m_tokens"], entry["output_per_1m_tokens"]) == (None, None)
        assert entry["has_complex_pricing"] is listed[model]["has_complex_pricing"]
        assert entry["pricing_summary"]["per_request"] == price
    pro = priced["nano-banana-pro"]["pricing_summary"]
    assert (pro["min_price"], pro["max_price"]) == ("0.134", "0.240")
    assert priced["midjourney"]["provider"] == "midjourney"
    assert priced["dall-e-3"]["capabilities"] == ["image_generation"]


async def test_gpt_image_is_billed_by_tokens(api):
    """gpt-image-2: token prices as the list gives them, its detailed prices in the summary."""
    listed = (await list_pricing(api))["gpt-image-2"]["pricing"]
    entry = (await entries(api))["gpt-image-2"]
    assert (entry["is_lock_price"], entry["lock_price_per_request"]) == (False, None)
    assert (entry["input_per_1m_tokens"], entry["output_per_1m_tokens"]) == ("5.00", "40.00")
    assert (listed["input_per_1m"], listed["output_per_1m"]) == ("5.00", "40.00")
    assert entry["has_complex_pricing"] is True
    assert entry["provider"] == "openai"
    assert entry["pricing_summary"] == {
        "unit": "per_1m_tokens",
        "currency": "USD",
        "text_input_per_1m": "5.00",
        "image_input_per_1m": "8.00",
        "cached_input_per_1m": "1.25",
        "image_output_per_1m": "40.00",
        "min_price": listed["min_price"],
        "max_price": listed["max_price"],
    }
    detail = (await api.get("/v1/models/gpt-image-2/pricing")).json()
    assert detail["pricing_details"] == {"currency": "USD", **GPT_IMAGE_TOKEN_PRICES}


async def test_a_price_override_moves_every_route(lemondata, api):
    """model_overrides' pricing (and token_prices) change the list and /v1/pricing alike."""
    lemondata.model_overrides["dall-e-3"] = {"pricing": {"per_request": "0.080"}}
    lemondata.model_overrides["gpt-image-2"] = {
        "pricing": {"input_per_1m": "6.00", "max_price": "0.300"},
        "token_prices": {"image_input_per_1m": "10.00"},
    }
    listed, priced = await list_pricing(api), await entries(api)
    assert listed["dall-e-3"]["pricing"]["per_request"] == "0.080"
    assert priced["dall-e-3"]["lock_price_per_request"] == "0.080"
    assert listed["gpt-image-2"]["pricing"]["input_per_1m"] == "6.00"
    gpt = priced["gpt-image-2"]
    assert gpt["input_per_1m_tokens"] == "6.00"
    assert gpt["output_per_1m_tokens"] == "40.00"
    summary = gpt["pricing_summary"]
    assert (summary["text_input_per_1m"], summary["image_input_per_1m"]) == ("6.00", "10.00")
    assert summary["max_price"] == "0.300"
    detail = (await api.get("/v1/models/gpt-image-2/pricing")).json()
    assert detail["pricing_details"]["image_input_per_1m"] == "10.00"
    assert detail["pricing_details"]["text_input_per_1m"] == "6.00"
    compact = (await api.get("/v1/models", params={"view": "compact"})).json()
    by_id = {item["id"]: item for item in compact["data"]}
    assert by_id["dall-e-3"]["pricing"]["per_request"] == "0.080"
    assert schema_errors("CompactModelsResponse", compact) == []


async def test_token_prices_set_the_list_prices_unless_pricing_does(lemondata, api):
    """token_prices' text input / image output become the list's input / output prices."""
    lemondata.model_overrides["gpt-image-2"] = {
        "token_prices": {"text_input_per_1m": "4.00", "image_output_per_1m": "32.00"}
    }
    listed = (await list_pricing(api))["gpt-image-2"]["pricing"]
    assert (listed["input_per_1m"], listed["output_per_1m"]) == ("4.00", "32.00")
    entry = (await entries(api))["gpt-image-2"]
    assert (entry["input_per_1m_tokens"], entry["output_per_1m_tokens"]) == ("4.00", "32.00")


async def test_an_unpriced_model_has_no_price_anywhere(lemondata, api):
    """pricing None: out of /v1/pricing, no pricing block in the list, compact or detail."""
    priced_list = schema_errors("ModelsResponse", (await api.get("/v1/models")).json())
    lemondata.model_overrides["nano-banana"] = {"pricing": None}
    priced = await entries(api)
    assert "nano-banana" not in priced
    assert len(priced) == len(DEFAULT_MODELS) - 1
    body = (await api.get("/v1/models")).json()
    ext = next(item["tokenlab"] for item in body["data"] if item["id"] == "nano-banana")
    assert "pricing" not in ext
    assert "pricing_unit" not in ext
    assert ext["has_complex_pricing"] is False
    # What it adds to the list's departures from the schema: the price fields it requires.
    added = set(schema_errors("ModelsResponse", body)) - set(priced_list)
    index = DEFAULT_MODELS.index("nano-banana")
    assert added == {
        f"data/{index}/tokenlab: 'pricing' is a required property",
        f"data/{index}/tokenlab: 'pricing_unit' is a required property",
    }
    compact = (await api.get("/v1/models", params={"view": "compact"})).json()
    item = next(item for item in compact["data"] if item["id"] == "nano-banana")
    assert "pricing" not in item
    detail = (await api.get("/v1/models/nano-banana")).json()["tokenlab"]
    assert "pricing" not in detail
    assert detail["pricing_summary"] is None
    alone = (await api.get("/v1/models/nano-banana/pricing")).json()
    assert (alone["pricing"], alone["scalar_pricing"], alone["pricing_details"]) == (None, {}, None)
    assert schema_errors("ModelPricingResponse", alone) == []
    del lemondata.model_overrides["nano-banana"]
    assert "nano-banana" in await entries(api)


async def test_only_listed_models_are_priced(lemondata, api):
    """/v1/pricing follows the models knob."""
    lemondata.models = ["midjourney", "gpt-image-2"]
    assert list(await entries(api)) == ["midjourney", "gpt-image-2"]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"provider": "openai"}, ["gpt-image-2", "dall-e-3"]),
        ({"provider": "black-forest-labs"}, ["flux-pro"]),
        ({"tag": "image-edit"}, ["gpt-image-2", "flux-pro"]),
        ({"tag": "image_to_image", "provider": "openai"}, []),
        ({"tag": "image"}, DEFAULT_MODELS),
        ({"tag": "video"}, []),
    ],
)
async def test_provider_and_tag_filters(api, query, expected):
    """provider keeps one owner's models; tag those with that capability or operation."""
    assert list(await entries(api, **query)) == expected


async def test_pricing_needs_the_api_key(lemondata, api):
    """/v1/pricing is authenticated like every /v1 route."""
    async with httpx.AsyncClient(base_url=lemondata.base_url, **NO_TLS) as anonymous:
        refused = await anonymous.get("/v1/pricing")
    assert refused.status_code == 401
    assert refused.json()["error"]["type"] == "invalid_api_key"
    lemondata.refuse_key = True
    assert (await api.get("/v1/pricing")).status_code == 401


async def test_the_rate_limiter_counts_pricing(lemondata, api):
    """/v1/pricing spends the key's budget like the other routes; past it: 429."""
    lemondata.rate_limit = 2
    first = await api.get("/v1/pricing")
    second = await api.get("/v1/models")
    third = await api.get("/v1/pricing")
    assert [r.status_code for r in (first, second, third)] == [200, 200, 429]
    assert first.headers["x-ratelimit-remaining"] == "1"
    assert third.json()["error"]["code"] == "rate_limit_exceeded"
    assert [(e.path, e.admitted) for e in lemondata.rate_log] == [
        ("/v1/pricing", True),
        ("/v1/models", True),
        ("/v1/pricing", False),
    ]
    assert lemondata.rate_limited_count == 1


async def test_models_gate_holds_pricing(lemondata, api):
    """models_gate makes /v1/pricing wait like the model routes."""
    lemondata.models_gate = asyncio.Event()
    waiting = asyncio.ensure_future(api.get("/v1/pricing"))
    await lemondata.wait_for(lambda: lemondata.models_gated == 1)
    assert not waiting.done()
    lemondata.models_gate.set()
    assert (await waiting).status_code == 200
    assert lemondata.models_gated == 0
