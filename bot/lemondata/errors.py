"""The gateway's branch of the error tree (:class:`bot.errors.GatewayError`, its base).

:func:`error_from_response` turns an HTTP error answer into the right subclass;
:func:`is_content_policy` is the one test for a content-policy refusal, used for 400
answers and for the error of a failed task alike (the gateway documents no code for
it, so the message is read as well).
"""

from __future__ import annotations

import contextlib
import email.utils
import math
import time
from typing import Any

import httpx

from bot.errors import GatewayError

# What an ApiError may say a client could send instead (kept on the error as ``hints``).
HINT_KEYS = (
    "param",
    "allowed_aspect_ratios",
    "allowed_resolutions",
    "supported_parameters",
    "prompt_max_characters",
    "did_you_mean",
    "recommended_request",
)
CONTENT_POLICY_MARKERS = ("content_policy", "safety", "moderation", "content policy")


def is_content_policy(*texts: str | None) -> bool:
    """Whether an error code or message says the content policy refused the request."""
    text = " ".join(t for t in texts if t).lower()
    return any(marker in text for marker in CONTENT_POLICY_MARKERS)


class TransportError(GatewayError):
    """The request failed on the network (timeout, refused or dropped connection)."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent  # False only when the request provably never left the machine

    @property
    def retryable(self) -> bool:
        """Whether repeating a *read* may succeed: after a network failure, it may."""
        return True


class MalformedResponseError(GatewayError):
    """The gateway answered with a body the contract does not allow."""


class BadRequestError(GatewayError):
    """HTTP 400: the gateway rejected the request."""


class ContentPolicyError(BadRequestError):
    """HTTP 400 because the prompt or image was refused by the content policy."""


class AuthenticationError(GatewayError):
    """HTTP 401 or 403: the API key is invalid, expired or not allowed."""


class InsufficientBalanceError(GatewayError):
    """HTTP 402: the LemonData account behind the bot has no balance left."""


class NotFoundError(GatewayError):
    """HTTP 404: unknown model or task."""


class RateLimitError(GatewayError):
    """HTTP 429."""


class ServerError(GatewayError):
    """HTTP 5xx: the gateway or its upstream failed."""


def error_from_response(response: httpx.Response, wall_now: float | None = None) -> GatewayError:
    """Return the error an HTTP error answer stands for (``wall_now``: for its Retry-After)."""
    status = response.status_code
    now = time.time() if wall_now is None else wall_now
    retry_after = parse_retry_after(response.headers.get("retry-after"), now)
    code: str | None = None
    hints: dict[str, Any] = {}
    message = f"HTTP {status}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            message = str(err.get("message") or message)
            code = err.get("code") or err.get("type")
            code = str(code) if code else None
            hints = {k: err[k] for k in HINT_KEYS if err.get(k) not in (None, "", [], {})}
        elif isinstance(err, str):
            message = err
    kind: type[GatewayError]
    if status == 400:
        kind = ContentPolicyError if is_content_policy(code, message) else BadRequestError
    elif status in (401, 403):
        kind = AuthenticationError
    elif status == 402:
        kind = InsufficientBalanceError
    elif status == 404:
        kind = NotFoundError
    elif status == 429:
        kind = RateLimitError
    elif status >= 500:
        kind = ServerError
    else:
        kind = GatewayError
    return kind(message[:500], status=status, code=code, retry_after=retry_after, hints=hints)


def parse_retry_after(value: str | None, wall_now: float) -> float | None:
    """Return a ``Retry-After`` header in seconds from ``wall_now`` (a Unix time), or None.

    It is seconds or an HTTP date (RFC 9110); a date already past is 0. Of repeated
    values joined with commas, the first counts.
    """
    if value is None or not value.strip():
        return None
    seconds: float | None = None
    with contextlib.suppress(ValueError):
        seconds = float(value.split(",")[0])
    if seconds is None:
        with contextlib.suppress(TypeError, ValueError, IndexError):
            seconds = email.utils.parsedate_to_datetime(value.strip()).timestamp() - wall_now
    if seconds is None or not math.isfinite(seconds):
        return None
    return max(0.0, seconds)
