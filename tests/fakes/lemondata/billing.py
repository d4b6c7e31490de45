"""What the gateway charges: the price list (``GET /v1/pricing``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

from tests.fakes.lemondata.catalog import (
    CURRENCY,
    ModelOverride,
    owner,
    pricing_entry,
)
from tests.fakes.lemondata.contract import error_body

PRICING_UPDATED_AT = "2026-07-01T00:00:00Z"
PRICING_PATH = "/v1/pricing"


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
    """The emulator's half that publishes prices (a mixin).

    It reads the emulator's state and knobs declared below.
    """

    models: list[str]
    model_overrides: dict[str, ModelOverride]
    pricing_updated_at: str

    async def _pass_gate(self, name: str) -> bool:  # pragma: no cover - the emulator's
        raise NotImplementedError

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
