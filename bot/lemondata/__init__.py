"""LemonData's image API: the typed client, its error tree, its answers, image bytes."""

from __future__ import annotations

from bot.errors import GatewayError
from bot.lemondata.client import LemonDataClient
from bot.lemondata.errors import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    InsufficientBalanceError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    is_content_policy,
)
from bot.lemondata.images import decode_b64_image, image_type, sniff_content_type
from bot.lemondata.models import (
    CreateResult,
    ImageResult,
    ModelDescription,
    ModelInfo,
    Pricing,
    TaskStatus,
    Usage,
    parse_create,
    parse_description,
    parse_models,
    parse_task,
)

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "ContentPolicyError",
    "CreateResult",
    "GatewayError",
    "ImageResult",
    "InsufficientBalanceError",
    "LemonDataClient",
    "MalformedResponseError",
    "ModelDescription",
    "ModelInfo",
    "NotFoundError",
    "Pricing",
    "RateLimitError",
    "ServerError",
    "TaskStatus",
    "TransportError",
    "Usage",
    "decode_b64_image",
    "image_type",
    "is_content_policy",
    "parse_create",
    "parse_description",
    "parse_models",
    "parse_task",
    "sniff_content_type",
]
