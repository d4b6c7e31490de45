"""The image options each model takes, and the rules creates and edits are held to.

The catalog publishes a model's ``request_format_summary`` from the defaults here; a
create or edit is then checked against the summary the detail route would answer (a
test's ``request_format_summary`` override included), so what a client reads is what
the emulator enforces. Type and shape checks (enums, integer ranges, ``size``) are
:mod:`~tests.fakes.lemondata.contract`'s; this module adds the per-model ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tests.fakes.lemondata.contract import (
    DALLE3_MODEL,
    GPT_IMAGE_ENUMS,
    GPT_IMAGE_MODEL,
    MAX_N,
    RESOLUTIONS,
    RequestPlan,
    RequestRejectedError,
    invalid_param,
)

# Fields every model takes, whatever its supported_parameters say.
ALWAYS_ACCEPTED = frozenset(
    {
        "model",
        "prompt",
        "n",
        "response_format",
        "user",
        "operation",
        "image",
        "image_url",
        "image_urls",
        "reference_image_urls",
        "mask_url",
        "mask",
        "images",
        "image[]",
        "stream",
        "input_fidelity",
        "expand_prompt",
    }
)
COMMON_PARAMETERS = ("prompt", "n", "response_format", "user")
IMAGE_INPUT_PARAMETERS = (
    "operation",
    "image_url",
    "image_urls",
    "reference_image_urls",
    "mask_url",
)
GPT_IMAGE_PARAMETERS = (
    "size",
    "quality",
    "async",
    "background",
    "output_format",
    "output_compression",
    "compression",
    "moderation",
    "partial_images",
)
DALLE3_PARAMETERS = ("size", "quality", "style")
FLUX_PARAMETERS = (
    "aspect_ratio",
    "async",
    "seed",
    "negative_prompt",
    "background",
    "output_format",
    "output_compression",
    "compression",
)
# What Gemini / Nano Banana models that take image-to-image add to their parameters.
REFERENCE_IMAGE_PARAMETERS = (*IMAGE_INPUT_PARAMETERS, "negative_prompt", "seed")
MIDJOURNEY_PREFIX = "midjourney"
MIDJOURNEY_PARAMETERS = ("aspect_ratio", "negative_prompt", "seed")
MIDJOURNEY_ASPECT_RATIOS = ("1:1", "2:3", "3:2")
MIDJOURNEY_MAX_N = 4
MIDJOURNEY_RECOMMENDED = {"aspect_ratio": "1:1"}
OUTPUT_FORMATS = GPT_IMAGE_ENUMS["output_format"]  # png, jpeg, webp
DEFAULT_OUTPUT_FORMAT = "png"
COMPRESSED_FORMATS = ("jpeg", "webp")
TRANSPARENT_FORMATS = ("png", "webp")
COMPRESSION_PARAMS = ("output_compression", "compression")
BACKGROUNDS = GPT_IMAGE_ENUMS["background"]  # transparent, opaque, auto
GPT_IMAGE_BACKGROUNDS = ("auto", "opaque")
SEED_MIN, SEED_MAX = -(2**63), 2**63 - 1  # a signed 64-bit integer (-1 included)
MAX_NEGATIVE_PROMPT_CHARS = 2000


def is_flux(model: str) -> bool:
    """Return True for official FLUX/BFL models."""
    return model.startswith("flux")


def is_midjourney(model: str) -> bool:
    """Return True for Midjourney models (no family the bot knows)."""
    return model.startswith(MIDJOURNEY_PREFIX)


def output_formats(model: str) -> list[str]:
    """Return the output formats a model can make (PNG only unless it takes output_format)."""
    if model == GPT_IMAGE_MODEL or is_flux(model):
        return list(OUTPUT_FORMATS)
    return [DEFAULT_OUTPUT_FORMAT]


def default_max_n(model: str) -> int:
    """Return the most images one request may ask of a model (dall-e-3 1, Midjourney 4)."""
    if model == DALLE3_MODEL:
        return 1
    if is_midjourney(model):
        return MIDJOURNEY_MAX_N
    return MAX_N


def backgrounds(model: str) -> tuple[str, ...]:
    """Return the ``background`` values a model accepts (gpt-image-2: no transparent)."""
    return GPT_IMAGE_BACKGROUNDS if model == GPT_IMAGE_MODEL else BACKGROUNDS


def recommended_summary(model: str) -> dict[str, Any] | None:
    """Return the model's ``recommended_request_summary`` (None for most models)."""
    return dict(MIDJOURNEY_RECOMMENDED) if is_midjourney(model) else None


