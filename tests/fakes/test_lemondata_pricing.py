"""The LemonData emulator's prices (GET /v1/pricing) and the usage of token-billed answers."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from tests.fakes.lemondata import (
    DEFAULT_MODELS,
    EDITS_PATH,
    GENERATIONS_PATH,
    GPT_IMAGE_TOKEN_PRICES,
    make_png,
    output_tokens_per_image,
    schema_errors,
    text_tokens,
    usage_cost,
)

NO_TLS: dict[str, Any] = {"verify": False}
RED = make_png((255, 0, 0))
GREEN = make_png((0, 255, 0))
PROMPT = "a lemon on a table"  # 18 characters: 5 text tokens
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


def usage(text: int, image: int, output: int) -> dict[str, Any]:
    """The usage an answer should carry, written out (not computed by the emulator)."""
    return {
        "input_tokens": text + image,
        "input_tokens_details": {"text_tokens": text, "image_tokens": image, "cached_tokens": 0},
        "output_tokens": output,
        "total_tokens": text + image + output,
    }


async def create(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post(
        GENERATIONS_PATH, json={"model": "gpt-image-2", "prompt": PROMPT, **body}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


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


async def poll_until_done(api: httpx.AsyncClient, task_id: str) -> list[dict[str, Any]]:
    bodies = []
    for _ in range(5):
        body = (await api.get(f"/v1/tasks/{task_id}")).json()
        bodies.append(body)
        if body["status"] in ("completed", "failed"):
            return bodies
    raise AssertionError(f"task {task_id} never finished: {bodies[-1]}")


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


# --------------------------------------------------------------------------- usage formulas


@pytest.mark.parametrize(
    ("prompt", "tokens"), [("a", 1), ("abcd", 1), ("abcde", 2), (PROMPT, 5), ("x" * 400, 100)]
)
def test_text_tokens_are_a_quarter_of_the_characters_rounded_up(prompt, tokens):
    assert text_tokens(prompt) == tokens


@pytest.mark.parametrize(
    ("size", "quality", "tokens"),
    [
        ("1024x1024", "low", 272),
        ("1024x1024", "medium", 1056),
        ("1024x1024", "high", 4160),
        ("1024x1024", "auto", 1056),
        (None, None, 1056),
        ("auto", "high", 4160),
        ("1536x1024", "low", 408),
        ("1024x1536", "medium", 1584),
        ("1536x1024", "high", 6240),
        ("2048x2048", "high", 16640),
        ("1280x720", "low", 240),  # 272 * 0.87890625 = 239.06: rounded up
    ],
)
def test_output_tokens_per_image_scale_with_pixels(size, quality, tokens):
    assert output_tokens_per_image(size, quality) == tokens


def test_usage_cost_prices_each_kind_of_token():
    """(T - C) x text + I x image input + C x cached + O x image output, per million."""
    prices = {
        "text_input_per_1m": "5.00",
        "image_input_per_1m": "8.00",
        "cached_input_per_1m": "1.25",
        "image_output_per_1m": "40.00",
    }
    forced = {
        "input_tokens": 1100,
        "input_tokens_details": {"text_tokens": 100, "image_tokens": 1000, "cached_tokens": 40},
        "output_tokens": 1056,
        "total_tokens": 2156,
    }
    expected = Decimal("0.000300") + Decimal("0.008") + Decimal("0.00005") + Decimal("0.04224")
    assert usage_cost(forced, prices) == expected


# --------------------------------------------------------------------------- usage on answers


async def test_inline_create_reports_exact_usage(lemondata, api):
    """gpt-image-2's JSON answer carries usage: 5 text tokens, 2 x 6240 output tokens."""
    body = await create(api, size="1536x1024", quality="high", n=2)
    assert schema_errors("ImageGenerationResponse", body) == []
    assert body["usage"] == usage(text=5, image=0, output=2 * 6240)
    generation = lemondata.generation(body["data"][0]["url"])
    assert generation.usage == body["usage"]
    assert lemondata.reported_cost(generation.generation_id) == Decimal("0.499225")


