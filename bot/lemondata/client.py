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
from typing import Any

import httpx
import stamina

from bot.lemondata.errors import (
    LemonDataError,
    MalformedResponseError,
    NotFoundError,
    TransportError,
    error_from_response,
)
from bot.lemondata.models import (
    CreateResult,
    ModelInfo,
    TaskStatus,
    parse_create,
    parse_models,
    parse_task,
)

log = logging.getLogger(__name__)

CREATE_TIMEOUT = httpx.Timeout(180.0, connect=10.0)
READ_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
DOWNLOAD_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MAX_ATTEMPTS = 4
BACKOFF_BASE = 0.5
BACKOFF_CAP = 20.0
MAX_RETRY_AFTER = 60.0
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024


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
                    raise error_from_response(response)
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
            raise error_from_response(response)
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