@dataclass(frozen=True)
class OptionRules:
    """What one operation of a model takes, read from its ``request_format_summary``.

    The operation's entry of ``operation_constraints`` wins over the summary's top-level
    lists; empty ``aspect_ratios`` / ``resolutions`` mean "not restricted to a list".
    """

    model: str
    supported_parameters: tuple[str, ...]
    aspect_ratios: tuple[str, ...]
    resolutions: tuple[str, ...]
    output_formats: tuple[str, ...]
    recommended: Mapping[str, Any]
    prompt_max_characters: int | None
    max_n: int

    @classmethod
    def of(
        cls, model: str, operation: str, summary: Mapping[str, Any], *, max_n: int
    ) -> OptionRules:
        """Return the rules ``summary`` publishes for ``operation`` of ``model``."""
        constraint: Mapping[str, Any] = next(
            (
                c
                for c in summary.get("operation_constraints") or []
                if isinstance(c, Mapping) and c.get("operation") == operation
            ),
            {},
        )

        def listed(constraint_key: str, summary_key: str) -> tuple[str, ...]:
            values = constraint.get(constraint_key, summary.get(summary_key))
            return tuple(values or ())

        limit = (summary.get("service_limits") or {}).get("prompt_max_characters")
        return cls(
            model=model,
            supported_parameters=listed("supported_parameters", "supported_parameters"),
            aspect_ratios=listed("allowed_aspect_ratios", "aspect_ratios"),
            resolutions=listed("allowed_resolutions", "resolutions"),
            output_formats=tuple(summary.get("output_formats") or ()),
            recommended=summary.get("recommended_request_summary") or {},
            prompt_max_characters=limit if isinstance(limit, int) else None,
            max_n=max_n,
        )


def _unsupported(field: str, rules: OptionRules) -> RequestRejectedError:
    supported = list(rules.supported_parameters)
    message = (
        f"{field}: {rules.model} does not support {field}; "
        f"supported parameters: {', '.join(supported)}"
    )
    extra: dict[str, Any] = {"model": rules.model, "supported_parameters": supported}
    if field in ("aspect_ratio", "resolution") and "size" in supported:
        extra["hint"] = "send size (WIDTHxHEIGHT) instead"
    elif field == "size" and "aspect_ratio" in supported:
        extra["hint"] = "send aspect_ratio instead"
    if "hint" in extra:
        message += f"; {extra['hint']}"
    return RequestRejectedError(message, param=field, extra=extra)


def _not_listed(
    param: str, value: Any, allowed: Sequence[str], rules: OptionRules, hint_key: str
) -> RequestRejectedError:
    preferred = rules.recommended.get(param)
    choice = preferred if preferred in allowed else allowed[0]
    return RequestRejectedError(
        f"{param}: {rules.model} accepts {', '.join(allowed)} (got {value!r})",
        param=param,
        extra={
            "model": rules.model,
            hint_key: list(allowed),
            "recommended_request": {"model": rules.model, param: choice},
        },
    )


def _check_fields(body: Mapping[str, Any], rules: OptionRules) -> None:
    supported = set(rules.supported_parameters)
    for field, value in body.items():
        if field == "async" and value is False:
            continue  # not asking for a task is not an option
        if field not in supported and field not in ALWAYS_ACCEPTED:
            raise _unsupported(field, rules)


def _check_count(body: Mapping[str, Any], rules: OptionRules) -> None:
    n = body.get("n", 1)
    if isinstance(n, int) and n > rules.max_n:
        raise RequestRejectedError(
            f"n: {rules.model} makes at most {rules.max_n} image(s) per request",
            param="n",
            extra={"model": rules.model, "recommended_request": {"model": rules.model, "n": 1}},
        )