async def test_defaults_and_b64_answers_report_usage(lemondata, api):
    """No size or quality: 1024x1024 medium; b64_json answers carry usage too."""
    body = await create(api, response_format="b64_json", prompt="abcde")
    assert base64.b64decode(body["data"][0]["b64_json"])
    assert body["usage"] == usage(text=2, image=0, output=1056)
    assert lemondata.generations[-1].usage == body["usage"]


async def test_output_tokens_count_the_images_returned(lemondata, api):
    """short_images: only the images actually answered are counted."""
    lemondata.short_images = 1
    body = await create(api, n=3, quality="low")
    assert len(body["data"]) == 2
    assert body["usage"] == usage(text=5, image=0, output=2 * 272)


async def test_json_edit_counts_each_input_image_but_not_the_mask(lemondata, api):
    """1000 image tokens per input image (URL or file_id); the mask is free."""
    upload = await api.post(
        "/v1/files", data={"purpose": "vision"}, files={"file": ("g.png", GREEN, "image/png")}
    )
    response = await api.post(
        EDITS_PATH,
        json={
            "model": "gpt-image-2",
            "prompt": "make it blue",  # 12 characters: 3 tokens
            "images": [{"image_url": lemondata.host(RED)}, {"file_id": upload.json()["id"]}],
            "mask": {"image_url": lemondata.host(RED)},
            "size": "1024x1536",
            "quality": "medium",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["usage"] == usage(text=3, image=2000, output=1584)


async def test_multipart_edit_counts_uploads(lemondata, api):
    """Multipart uploads are input images too; fields arrive as strings."""
    response = await api.post(
        EDITS_PATH,
        data={"model": "gpt-image-2", "prompt": PROMPT, "n": "2", "quality": "low"},
        files=[
            ("image", ("a.png", RED, "image/png")),
            ("image", ("b.png", GREEN, "image/png")),
            ("image[]", ("c.png", RED, "image/png")),
            ("mask", ("m.png", GREEN, "image/png")),
        ],
    )
    assert response.status_code == 200, response.text
    assert response.json()["usage"] == usage(text=5, image=3000, output=2 * 272)


async def test_completed_task_reports_usage_and_keeps_it(lemondata, api):
    """An async create: no usage while pending or running; the completed body has it."""
    created = await create(api, **{"async": True, "quality": "high"})
    assert "usage" not in created
    first, done = await poll_until_done(api, created["task_id"])
    assert first["status"] == "processing"
    assert "usage" not in first
    assert done["status"] == "completed"
    assert done["usage"] == usage(text=5, image=0, output=4160)
    assert schema_errors("VideoTaskResponse", done) == []
    task = lemondata.tasks[created["task_id"]]
    assert task.usage == done["usage"]
    assert lemondata.generation(task.task_id).usage == done["usage"]
    again = (await api.get(f"/v1/tasks/{task.task_id}")).json()
    assert again["usage"] == done["usage"]
    # (5 x 5.00 + 4160 x 40.00) / 1M
    assert lemondata.reported_cost(task.task_id) == Decimal("0.166425")


async def test_completed_task_by_hand_and_its_edit_inputs(lemondata, api):
    """complete_task settles usage too; an async edit counts its input images."""
    lemondata.hold_tasks = True
    response = await api.post(
        EDITS_PATH,
        json={
            "model": "gpt-image-2",
            "prompt": PROMPT,
            "image_url": lemondata.host(RED),
            "async": True,
        },
    )
    task_id = response.json()["task_id"]
    running = (await api.get(f"/v1/tasks/{task_id}")).json()
    assert running["status"] == "processing"
    assert "usage" not in running
    lemondata.complete_task(task_id)
    done = (await api.get(f"/v1/tasks/{task_id}")).json()
    assert done["usage"] == usage(text=5, image=1000, output=1056)


async def test_failed_task_reports_no_usage(lemondata, api):
    """A failed task settles nothing."""
    lemondata.fail_task_models["gpt-image-2"] = "upstream refused"
    created = await create(api, **{"async": True})
    *_, failed = await poll_until_done(api, created["task_id"])
    assert failed["status"] == "failed"
    assert "usage" not in failed
    assert lemondata.tasks[created["task_id"]].usage is None
    assert lemondata.reported_cost(created["task_id"]) is None


async def test_per_request_models_report_no_usage(lemondata, api):
    """dall-e-3 inline and flux-pro tasks are priced per request: no usage."""
    body = await create(api, model="dall-e-3")
    assert "usage" not in body
    assert lemondata.generations[-1].usage is None
    assert lemondata.reported_cost(lemondata.generations[-1].generation_id) is None
    created = await create(api, model="flux-pro", **{"async": True})
    *_, done = await poll_until_done(api, created["task_id"])
    assert done["status"] == "completed"
    assert "usage" not in done


async def test_a_model_made_token_billed_reports_usage(lemondata, api):
    """Usage follows the pricing unit: an override billing dall-e-3 by tokens makes it report."""
    lemondata.model_overrides["dall-e-3"] = {
        "pricing": {"unit": "per_1m_tokens", "input_per_1m": "1.00", "output_per_1m": "2.00"}
    }
    body = await create(api, model="dall-e-3", quality="hd")
    assert body["usage"] == usage(text=5, image=0, output=1056)  # hd: not a token quality
    entry = (await entries(api))["dall-e-3"]
    assert (entry["is_lock_price"], entry["input_per_1m_tokens"]) == (False, "1.00")


async def test_an_unpriced_token_model_reports_no_usage(lemondata, api):
    """With no price there is nothing to settle: no usage."""
    lemondata.model_overrides["gpt-image-2"] = {"pricing": None}
    assert "usage" not in await create(api)


async def test_report_usage_false_drops_usage(lemondata, api):
    """report_usage False: no usage inline nor on tasks, even with usage_override set."""
    lemondata.report_usage = False
    lemondata.usage_override = usage(text=1, image=0, output=1)
    body = await create(api)
    assert "usage" not in body
    assert lemondata.generations[-1].usage is None
    created = await create(api, **{"async": True})
    *_, done = await poll_until_done(api, created["task_id"])
    assert done["status"] == "completed"
    assert "usage" not in done
    lemondata.report_usage = True
    assert (await create(api))["usage"] == usage(text=1, image=0, output=1)


async def test_usage_override_dict_is_sent_as_given(lemondata, api):
    """A dict usage_override is every token-billed answer's usage while set (copied)."""
    forced = {"input_tokens": 7, "output_tokens": 9, "total_tokens": 16, "extra": [1]}
    lemondata.usage_override = forced
    inline = await create(api, n=3, quality="high")
    assert inline["usage"] == forced
    created = await create(api, **{"async": True})
    *_, done = await poll_until_done(api, created["task_id"])
    assert done["usage"] == forced
    recorded = lemondata.generation(created["task_id"]).usage
    forced["extra"].append(2)
    assert recorded == {"input_tokens": 7, "output_tokens": 9, "total_tokens": 16, "extra": [1]}
    lemondata.usage_override = None
    assert (await create(api))["usage"] == usage(text=5, image=0, output=1056)


async def test_usage_override_callable_sees_the_generation(lemondata, api):
    """A callable gets (generation, images returned); returning None drops usage."""
    seen: list[tuple[str, int]] = []

    def forced(generation: Any, images: int) -> dict[str, Any] | None:
        seen.append((generation.prompt, images))
        if generation.prompt == "no usage":
            return None
        return usage(text=100, image=0, output=images * 10)

    lemondata.usage_override = forced
    assert (await create(api, n=2))["usage"] == usage(text=100, image=0, output=20)
    assert "usage" not in await create(api, prompt="no usage")
    assert lemondata.generations[-1].usage is None
    assert "usage" not in await create(api, model="dall-e-3")  # per request: not asked
    assert seen == [(PROMPT, 2), ("no usage", 1)]
