"""The error tree of LemonData's API: one base class carrying status, code and retry hint.

:func:`error_from_response` turns an HTTP error answer into the right subclass;
:func:`is_content_policy` is the one test for a content-policy refusal, used for 400
answers and for the error of a failed task alike (the gateway documents no code for
it, so the message is read as well).
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
CONTENT_POLICY_MARKERS = ("content_policy", "safety", "moderation", "content policy")


def is_content_policy(*texts: str | None) -> bool:
    """Whether an error code or message says the content policy refused the request."""
    text = " ".join(t for t in texts if t).lower()
    return any(marker in text for marker in CONTENT_POLICY_MARKERS)


class LemonDataError(Exception):
    """Any failure talking to LemonData; ``status`` is None for transport failures."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        """Whether repeating a *read* may succeed."""
        return isinstance(self, TransportError) or self.status in RETRYABLE_STATUSES

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r})"
        )


class TransportError(LemonDataError):
    """The request failed on the network (timeout, refused or dropped connection)."""

    def __init__(self, message: str, *, sent: bool) -> None:
        super().__init__(message)
        self.sent = sent  # False only when the request provably never left the machine


class MalformedResponseError(LemonDataError):
    """The gateway answered with a body the contract does not allow."""


class BadRequestError(LemonDataError):
    """HTTP 400: the gateway rejected the request."""


class ContentPolicyError(BadRequestError):
    """HTTP 400 because the prompt or image was refused by the content policy."""


class AuthenticationError(LemonDataError):
    """HTTP 401 or 403: the API key is invalid, expired or not allowed."""


class InsufficientBalanceError(LemonDataError):
    """HTTP 402: the LemonData account behind the bot has no balance left."""


class NotFoundError(LemonDataError):
    """HTTP 404: unknown model or task."""


class RateLimitError(LemonDataError):
    """HTTP 429."""


class ServerError(LemonDataError):
    """HTTP 5xx: the gateway or its upstream failed."""


def error_from_response(response: httpx.Response) -> LemonDataError:
    """Return the error an HTTP error answer stands for."""
    status = response.status_code
    retry_after = retry_after_of(response.headers)
    code: str | None = None
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
        elif isinstance(err, str):
            message = err
    kind: type[LemonDataError]
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
        kind = LemonDataError
    return kind(message[:500], status=status, code=code, retry_after=retry_after)


def retry_after_of(headers: Mapping[str, str]) -> float | None:
    """Return the ``Retry-After`` of an answer in seconds, or None."""
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None