def _check_shape(body: Mapping[str, Any], rules: OptionRules) -> None:
    if "aspect_ratio" in body:
        ratio = body["aspect_ratio"]
        if not isinstance(ratio, str):
            raise invalid_param("aspect_ratio", "Expected string")
        if rules.aspect_ratios and ratio not in rules.aspect_ratios:
            raise _not_listed(
                "aspect_ratio", ratio, rules.aspect_ratios, rules, "allowed_aspect_ratios"
            )
        width, colon, height = ratio.partition(":")
        if not rules.aspect_ratios and not (colon and width.isdigit() and height.isdigit()):
            raise invalid_param("aspect_ratio", "Expected a ratio such as 16:9")
    if "resolution" in body:
        allowed = rules.resolutions or RESOLUTIONS
        if body["resolution"] not in allowed:
            raise _not_listed(
                "resolution", body["resolution"], allowed, rules, "allowed_resolutions"
            )


def _check_output(body: Mapping[str, Any], rules: OptionRules) -> None:
    output_format = body.get("output_format", DEFAULT_OUTPUT_FORMAT)
    if (
        "output_format" in body
        and rules.output_formats
        and output_format not in rules.output_formats
    ):
        raise RequestRejectedError(
            f"output_format: {rules.model} makes {', '.join(rules.output_formats)}",
            param="output_format",
            extra={
                "model": rules.model,
                "hint": f"send output_format {' or '.join(rules.output_formats)}",
            },
        )
    for key in body:
        if key in COMPRESSION_PARAMS and output_format not in COMPRESSED_FORMATS:
            raise RequestRejectedError(
                f"{key}: compression needs output_format jpeg or webp "
                f"(got {output_format}, which is lossless)",
                param=key,
                extra={"hint": "send output_format jpeg or webp with it, or leave it out"},
            )
    background = body.get("background")
    if background is None:
        return
    accepted = backgrounds(rules.model)
    if background not in accepted:
        raise RequestRejectedError(
            f"background: {rules.model} accepts {' and '.join(accepted)} (not {background})",
            param="background",
            extra={
                "model": rules.model,
                "hint": f"send background {' or '.join(accepted)}, or leave it out",
                "recommended_request": {"model": rules.model, "background": accepted[0]},
            },
        )
    if background == "transparent" and output_format not in TRANSPARENT_FORMATS:
        raise RequestRejectedError(
            f"background: transparent needs output_format png or webp (got {output_format})",
            param="background",
            extra={"hint": "send output_format png or webp with a transparent background"},
        )


def _check_extras(body: Mapping[str, Any]) -> None:
    if "seed" in body:
        seed = body["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise invalid_param("seed", "Expected integer")
        if not SEED_MIN <= seed <= SEED_MAX:
            raise invalid_param("seed", f"Number must be between {SEED_MIN} and {SEED_MAX}")
    if "negative_prompt" in body:
        negative = body["negative_prompt"]
        if not isinstance(negative, str):
            raise invalid_param("negative_prompt", "Expected string")
        if len(negative) > MAX_NEGATIVE_PROMPT_CHARS:
            raise invalid_param(
                "negative_prompt",
                f"String must contain at most {MAX_NEGATIVE_PROMPT_CHARS} character(s)",
            )


def check_options(
    plan: RequestPlan, body: Mapping[str, Any], summary: Mapping[str, Any], *, max_n: int
) -> None:
    """Raise :class:`RequestRejectedError` when ``body`` breaks the model's published format.

    In order: fields the model does not take (``supported_parameters`` in the answer),
    ``n`` over ``max_n``, ``aspect_ratio`` / ``resolution`` outside the model's lists
    (``allowed_aspect_ratios`` / ``allowed_resolutions`` and a ``recommended_request``),
    ``output_format`` outside ``output_formats``, compression without jpeg or webp,
    ``background`` (gpt-image-2: no transparent; transparent needs png or webp), ``seed``
    and ``negative_prompt``, and the prompt's ``prompt_max_characters``.
    """
    rules = OptionRules.of(plan.model, plan.operation, summary, max_n=max_n)
    _check_fields(body, rules)
    _check_count(body, rules)
    _check_shape(body, rules)
    _check_output(body, rules)
    _check_extras(body)
    limit = rules.prompt_max_characters
    if limit is not None and len(plan.prompt) > limit:
        raise RequestRejectedError(
            f"prompt: {plan.model} accepts at most {limit} characters",
            param="prompt",
            extra={"prompt_max_characters": limit},
        )
