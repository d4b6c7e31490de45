"""The image options each model takes: published in its request format, enforced on creates.

Every refusal is checked against the gateway's ``ApiError`` / ``ValidationError``
schemas; every summary against ``NonChatRequestFormatSummary``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fakes.lemondata import GENERATIONS_PATH, make_png, schema_errors


async def post(api: httpx.AsyncClient, path: str = GENERATIONS_PATH, **body: Any) -> httpx.Response:
    return await api.post(path, json={"prompt": "a lemon", **body})


# --------------------------------------------------------------------------- models


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
