"""How a failure of the image service becomes a job's outcome: its stored error code.

The codes are the keys of :data:`bot.ui.text.FAILURE_TEXT`, which says what the member
is told about each.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from bot.errors import DETAIL_LOST_TASK
from bot.lemondata import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    GatewayError,
    InsufficientBalanceError,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    TaskStatus,
    is_content_policy,
)

# Polling cannot fix these: the job ends at once.
FINAL_POLL_ERRORS = (NotFoundError, AuthenticationError, InsufficientBalanceError)


class KeyWatch(Protocol):
    """Who hears whether the gateway takes the API key.

    The model catalog: it refuses members' requests while the key is refused.
    """

    def key_rejected(self) -> None:
        """Record that a request with the key was answered 401/403."""
        ...

    def key_accepted(self) -> None:
        """Record that a request with the key succeeded."""
        ...


class _NoWatch:
    def key_rejected(self) -> None:
        pass

    def key_accepted(self) -> None:
        pass


NO_WATCH: KeyWatch = _NoWatch()


def watch_key(key: KeyWatch, exc: BaseException) -> None:
    """Tell ``key`` of a refused key when ``exc`` is a 401/403."""
    if isinstance(exc, AuthenticationError):
        key.key_rejected()


def classify(exc: GatewayError) -> str:
    """Return the job error code for an API failure."""
    if isinstance(exc, ContentPolicyError):
        return "content_policy"
    if isinstance(exc, InsufficientBalanceError):
        return "insufficient_balance"
    if isinstance(exc, AuthenticationError):
        return "auth"
    if isinstance(exc, RateLimitError):
        return "rate_limited"
    if isinstance(exc, MalformedResponseError):
        return "malformed"
    if isinstance(exc, BadRequestError | NotFoundError):
        return "bad_request"
    return "unavailable"


def lost_task(exc: GatewayError) -> tuple[str, str | None]:
    """Return the code and detail of a task that polling cannot follow any more."""
    if isinstance(exc, NotFoundError):
        return "task_failed", DETAIL_LOST_TASK
    return classify(exc), exc.message  # a rejected key or an empty balance


def failed_task(status: TaskStatus) -> tuple[str, str | None]:
    """Return the code and detail of a task that ended ``failed``."""
    code = (
        "content_policy"
        if is_content_policy(status.error_code, status.error_message)
        else ("task_failed")
    )
    return code, status.error_message or status.error_code


# Member options a gateway refusal may say a model takes (supported_parameters).
HINTED_OPTIONS = (
    "aspect_ratio",
    "resolution",
    "quality",
    "style",
    "background",
    "output_format",
    "output_compression",
    "negative_prompt",
    "seed",
)


def hint_of(exc: GatewayError) -> str | None:
    """Return what a gateway refusal allowed, as the job's ``error_hint`` (JSON), or None.

    The most specific hint wins: the ratios or resolutions a model takes, a model the
    gateway suggests instead, the longest prompt, or the parameters the model takes.
    The card turns it into one sentence in the member's language.
    """
    if not isinstance(exc, BadRequestError) or isinstance(exc, ContentPolicyError):
        return None
    hints = exc.hints
    param = str(hints.get("param") or "")

    def strings(key: str) -> list[str]:
        value = hints.get(key)
        return [str(v) for v in value if isinstance(v, str)][:12] if isinstance(value, list) else []

    found: dict[str, Any] | None = None
    if ratios := strings("allowed_aspect_ratios"):
        found = {"kind": "ratios", "values": ratios}
    elif resolutions := strings("allowed_resolutions"):
        found = {"kind": "resolutions", "values": resolutions}
    elif isinstance(hints.get("did_you_mean"), str):
        found = {"kind": "model", "values": [hints["did_you_mean"][:100]]}
    elif isinstance(limit := hints.get("prompt_max_characters"), int | float):
        found = {"kind": "prompt", "values": [int(limit)]}
    elif params := strings("supported_parameters"):
        taken = [p for p in params if p in HINTED_OPTIONS]
        found = {"kind": "parameters", "param": param[:40], "values": taken}
    return json.dumps(found) if found is not None else None
