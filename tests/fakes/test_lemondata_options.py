"""The image options each model takes: published in its request format, enforced on creates.

Every refusal is checked against the gateway's ``ApiError`` / ``ValidationError``
schemas; every summary against ``NonChatRequestFormatSummary``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes.lemondata import (
    EDITS_PATH,
    GENERATIONS_PATH,
    make_png,
    schema_errors,
)

COMMON = ["prompt", "n", "response_format", "user"]
I2I_INPUTS = ["operation", "image_url", "image_urls", "reference_image_urls", "mask_url"]
GPT_PARAMS = [
    *COMMON,
    "size",
    "quality",
    "async",
    "background",
    "output_format",
    "output_compression",
    "compression",
    "moderation",
    "partial_images",
]
FLUX_PARAMS = [
    *COMMON,
    "aspect_ratio",
    "async",
    "seed",
    "negative_prompt",
    "background",
    "output_format",
    "output_compression",
    "compression",
]
MIDJOURNEY_RATIOS = ["1:1", "2:3", "3:2"]


async def summary_of(api: httpx.AsyncClient, model: str) -> dict[str, Any]:
    response = await api.get(f"/v1/models/{model}")
    assert response.status_code == 200, response.text
    body = response.json()
    (block,) = (body[key] for key in ("tokenlab", "lemondata") if key in body)
    summary: dict[str, Any] = block["request_format_summary"]
    assert schema_errors("NonChatRequestFormatSummary", summary) == []
    return summary


async def post(api: httpx.AsyncClient, path: str = GENERATIONS_PATH, **body: Any) -> httpx.Response:
    return await api.post(path, json={"prompt": "a lemon", **body})


def refusal(response: httpx.Response, param: str) -> dict[str, Any]:
    """Return the error of a 400 naming ``param``, checked against the contract's schemas."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert schema_errors("ApiError", body) == []
    assert schema_errors("ValidationError", body) == []
    error: dict[str, Any] = body["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"].startswith(f"{param}: ")
    assert body["validation_errors"] == [{"field": param, "message": error["message"]}]
    return error


# --------------------------------------------------------------------------- published


@pytest.mark.parametrize(
    ("model", "params", "ratios", "formats"),
    [
        ("gpt-image-2", GPT_PARAMS, [], ["png", "jpeg", "webp"]),
        ("flux-pro", FLUX_PARAMS, None, ["png", "jpeg", "webp"]),
        (
            "nano-banana-pro",
            [*COMMON, "aspect_ratio", "resolution", *I2I_INPUTS, "negative_prompt", "seed"],
            None,
            ["png"],
        ),
        (
            "nano-banana",
            [*COMMON, "aspect_ratio", *I2I_INPUTS, "negative_prompt", "seed"],
            None,
            ["png"],
        ),
        ("gemini-2.0-flash-preview-image-generation", COMMON, [], ["png"]),
        ("dall-e-3", [*COMMON, "size", "quality", "style"], [], ["png"]),
        (
            "midjourney",
            [*COMMON, "aspect_ratio", "negative_prompt", "seed"],
            MIDJOURNEY_RATIOS,
            ["png"],
        ),
    ],
)
async def test_each_family_publishes_its_parameters(api, model, params, ratios, formats):
    """supported_parameters, ratios and output formats per family, in every constraint too."""
    summary = await summary_of(api, model)
    assert summary["supported_parameters"] == params
    assert summary["output_formats"] == formats
    if ratios is not None:
        assert summary["aspect_ratios"] == ratios
    for constraint in summary["operation_constraints"]:
        assert constraint["supported_parameters"] == params
        assert constraint["allowed_aspect_ratios"] == summary["aspect_ratios"]


async def test_midjourney_recommends_a_square_and_answers_inline(lemondata, api):
    """Midjourney: three ratios, a 1:1 recommendation, synchronous images."""
    summary = await summary_of(api, "midjourney")
    assert summary["recommended_request_summary"] == {"aspect_ratio": "1:1"}
    assert summary["status_mode"] == "sync"
    assert summary["feature_flags"]["async"] is False
    detail = (await api.get("/v1/models/midjourney")).json()["lemondata"]
    assert detail["request_format_details"]["recommended_request"]["aspect_ratio"] == "1:1"
    assert (await summary_of(api, "flux-pro"))["recommended_request_summary"] is None
    answer = await post(api, model="midjourney", aspect_ratio="2:3", n=4)
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["data"]) == 4
    assert lemondata.tasks == {}


