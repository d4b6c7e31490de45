"""LemonDataClient: the one typed client for LemonData's image API.

It returns dataclasses, never raw JSON, and raises :class:`LemonDataError` (or a
subclass) carrying the HTTP status, the error code and a retry hint.

Retry policy (how the bot avoids paying twice):

* Reads (``list_image_models``, ``get_task``) are retried with exponential back-off
  and jitter on 429, 5xx, timeouts and connection errors; ``Retry-After`` is honoured.
* A create is retried only when the request provably did not create anything: a 429
  (rate limited before processing), or a connection that could not be opened. A 5xx,
  a read timeout or a connection dropped after the body was sent may have produced
  (and billed) an image that we cannot see, so it is *not* retried: the job fails
  and the user's quota is refunded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import stamina

log = logging.getLogger(__name__)

CREATE_TIMEOUT = httpx.Timeout(180.0, connect=10.0)
READ_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DOWNLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MAX_ATTEMPTS = 4
BACKOFF_BASE = 0.5
BACKOFF_CAP = 20.0
MAX_RETRY_AFTER = 60.0
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
TERMINAL_STATUSES = frozenset({"completed", "failed"})
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
CONTENT_POLICY_MARKERS = ("content_policy", "safety", "moderation", "content policy")


# --------------------------------------------------------------------------- errors


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


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ModelInfo:
    """One entry of ``GET /v1/models?recommended_for=image``."""

    id: str
    owned_by: str = ""
    rank: int | None = None


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

    @property
    def done(self) -> bool:
        """True once the task is completed or failed; unknown statuses count as running."""
        return self.status in TERMINAL_STATUSES


@dataclass(frozen=True)
class CreateResult:
    """A create answered either with images (synchronous) or with a task to poll."""

    images: tuple[ImageResult, ...] = ()
    task: TaskStatus | None = None


# --------------------------------------------------------------------------- parsing


def _error_from_response(response: httpx.Response) -> LemonDataError:
    status = response.status_code
    retry_after = _retry_after(response.headers)
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
        text = f"{code or ''} {message}".lower()
        kind = (
            ContentPolicyError
            if any(marker in text for marker in CONTENT_POLICY_MARKERS)
            else BadRequestError
        )
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


def _retry_after(headers: Mapping[str, str]) -> float | None:
    raw = headers.get("retry-after")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        return None


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
    return TaskStatus(
        task_id=str(task_id),
        status=status.lower(),
        poll_url=str(body.get("poll_url") or f"/v1/tasks/{task_id}"),
        images=_images(body.get("data")),
        error_code=error_code,
        error_message=error_message,
        progress=progress if isinstance(progress, int) else None,
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
    return CreateResult(images=images)


def parse_models(body: Any) -> list[ModelInfo]:
    """Parse the models list, keeping the gateway's recommendation rank when present."""
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise MalformedResponseError("models answer has no `data` list")
    models = []
    for item in body["data"]:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            continue
        rank = None
        ext = item.get("tokenlab") or item.get("lemondata") or {}
        prefs = ext.get("agent_preferences") if isinstance(ext, dict) else None
        if isinstance(prefs, dict):
            image_pref = prefs.get("image")
            if isinstance(image_pref, dict) and isinstance(image_pref.get("rank"), int):
                rank = image_pref["rank"]
        models.append(ModelInfo(id=item["id"], owned_by=str(item.get("owned_by") or ""), rank=rank))
    return models


# --------------------------------------------------------------------------- client


