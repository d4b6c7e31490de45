"""The gateway's prices, as integer micro-dollars (never floats).

The model list's ``pricing`` block (:class:`~bot.lemondata.Pricing`) gives a
per-request price, or token prices per million (input, output) with an optional
``min_price``/``max_price``; ``GET /v1/pricing`` adds, for token-billed models, the
detailed token prices (text, image and cached input; image output).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from bot.lemondata import Pricing

MICROS = 1_000_000  # micro-dollars per dollar
TOKEN_UNITS = ("per_1m_tokens", "per_token", "tokens")


def micros(amount: str | int | Decimal | None) -> int | None:
    """Return a USD amount as micro-dollars, rounded up (None when absent or malformed)."""
    if amount is None or amount == "":
        return None
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0:
        return None
    return int((value * MICROS).to_integral_value(rounding=ROUND_CEILING))


@dataclass(frozen=True)
class Price:
    """One model's price: per request, or per million tokens (micro-dollars)."""

    per_request: int | None = None
    text_input: int | None = None  # per 1M tokens
    image_input: int | None = None
    cached_input: int | None = None
    image_output: int | None = None
    min_price: int | None = None  # per request, when the gateway bounds it
    max_price: int | None = None

    @property
    def token_billed(self) -> bool:
        """Whether the model is billed by tokens (not per request)."""
        return self.per_request is None and self.image_output is not None


def price_of(pricing: Pricing | None, detail: dict[str, str] | None = None) -> Price | None:
    """Return the price the gateway publishes for a model, or None (no price known).

    ``detail``: the detailed token prices of ``GET /v1/pricing`` (``text_input_per_1m``,
    ``image_input_per_1m``, ``cached_input_per_1m``, ``image_output_per_1m``), when known.
    """
    if pricing is None:
        return None
    detail = detail or {}
    per_request = micros(pricing.per_request)
    tokens = pricing.unit in TOKEN_UNITS or (per_request is None and pricing.output_per_1m)
    if tokens:
        text = micros(detail.get("text_input_per_1m")) or micros(pricing.input_per_1m)
        output = micros(detail.get("image_output_per_1m")) or micros(pricing.output_per_1m)
        if output is None:
            return None
        return Price(
            text_input=text,
            image_input=micros(detail.get("image_input_per_1m")) or text,
            cached_input=micros(detail.get("cached_input_per_1m")) or text,
            image_output=output,
            min_price=micros(pricing.min_price),
            max_price=micros(pricing.max_price),
        )
    if per_request is None:
        return None
    return Price(
        per_request=per_request,
        min_price=micros(pricing.min_price),
        max_price=micros(pricing.max_price),
    )