async def test_gemini_without_image_to_image_takes_no_seed(lemondata, api):
    """negative_prompt and seed come with image-to-image: a text-only override drops them."""
    lemondata.model_overrides["nano-banana"] = {"supported_operations": ["text-to-image"]}
    summary = await summary_of(api, "nano-banana")
    assert summary["supported_parameters"] == [*COMMON, "aspect_ratio"]
    refusal(await post(api, model="nano-banana", seed=7), "seed")


async def test_overridden_lists_reach_the_constraints(lemondata, api):
    """Overriding the top-level lists rewrites the operation constraints to match."""
    lemondata.model_overrides["flux-pro"] = {
        "request_format_summary": {
            "supported_parameters": [*COMMON, "aspect_ratio"],
            "aspect_ratios": ["1:1", "4:3"],
        }
    }
    summary = await summary_of(api, "flux-pro")
    assert summary["optional_selectors"] == ["aspect_ratio"]
    assert [c["operation"] for c in summary["operation_constraints"]] == [
        "text-to-image",
        "image-edit",
    ]
    for constraint in summary["operation_constraints"]:
        assert constraint["supported_parameters"] == [*COMMON, "aspect_ratio"]
        assert constraint["allowed_aspect_ratios"] == ["1:1", "4:3"]


# --------------------------------------------------------------------------- enforced

UNSUPPORTED: list[tuple[str, str, Any]] = [
    ("gpt-image-2", "seed", 7),
    ("gpt-image-2", "negative_prompt", "no cats"),
    ("gpt-image-2", "style", "vivid"),
    ("gpt-image-2", "made_up", 1),
    ("dall-e-3", "seed", 7),
    ("dall-e-3", "async", True),
    ("dall-e-3", "background", "opaque"),
    ("nano-banana-pro", "async", True),
    ("nano-banana-pro", "output_format", "jpeg"),
    ("nano-banana", "resolution", "1k"),
    ("gemini-2.0-flash-preview-image-generation", "seed", 7),
    ("gemini-2.0-flash-preview-image-generation", "aspect_ratio", "1:1"),
    ("flux-pro", "quality", "high"),
    ("flux-pro", "moderation", "low"),
    ("midjourney", "async", True),
    ("midjourney", "resolution", "2k"),
    ("midjourney", "output_format", "png"),
]


@pytest.mark.parametrize(
    ("model", "field", "value"),
    UNSUPPORTED,
    ids=[f"{model}-{field}" for model, field, _ in UNSUPPORTED],
)
async def test_a_field_the_model_does_not_take_is_refused(lemondata, api, model, field, value):
    """400 on the field, listing the model's supported_parameters; nothing is made."""
    error = refusal(await post(api, model=model, **{field: value}), field)
    assert error["supported_parameters"] == (await summary_of(api, model))["supported_parameters"]
    assert error["model"] == model
    assert lemondata.generations == []


@pytest.mark.parametrize(
    ("model", "field", "hint"),
    [("gpt-image-2", "aspect_ratio", "send size"), ("flux-pro", "size", "send aspect_ratio")],
)
async def test_the_wrong_shape_field_names_the_right_one(api, model, field, hint):
    """gpt-image-2 takes size, not aspect_ratio; FLUX the other way round."""
    value = "16:9" if field == "aspect_ratio" else "1024x1024"
    error = refusal(await post(api, model=model, **{field: value}), field)
    assert hint in error["hint"]
    assert hint in error["message"]