class LemonDataClient:
    """Speak LemonData's image API over an injected ``httpx.AsyncClient``.

    The caller owns the ``httpx.AsyncClient`` (opened in the composition root); the
    API key is sent only to ``base_url``, never to image download hosts.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._max_attempts = max_attempts

    def __repr__(self) -> str:
        return f"LemonDataClient(base_url={self._base_url!r})"

    async def list_image_models(self) -> list[ModelInfo]:
        """Return the gateway's recommended image models, best first."""
        body = await self._request(
            "GET", "/v1/models", params={"recommended_for": "image"}, idempotent=True
        )
        models = parse_models(body)
        return sorted(models, key=lambda m: (m.rank is None, m.rank or 0))

    async def create_image(self, body: Mapping[str, Any]) -> CreateResult:
        """Create a generation; the answer is inline images or a task to poll."""
        answer = await self._request(
            "POST",
            "/v1/images/generations",
            json=dict(body),
            idempotent=False,
            http_timeout=CREATE_TIMEOUT,
        )
        return parse_create(answer)

    async def get_task(self, task_id: str, poll_url: str | None = None) -> TaskStatus:
        """Return a task's current state, following ``poll_url`` when given.

        An absolute ``poll_url`` is followed only on the base URL's own origin: the API
        key is never sent anywhere else.
        """
        path = f"/v1/tasks/{task_id}"
        if poll_url and (poll_url.startswith("/") or _same_origin(poll_url, self._base_url)):
            path = poll_url
        body = await self._request("GET", path, idempotent=True)
        return parse_task(body, fallback_id=task_id)

    async def download(self, url: str) -> bytes:
        """Download an image URL (no API key is sent); raise NotFoundError when gone.

        The body is streamed and abandoned past ``MAX_DOWNLOAD_BYTES``.
        """
        async for attempt in self._retrying(_retry_read):
            with attempt:
                return await self._download_once(url)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _download_once(self, url: str) -> bytes:
        try:
            async with self._http.stream(
                "GET", url, timeout=DOWNLOAD_TIMEOUT, follow_redirects=True
            ) as response:
                if response.status_code in (403, 404, 410):
                    raise NotFoundError(
                        "the image link expired before it could be downloaded",
                        status=response.status_code,
                    )
                if response.status_code != 200:
                    await response.aread()
                    raise _error_from_response(response)
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > MAX_DOWNLOAD_BYTES:
                        raise MalformedResponseError("the image is larger than the bot accepts")
                return bytes(body)
        except httpx.TransportError as exc:
            raise TransportError(
                f"image download failed ({type(exc).__name__})", sent=True
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # redirect loops, bad URL, ...
            raise MalformedResponseError(
                f"the image link could not be fetched ({type(exc).__name__})"
            ) from None

    def _retrying(self, hook: Callable[[Exception], bool | float]) -> Any:
        return stamina.retry_context(
            on=hook,
            attempts=self._max_attempts,
            timeout=None,
            wait_initial=BACKOFF_BASE,
            wait_max=BACKOFF_CAP,
            wait_jitter=BACKOFF_BASE,
        )

    async def _request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        http_timeout: httpx.Timeout = READ_TIMEOUT,
    ) -> Any:
        url = path if path.startswith(("http://", "https://")) else self._base_url + path
        async for attempt in self._retrying(_retry_read if idempotent else _retry_create):
            with attempt:
                return await self._exchange(method, url, params, json, http_timeout)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        json: Mapping[str, Any] | None,
        http_timeout: httpx.Timeout,
    ) -> Any:
        """Run one HTTP exchange and return the decoded JSON body."""
        try:
            response = await self._http.request(
                method, url, params=params, json=json, headers=self._headers, timeout=http_timeout
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise TransportError(
                f"cannot reach LemonData ({type(exc).__name__})", sent=False
            ) from None
        except httpx.TransportError as exc:
            raise TransportError(
                f"LemonData did not answer ({type(exc).__name__})", sent=True
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # redirect loops, decoding, ...
            raise MalformedResponseError(
                f"LemonData's answer could not be read ({type(exc).__name__})"
            ) from None
        if response.status_code >= 400:
            raise _error_from_response(response)
        try:
            return response.json()
        except ValueError:
            raise MalformedResponseError(
                f"LemonData answered HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
            ) from None


def _retry_read(exc: Exception) -> bool | float:
    """Stamina hook for reads: retry transient failures, waiting at least Retry-After."""
    if not isinstance(exc, LemonDataError) or not exc.retryable:
        return False
    return min(exc.retry_after, MAX_RETRY_AFTER) if exc.retry_after is not None else True


def _retry_create(exc: Exception) -> bool | float:
    """Stamina hook for creates: retry only when the failed create provably made nothing."""
    if not isinstance(exc, LemonDataError) or not _safe_to_repeat_create(exc):
        return False
    return min(exc.retry_after, MAX_RETRY_AFTER) if exc.retry_after is not None else True


def _same_origin(url: str, base_url: str) -> bool:
    a, b = httpx.URL(url), httpx.URL(base_url)
    return (a.scheme, a.host, a.port) == (b.scheme, b.host, b.port)


def _safe_to_repeat_create(error: LemonDataError) -> bool:
    """Return True only when a failed create provably produced nothing."""
    if isinstance(error, TransportError):
        return not error.sent
    return error.status == 429
