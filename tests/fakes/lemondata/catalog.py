"""The model list: one ``ModelListItem`` per model, with its ``tokenlab`` extension block."""

from __future__ import annotations

from typing import Any

from tests.fakes.lemondata.contract import GPT_IMAGE_MODEL, MODEL_CREATED


def _owner(model: str) -> str:
    if model.startswith(("gpt-", "dall-e")):
        return "openai"
    if model.startswith(("gemini", "nano-banana")):
        return "google"
    if model.startswith("flux"):
        return "black-forest-labs"
    if model.startswith("midjourney"):
        return "midjourney"
    return "lemondata"


def model_item(model: str, rank: int, recommended_for: str | None) -> dict[str, Any]:
    """Return the ``ModelListItem`` of ``model`` (with its rank when recommended)."""
    token_billed = model == GPT_IMAGE_MODEL
    tokenlab: dict[str, Any] = {
        "aliases": [],
        "pricing": (
            {"input_per_million": 5.0, "image_output_per_million": 30.0}
            if token_billed
            else {"per_image": 0.04}
        ),
        "capabilities": ["image_generation"],
        "max_input_tokens": None,
        "max_output_tokens": None,
        "category": "image",
        "pricing_unit": "per_million_tokens" if token_billed else "per_image",
        "has_complex_pricing": token_billed,
        "lifecycle": {
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
        },
        "commercial": {"user_charge_policy": "paid", "free_reason": None, "free_until": None},
        "badges": [],
    }
    if recommended_for is not None:
        tokenlab["agent_preferences"] = {recommended_for: {"recommended": True, "rank": rank}}
    return {
        "id": model,
        "object": "model",
        "created": MODEL_CREATED,
        "owned_by": _owner(model),
        "tokenlab": tokenlab,
    }