ACCEPTED: list[tuple[str, dict[str, Any]]] = [
    ("gpt-jpeg-compression", {"output_format": "jpeg", "output_compression": 60}),
    ("gpt-webp-compression-alias", {"output_format": "webp", "compression": 0}),
    ("gpt-opaque-png", {"background": "opaque", "output_format": "png"}),
    ("gpt-moderation-low", {"moderation": "low"}),
    ("gpt-moderation-auto", {"moderation": "auto", "partial_images": 2}),
    ("gpt-user-async-size", {"user": "discord:1", "async": True, "size": "1536x1024"}),
    ("gpt-input-fidelity-dropped", {"input_fidelity": "high", "expand_prompt": True}),
    (
        "flux-everything",
        {
            "model": "flux-pro",
            "aspect_ratio": "16:9",
            "seed": 42,
            "negative_prompt": "no cats",
            "background": "transparent",
            "output_format": "webp",
            "output_compression": 80,
            "async": True,
        },
    ),
    ("flux-transparent-default-png", {"model": "flux-pro", "background": "transparent"}),
    ("flux-jpeg-opaque", {"model": "flux-pro", "output_format": "jpeg", "background": "opaque"}),
    ("flux-seed-max", {"model": "flux-pro", "seed": 2**32 - 1}),
    ("flux-seed-zero", {"model": "flux-pro", "seed": 0}),
    ("flux-negative-2000", {"model": "flux-pro", "negative_prompt": "x" * 2000}),
    ("pro-seed-negative", {"model": "nano-banana-pro", "seed": 1, "negative_prompt": ""}),
    ("flash-seed", {"model": "gemini-2.5-flash-image", "seed": 3, "aspect_ratio": "9:16"}),
    ("midjourney-tall", {"model": "midjourney", "aspect_ratio": "2:3", "seed": 5}),
    ("midjourney-negative-4", {"model": "midjourney", "negative_prompt": "blur", "n": 4}),
    ("gemini-async-false", {"model": "nano-banana-pro", "async": False}),
    ("dalle-style-user", {"model": "dall-e-3", "style": "natural", "user": "u"}),
    ("other-ratio", {"model": "midjourney", "aspect_ratio": "3:2", "response_format": "b64_json"}),
]


@pytest.mark.parametrize(
    "body", [body for _, body in ACCEPTED], ids=[case_id for case_id, _ in ACCEPTED]
)
async def test_options_the_model_takes_are_accepted(lemondata, api, body):
    """Every rule's accepted side: the create is answered and recorded as sent."""
    payload = {"model": "gpt-image-2", **body}
    response = await post(api, **payload)
    assert response.status_code == 200, response.text
    (generation,) = lemondata.generations
    assert generation.model == payload["model"]
    assert {k: v for k, v in generation.params.items() if k != "input_fidelity"} == {
        "prompt": "a lemon",
        **{k: v for k, v in payload.items() if k != "input_fidelity"},
    }


RULES: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "compression-without-format",
        {"output_compression": 50},
        "output_compression",
        "jpeg or webp",
    ),
    ("compression-png", {"output_format": "png", "compression": 50}, "compression", "jpeg or webp"),
    (
        "flux-compression-png",
        {"model": "flux-pro", "output_format": "png", "output_compression": 1},
        "output_compression",
        "jpeg or webp",
    ),
    (
        "flux-transparent-jpeg",
        {"model": "flux-pro", "background": "transparent", "output_format": "jpeg"},
        "background",
        "png or webp",
    ),
    ("gpt-transparent", {"background": "transparent"}, "background", "auto or opaque"),
    (
        "gpt-transparent-webp",
        {"background": "transparent", "output_format": "webp"},
        "background",
        "auto or opaque",
    ),
    ("moderation-high", {"moderation": "high"}, "moderation", "auto, low"),
    ("seed-string", {"model": "flux-pro", "seed": "7"}, "seed", "integer"),
    ("seed-bool", {"model": "flux-pro", "seed": True}, "seed", "integer"),
    ("seed-float", {"model": "flux-pro", "seed": 1.5}, "seed", "integer"),
    ("seed-huge", {"model": "flux-pro", "seed": 2**64}, "seed", "between"),
    (
        "negative-2001",
        {"model": "flux-pro", "negative_prompt": "x" * 2001},
        "negative_prompt",
        "2000",
    ),
    ("negative-int", {"model": "midjourney", "negative_prompt": 5}, "negative_prompt", "string"),
    ("midjourney-n-5", {"model": "midjourney", "n": 5}, "n", "at most 4"),
    ("dalle-n-2", {"model": "dall-e-3", "n": 2}, "n", "at most 1"),
    ("resolution-8k", {"model": "nano-banana-pro", "resolution": "8k"}, "resolution", "1k, 2k, 4k"),
]


