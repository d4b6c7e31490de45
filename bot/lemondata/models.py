"""What the image API answers, as dataclasses, and the parsers that build them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.lemondata.errors import MalformedResponseError
from bot.lemondata.urls import task_path

TERMINAL_STATUSES = frozenset({"completed", "failed"})


@dataclass(frozen=True)
class Pricing:
    """A model's price as the gateway publishes it (USD amounts as decimal text)."""

    unit: str = ""  # per_request | per_1m_tokens | ...
    currency: str = "USD"
    per_request: str | None = None
    input_per_1m: str | None = None
    output_per_1m: str | None = None
    min_price: str | None = None
    max_price: str | None = None
    complex: bool = False


@dataclass(frozen=True)
class ModelInfo:
    """One entry of ``GET /v1/models?recommended_for=image``."""

    id: str
    owned_by: str = ""
    rank: int | None = None
    operations: tuple[str, ...] | None = None  # supported_operations, when the list says
    pricing: Pricing | None = None


@dataclass(frozen=True)
class Usage:
    """The tokens a token-billed answer reports (``usage``): input by kind, and output."""

    input_tokens: int = 0
    image_tokens: int = 0  # of the input: reference images
    cached_tokens: int = 0  # of the input: cached
    output_tokens: int = 0


def parse_usage(raw: Any) -> Usage | None:
    """Parse an answer's ``usage`` (OpenAI's images shape), or None when absent."""
    if not isinstance(raw, dict):
        return None

    def count(source: Any, key: str) -> int:
        value = source.get(key) if isinstance(source, dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0

    details = raw.get("input_tokens_details")
    usage = Usage(
        input_tokens=count(raw, "input_tokens") or count(raw, "prompt_tokens"),
        image_tokens=count(details, "image_tokens"),
        cached_tokens=count(details, "cached_tokens"),
        output_tokens=count(raw, "output_tokens") or count(raw, "completion_tokens"),
    )
    return usage if usage.input_tokens or usage.output_tokens else None


@dataclass(frozen=True)
class ImageResult:
    """One generated image: a URL, or inline base64 bytes."""

    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


@dataclass(frozen=True)
class TaskStatus:
    """The state of an asynchronous generation task."""

    task_id: str
    status: str
    poll_url: str
    images: tuple[ImageResult, ...] = ()
    error_code: str | None = None
    error_message: str | None = None
    progress: int | None = None
    usage: Usage | None = None

    @property
    def done(self) -> bool:
        """True once the task is completed or failed; unknown statuses count as running."""
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class CreateResult:
    """A create answered either with images (synchronous) or with a task to poll."""

    images: tuple[ImageResult, ...] = ()
    task: TaskStatus | None = None
    usage: Usage | None = None


def _images(items: Any) -> tuple[ImageResult, ...]:
    """Parse ``data[]``; entries without a usable url or b64_json are placeholders."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise MalformedResponseError("`data` is not a list")
    images = []
    for item in items:
        if not isinstance(item, dict):
            raise MalformedResponseError("`data` holds a non-object")
        url = item.get("url") or None
        b64 = item.get("b64_json") or None
        if url is None and b64 is None:
            continue  # a pending task may carry {"url": ""}
        revised = item.get("revised_prompt")
        images.append(
            ImageResult(
                url=str(url) if url else None,
                b64_json=str(b64) if b64 else None,
                revised_prompt=str(revised) if revised else None,
            )
        )
    return tuple(images)


def parse_task(body: Any, *, fallback_id: str | None = None) -> TaskStatus:
    """Parse a task body (create answer or ``GET /v1/tasks/{id}``)."""
    if not isinstance(body, dict):
        raise MalformedResponseError("task body is not an object")
    task_id = body.get("task_id") or body.get("id") or fallback_id
    status = body.get("status")
    if status is None and task_id:
        status = "pending"  # a task with no status yet has not finished
    if not task_id or not isinstance(status, str) or not status:
        raise MalformedResponseError("task body lacks task_id or status")
    error_code: str | None = None
    error_message: str | None = None
    err = body.get("error")
    if isinstance(err, dict):
        error_code = str(err.get("code") or err.get("type") or "") or None
        error_message = str(err.get("message") or "") or None
    elif isinstance(err, str) and err:
        error_message = err
    progress = body.get("progress")
    if isinstance(progress, float):
        progress = round(progress)
    return TaskStatus(
        task_id=str(task_id),
        status=status.lower(),
        poll_url=str(body.get("poll_url") or task_path(str(task_id))),
        images=_images(body.get("data")),
        error_code=error_code,
        error_message=error_message,
        progress=progress if isinstance(progress, int) else None,
        usage=parse_usage(body.get("usage")),
    )


def parse_create(body: Any) -> CreateResult:
    """Parse a create answer: a task when it says pending/task_id, else inline images."""
    if not isinstance(body, dict):
        raise MalformedResponseError("create answer is not an object")
    if body.get("task_id") or body.get("poll_url") or body.get("status") in ("pending", "queued"):
        return CreateResult(task=parse_task(body))
    images = _images(body.get("data"))
    if not images:
        raise MalformedResponseError("create answer has neither images nor a task")
    return CreateResult(images=images, usage=parse_usage(body.get("usage")))


def parse_models(body: Any) -> list[ModelInfo]:
    """Parse the models list, keeping the gateway's recommendation rank when present."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise MalformedResponseError("models answer has no `data` list")
    models = []
    for item in body["data"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        ext = item.get("tokenlab") or item.get("lemondata") or {}
        ext = ext if isinstance(ext, dict) else {}
        operations = ext.get("supported_operations")
        models.append(
            ModelInfo(
                id=item["id"],
                owned_by=str(item.get("owned_by") or ""),
                rank=_rank(ext.get("agent_preferences")),
                operations=(
                    tuple(str(op) for op in operations) if isinstance(operations, list) else None
                ),
                pricing=_pricing(ext.get("pricing")),
            )
        )
    return models


def _rank(prefs: Any) -> int | None:
    image = prefs.get("image") if isinstance(prefs, dict) else None
    if not isinstance(image, dict):
        return None
    for key in ("preferred_rank", "rank"):
        if isinstance(image.get(key), int):
            return int(image[key])
    return None


def _pricing(raw: Any) -> Pricing | None:
    """Parse a ``pricing`` block; amounts stay text (the gateway sends decimal strings)."""
    if not isinstance(raw, dict):
        return None

    def amount(key: str) -> str | None:
        value = raw.get(key)
        return str(value) if isinstance(value, str | int | float) and value != "" else None

    return Pricing(
        unit=str(raw.get("unit") or ""),
        currency=str(raw.get("currency") or "USD"),
        per_request=amount("per_request"),
        input_per_1m=amount("input_per_1m"),
        output_per_1m=amount("output_per_1m"),
        min_price=amount("min_price"),
        max_price=amount("max_price"),
        complex=bool(raw.get("has_complex_pricing")),
    )


@dataclass(frozen=True)
class ModelDescription:
    """What ``GET /v1/models/{model}`` says a model takes (its ``request_format_summary``).

    Empty tuples mean the gateway listed none; ``parameters`` None means it named none at
    all (then the family table decides). ``operations`` are its public operations.
    """

    model: str
    parameters: frozenset[str] | None = None
    aspect_ratios: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    prompt_max_characters: int | None = None


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def parse_description(model: str, body: Any) -> ModelDescription:
    """Parse a model detail answer; a missing summary gives an empty description."""
    if not isinstance(body, dict):
        raise MalformedResponseError("model detail is not an object")
    ext = body.get("tokenlab") or body.get("lemondata") or {}
    summary = ext.get("request_format_summary") if isinstance(ext, dict) else None
    if not isinstance(summary, dict):
        return ModelDescription(model)
    params = summary.get("supported_parameters")
    limits = summary.get("service_limits")
    limit = limits.get("prompt_max_characters") if isinstance(limits, dict) else None
    return ModelDescription(
        model=model,
        parameters=frozenset(_strings(params)) if isinstance(params, list) else None,
        aspect_ratios=_strings(summary.get("aspect_ratios")),
        resolutions=_strings(summary.get("resolutions")),
        output_formats=_strings(summary.get("output_formats")),
        operations=_strings(summary.get("public_operations")),
        prompt_max_characters=(
            int(limit) if isinstance(limit, int | float) and not isinstance(limit, bool) else None
        ),
    )


PRICE_DETAIL_KEYS = (
    "text_input_per_1m",
    "image_input_per_1m",
    "cached_input_per_1m",
    "image_output_per_1m",
    "per_request",
)


def parse_pricing(body: Any) -> dict[str, dict[str, str]]:
    """Parse ``GET /v1/pricing``: model -> its detailed prices (decimal text, USD).

    The detailed token prices of a token-billed model come from its ``pricing_summary``;
    a lock price from ``lock_price_per_request``. Entries without a model are skipped.
    """
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise MalformedResponseError("pricing answer has no `data` list")
    prices: dict[str, dict[str, str]] = {}
    for entry in body["data"]:
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            continue
        summary = entry.get("pricing_summary")
        summary = summary if isinstance(summary, dict) else {}
        detail = {
            key: str(summary[key])
            for key in PRICE_DETAIL_KEYS
            if isinstance(summary.get(key), str | int | float) and summary[key] != ""
        }
        if isinstance(entry.get("lock_price_per_request"), str):
            detail["per_request"] = entry["lock_price_per_request"]
        prices[entry["model"]] = detail
    return prices
