"""A job's cost: the worst case before it is sent, and what it cost once settled.

The estimate is what the bot reserves against a budget, so it must not be below what
the gateway can charge:

* a per-request model: its price (or its ``max_price``, when higher) per image asked;
* a token-billed model (gpt-image-2): the prompt's tokens, the reference images'
  tokens and the output tokens for the size and quality asked (``high`` when the
  member left quality to the model), at the token prices, at most ``max_price`` per
  image when the gateway bounds it.

The settled cost comes from the answer's ``usage`` when the gateway reports it, else
from the price per image actually delivered, else (a token-billed answer without usage)
from the estimate, scaled to the images delivered; a model admitted without a published
price (a budget allowing unpriced models) settles at 0, marked ``unpriced``. A failed job
costs nothing: the gateway releases or refunds it. Each cost says where it came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.billing.prices import Price
from bot.lemondata import Usage

TOKENS_PER_PIXEL_BASE = 1024 * 1024
# Image output tokens of one 1024x1024 picture by quality (OpenAI's GPT Image tables);
# other sizes scale with their pixels. "auto" may be any of them: the worst is reserved.
OUTPUT_TOKENS = {"low": 272, "medium": 1056, "high": 4160, "auto": 4160}
CHARS_PER_TOKEN = 4  # English text: about four characters a token (CJK: one each)
REFERENCE_TOKENS = 1600  # input tokens of one reference image, at most (high fidelity)
SOURCES = ("usage", "price", "estimate", "unpriced")


@dataclass(frozen=True)
class Cost:
    """A settled cost in micro-dollars, and where the figure came from."""

    micros: int
    source: str  # usage | price | estimate | unpriced


def _per_million(tokens: int, price: int | None) -> int:
    """Return ``tokens`` at ``price`` micro-dollars per million tokens, rounded up."""
    return math.ceil(tokens * (price or 0) / 1_000_000)


def prompt_tokens(prompt: str) -> int:
    """Return at most how many text tokens ``prompt`` is (a CJK character may be one)."""
    ascii_chars = sum(1 for c in prompt if ord(c) < 128)
    return math.ceil(ascii_chars / CHARS_PER_TOKEN) + (len(prompt) - ascii_chars)


def estimate_cost(
    price: Price,
    *,
    prompt: str,
    count: int,
    pixels: int,
    quality: str | None = None,
    references: int = 0,
) -> int:
    """Return the most a request can cost, in micro-dollars (see the module docstring)."""
    count = max(1, count)
    if not price.token_billed:
        each = max(price.per_request or 0, price.max_price or 0)
        return each * count
    output = math.ceil(
        OUTPUT_TOKENS.get(quality or "auto", OUTPUT_TOKENS["high"]) * pixels / TOKENS_PER_PIXEL_BASE
    )
    cost = (
        _per_million(prompt_tokens(prompt), price.text_input)
        + _per_million(references * REFERENCE_TOKENS, price.image_input)
        + _per_million(output * count, price.image_output)
    )
    if price.max_price is not None:
        cost = min(cost, price.max_price * count)
    return cost


def settle_cost(
    price: Price | None,
    usage: Usage | None,
    *,
    delivered: int,
    asked: int,
    estimate: int,
) -> Cost:
    """Return what a succeeded job cost: from usage, else the price, else the estimate."""
    if price is not None and usage is not None and price.token_billed:
        text = max(0, usage.input_tokens - usage.image_tokens - usage.cached_tokens)
        micros = (
            _per_million(text, price.text_input)
            + _per_million(usage.image_tokens, price.image_input)
            + _per_million(usage.cached_tokens, price.cached_input)
            + _per_million(usage.output_tokens, price.image_output)
        )
        return Cost(micros, "usage")
    if price is None:
        return Cost(0, "unpriced")  # admitted unpriced: no figure to settle at
    if not price.token_billed:
        return Cost((price.per_request or 0) * delivered, "price")
    return Cost(estimate * min(delivered, asked) // max(1, asked), "estimate")