@pytest.mark.parametrize(
    ("body", "param", "words"),
    [(body, param, words) for _, body, param, words in RULES],
    ids=[case_id for case_id, *_ in RULES],
)
async def test_option_rules_refuse_with_the_param(lemondata, api, body, param, words):
    """Each rule's refused side: 400 on the param, saying what would do."""
    error = refusal(await post(api, **{"model": "gpt-image-2", **body}), param)
    assert words in error["message"] + error.get("hint", "")
    assert lemondata.generations == []


async def test_gpt_transparent_hint_lists_what_it_accepts(api):
    """gpt-image-2's transparent refusal says auto and opaque, and recommends auto."""
    error = refusal(await post(api, model="gpt-image-2", background="transparent"), "background")
    assert "auto" in error["hint"] and "opaque" in error["hint"]
    assert "transparent" not in error["hint"]
    assert error["recommended_request"] == {"model": "gpt-image-2", "background": "auto"}


async def test_ratio_outside_the_list_answers_allowed_and_recommended(api):
    """Midjourney's 16:9 is refused with its three ratios and a 1:1 recommendation."""
    error = refusal(await post(api, model="midjourney", aspect_ratio="16:9"), "aspect_ratio")
    assert error["allowed_aspect_ratios"] == MIDJOURNEY_RATIOS
    assert error["recommended_request"] == {"model": "midjourney", "aspect_ratio": "1:1"}
    pro = refusal(await post(api, model="nano-banana-pro", aspect_ratio="7:3"), "aspect_ratio")
    assert pro["recommended_request"] == {"model": "nano-banana-pro", "aspect_ratio": "1:1"}
    assert "21:9" in pro["allowed_aspect_ratios"]


async def test_resolution_outside_the_list_answers_allowed(lemondata, api):
    """A resolution the model lacks answers allowed_resolutions (an override's too)."""
    error = refusal(await post(api, model="nano-banana-pro", resolution="2K"), "resolution")
    assert error["allowed_resolutions"] == ["1k", "2k", "4k"]
    lemondata.model_overrides["nano-banana-pro"] = {
        "request_format_summary": {"resolutions": ["2k"]}
    }
    narrowed = refusal(await post(api, model="nano-banana-pro", resolution="1k"), "resolution")
    assert narrowed["allowed_resolutions"] == ["2k"]
    assert narrowed["recommended_request"] == {"model": "nano-banana-pro", "resolution": "2k"}
    assert (await post(api, model="nano-banana-pro", resolution="2k")).status_code == 200


@pytest.mark.parametrize(
    ("model", "expected"),
    [("gpt-image-1", "gpt-image-2"), ("nano-banan", "nano-banana"), ("flux-pr0", "flux-pro")],
)
async def test_unknown_model_suggests_the_closest(api, model, expected):
    """model_not_found carries did_you_mean and suggestions, on creates and details."""
    response = await post(api, model=model)
    assert response.status_code == 400
    body = response.json()
    assert schema_errors("ApiError", body) == []
    error = body["error"]
    assert (error["type"], error["param"]) == ("model_not_found", "model")
    assert error["did_you_mean"] == expected
    assert expected in [s["id"] for s in error["suggestions"]]
    detail = await api.get(f"/v1/models/{model}")
    assert detail.status_code == 404
    assert detail.json()["error"]["did_you_mean"] == expected


async def test_unknown_model_far_from_any_suggests_the_listed_ones(lemondata, api):
    """Without a close id there is no did_you_mean; suggestions are the first listed models."""
    error = (await post(api, model="zzzzzzzz")).json()["error"]
    assert "did_you_mean" not in error
    assert [s["id"] for s in error["suggestions"]] == lemondata.models[:3]
    upload = await api.post(
        "/v1/files",
        data={"purpose": "vision", "model": "gpt-image-3"},
        files={"file": ("a.png", make_png((1, 2, 3)), "image/png")},
    )
    assert upload.json()["error"]["did_you_mean"] == "gpt-image-2"


# --------------------------------------------------------------------------- overrides


async def test_overridden_parameters_drive_the_refusals(lemondata, api):
    """A test's supported_parameters decide what is refused, and are what the 400 lists."""
    narrowed = [*COMMON, "aspect_ratio", "async"]
    lemondata.model_overrides["flux-pro"] = {
        "request_format_summary": {"supported_parameters": narrowed}
    }
    error = refusal(await post(api, model="flux-pro", seed=1), "seed")
    assert error["supported_parameters"] == narrowed
    widened = [*GPT_PARAMS, "aspect_ratio", "seed"]
    lemondata.model_overrides["gpt-image-2"] = {
        "request_format_summary": {"supported_parameters": widened}
    }
    answer = await post(api, model="gpt-image-2", aspect_ratio="16:9", seed=3)
    assert answer.status_code == 200, answer.text


async def test_overridden_ratios_and_max_n_drive_the_refusals(lemondata, api):
    """aspect_ratios and max_n overrides are enforced; the old list no longer is."""
    lemondata.model_overrides["midjourney"] = {
        "request_format_summary": {"aspect_ratios": ["16:9"]},
        "max_n": 2,
    }
    error = refusal(await post(api, model="midjourney", aspect_ratio="1:1"), "aspect_ratio")
    assert error["allowed_aspect_ratios"] == ["16:9"]
    assert error["recommended_request"] == {"model": "midjourney", "aspect_ratio": "16:9"}
    assert (await post(api, model="midjourney", aspect_ratio="16:9", n=2)).status_code == 200
    refusal(await post(api, model="midjourney", n=3), "n")


async def test_output_formats_override_is_enforced(lemondata, api):
    """output_format outside the published output_formats is refused with a hint."""
    lemondata.model_overrides["flux-pro"] = {"request_format_summary": {"output_formats": ["png"]}}
    error = refusal(await post(api, model="flux-pro", output_format="webp"), "output_format")
    assert "png" in error["hint"]
    assert (await post(api, model="flux-pro", output_format="png")).status_code == 200


# --------------------------------------------------------------------------- edits, forms


async def test_json_edits_follow_the_same_rules(lemondata, api):
    """Edits are held to the edit operation's parameters: FLUX's seed passes, GPT's does not."""
    image = lemondata.host(make_png((5, 5, 5)))
    error = refusal(
        await post(api, EDITS_PATH, model="gpt-image-2", image_url=image, seed=1), "seed"
    )
    assert "seed" not in error["supported_parameters"]
    flux = await post(
        api, EDITS_PATH, model="flux-pro", image_url=image, seed=1, negative_prompt="fog"
    )
    assert flux.status_code == 200, flux.text
    refusal(
        await post(api, EDITS_PATH, model="flux-pro", image_url=image, output_compression=5),
        "output_compression",
    )
    assert len(lemondata.generations) == 1


async def test_multipart_creates_and_edits_follow_the_same_rules(lemondata, api):
    """Form fields are coerced, then held to the model's parameters like JSON ones."""
    png = ("in.png", make_png((7, 7, 7)), "image/png")
    create = await api.post(
        GENERATIONS_PATH,
        data={"model": "nano-banana", "prompt": "a lemon", "seed": "9", "negative_prompt": "rain"},
        files={"image": png},
    )
    assert create.status_code == 200, create.text
    assert lemondata.generations[0].params["seed"] == 9
    refusal(
        await api.post(
            GENERATIONS_PATH,
            data={"model": "nano-banana", "prompt": "a lemon", "resolution": "2k"},
            files={"image": png},
        ),
        "resolution",
    )
    refusal(
        await api.post(
            EDITS_PATH,
            data={"model": "gpt-image-2", "prompt": "a lemon", "negative_prompt": "rain"},
            files={"image[]": png},
        ),
        "negative_prompt",
    )
    edit = await api.post(
        EDITS_PATH,
        data={"model": "gpt-image-2", "prompt": "a", "output_format": "jpeg", "compression": "40"},
        files={"image[]": png},
    )
    assert edit.status_code == 200, edit.text
    assert lemondata.generations[-1].params["compression"] == 40
    assert len(lemondata.generations) == 2
