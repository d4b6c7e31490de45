"""LemonDataClient: the one typed client for LemonData's image API.

It returns dataclasses, never raw JSON, and raises :class:`GatewayError` (or a
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

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import httpx
import stamina

from bot.errors import GatewayError
from bot.lemondata.downloads import Download, download
from bot.lemondata.errors import (
    AuthenticationError,
    MalformedResponseError,
    TransportError,
    error_from_response,
)
from bot.lemondata.models import (
    CreateResult,
    ModelDescription,
    ModelInfo,
    TaskStatus,
    parse_create,
    parse_description,
    parse_models,
    parse_pricing,
    parse_task,
)
from bot.lemondata.urls import (
    GENERATIONS_PATH,
    MODELS_PATH,
    PRICING_PATH,
    AddressPolicy,
    RequestKind,
    model_path,
    normalise_base_url,
    task_url,
)

log = logging.getLogger(__name__)

CREATE_TIMEOUT = httpx.Timeout(180.0, connect=10.0)
READ_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
MAX_ATTEMPTS = 4
# Requests at once, at most. Past it a request waits here, in O(1), rather than in
# httpcore's pool, whose bookkeeping costs O(waiting x connections) at every request's
# start and end: hundreds of inline creates held open (a burst of Gemini images) would
# otherwise take the event loop from everything else. Downloads have slots of their own,
# so that they never wait behind creates held open: results (billed, under the job's
# deadline) apart from members' reference images, so that references held by slow hosts
# never make a result wait. All three stay within the HTTP client's connection limit
# (HTTP_LIMITS), so no request waits for a connection either.
MAX_IN_FLIGHT = 90
MAX_RESULT_DOWNLOADS = 10
MAX_REFERENCE_DOWNLOADS = 10
MAX_DOWNLOADS_IN_FLIGHT = MAX_RESULT_DOWNLOADS + MAX_REFERENCE_DOWNLOADS
HTTP_LIMITS = httpx.Limits(
    max_connections=MAX_IN_FLIGHT + MAX_DOWNLOADS_IN_FLIGHT, max_keepalive_connections=20
)
BACKOFF_BASE = 0.5
BACKOFF_CAP = 20.0
MAX_RETRY_AFTER = 60.0
# A file to upload: (file name, bytes, content type).
Upload = tuple[str, bytes, str]
KEY_REFUSED = (
    "LemonData refused LEMONDATA_API_KEY (HTTP %s): check the key in .env "
    "(or the environment) and restart the bot"
)


class Budget(Protocol):
    """The request budget every request to the gateway goes through (see bot.scheduler)."""

    async def acquire(self, kind: RequestKind, *, final: bool = False) -> Any:
        """Wait until a request may be sent; return the grant for it."""
        ...

    def observe(self, status: int | None, headers: Mapping[str, str], grant: Any = None) -> None:
        """Learn from the answer to a granted request (``status`` None: no answer)."""
        ...

    def release(self, grant: Any) -> None:
        """Give back a grant whose request never left."""
        ...


class Unbounded:
    """A budget that never waits (for tools and narrow tests)."""

    async def acquire(self, kind: RequestKind, *, final: bool = False) -> Any:
        """Grant at once."""
        return None

    def observe(self, status: int | None, headers: Mapping[str, str], grant: Any = None) -> None:
        """Learn nothing."""

    def release(self, grant: Any) -> None:
        """Nothing to give back."""


class LemonDataClient:
    """Speak LemonData's image API over an injected ``httpx.AsyncClient``.

    The caller owns the ``httpx.AsyncClient`` (opened in the composition root); the
    API key is sent only to the origin of ``base_url``, never to image download hosts
    (see :mod:`bot.lemondata.urls`).
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        max_attempts: int = MAX_ATTEMPTS,
        budget: Budget | None = None,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self._http = http
        self._base_url = normalise_base_url(base_url)
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._max_attempts = max_attempts
        # One budget per API key for every request that carries it (see bot.scheduler).
        self.budget: Budget = budget or Unbounded()
        self._addresses = AddressPolicy(self._base_url)
        self._in_flight = asyncio.Semaphore(max_in_flight)
        self._result_downloads = asyncio.Semaphore(MAX_RESULT_DOWNLOADS)
        self._reference_downloads = asyncio.Semaphore(MAX_REFERENCE_DOWNLOADS)

    def __repr__(self) -> str:
        return f"LemonDataClient(base_url={self._base_url!r})"

    async def list_image_models(self) -> list[ModelInfo]:
        """Return the gateway's recommended image models, best first."""
        body = await self._request(
            "GET", MODELS_PATH, kind="models", params={"recommended_for": "image"}, idempotent=True
        )
        models = parse_models(body)
        return sorted(models, key=lambda m: (m.rank is None, m.rank or 0))

    async def list_pricing(self) -> dict[str, dict[str, str]]:
        """Return ``GET /v1/pricing``: each model's detailed prices (decimal text, USD)."""
        body = await self._request("GET", PRICING_PATH, kind="models", idempotent=True)
        return parse_pricing(body)

    async def describe_model(self, model: str) -> ModelDescription:
        """Return what ``GET /v1/models/{model}`` says the model takes."""
        body = await self._request("GET", model_path(model), kind="models", idempotent=True)
        return parse_description(model, body)

    async def create_image(
        self,
        body: Mapping[str, Any],
        *,
        path: str = GENERATIONS_PATH,
        file_field: str | None = None,
        files: Sequence[Upload] = (),
    ) -> CreateResult:
        """Create a generation (or an edit); the answer is inline images or a task to poll.

        With ``files`` the body goes as ``multipart/form-data``: each field as text, each
        file (name, bytes, type) under ``file_field``. Reference images always travel
        as bytes, never as links.
        """
        if files:
            assert file_field is not None
            answer = await self._request(
                "POST",
                path,
                kind="create",
                data={key: _form_value(value) for key, value in body.items()},
                files=[(file_field, upload) for upload in files],
                idempotent=False,
                http_timeout=CREATE_TIMEOUT,
            )
        else:
            answer = await self._request(
                "POST",
                path,
                kind="create",
                json=dict(body),
                idempotent=False,
                http_timeout=CREATE_TIMEOUT,
            )
        return parse_create(answer)

    async def get_task(
        self,
        task_id: str,
        poll_url: str | None = None,
        *,
        retry: bool = True,
        grant: Any = None,
    ) -> TaskStatus:
        """Return a task's current state, following ``poll_url`` on the gateway's origin.

        A ``poll_url`` that is malformed or on another origin is not followed: the
        gateway's own ``/v1/tasks/{task_id}`` is polled instead, so the key never leaves.
        With ``retry=False`` one attempt is made (the caller schedules the next);
        ``grant`` is the budget's permission the caller already holds for it.
        """
        url = task_url(self._base_url, task_id, poll_url)
        body = await self._request(
            "GET", url, kind="poll", idempotent=True, retry=retry, grant=grant
        )
        return parse_task(body, fallback_id=task_id)

    async def download(self, url: str, *, max_bytes: int, reference: bool = False) -> Download:
        """Download a result image (no API key is sent); raise NotFoundError when gone.

        Only http(s) from allowed addresses, re-checked at every redirect; an image over
        ``max_bytes`` comes back without bytes, to be linked instead of attached. A
        ``reference`` (a member's image) takes a slot of the references', never a result's.
        """
        slots = self._reference_downloads if reference else self._result_downloads
        async for attempt in self._retrying(_retry_read):
            with attempt:
                async with slots:
                    return await download(self._http, self._addresses, url, max_bytes)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retrying(self, hook: Callable[[BaseException], bool | float], attempts: int = 0) -> Any:
        return stamina.retry_context(
            on=hook,
            attempts=attempts or self._max_attempts,
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
        kind: RequestKind,
        idempotent: bool,
        retry: bool = True,
        grant: Any = None,
        params: Mapping[str, str] | None = None,
        json: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        files: Sequence[tuple[str, Upload]] = (),
        http_timeout: httpx.Timeout = READ_TIMEOUT,
    ) -> Any:
        url = path if path.startswith(("http://", "https://")) else self._base_url + path
        hook = _retry_read if idempotent else _retry_create
        content = {"json": json} if json is not None else {"data": data, "files": list(files)}
        async for attempt in self._retrying(hook, attempts=0 if retry else 1):
            with attempt:
                # Every attempt waits for the budget's permission (the first may bring it).
                held = grant if grant is not None else await self.budget.acquire(kind)
                grant = None
                return await self._exchange(method, url, params, content, http_timeout, held)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _exchange(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        content: Mapping[str, Any],
        http_timeout: httpx.Timeout,
        grant: Any,
    ) -> Any:
        """Run one HTTP exchange under ``grant``; tell the budget; return the JSON body."""
        try:
            async with self._in_flight:
                response = await self._http.request(
                    method,
                    url,
                    params=params,
                    headers=self._headers,
                    timeout=http_timeout,
                    **{k: v for k, v in content.items() if v},
                )
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            self.budget.release(grant)  # nothing reached the gateway
            raise TransportError(
                f"cannot reach LemonData ({type(exc).__name__})", sent=False
            ) from None
        except httpx.TransportError as exc:
            self.budget.observe(None, {}, grant)
            raise TransportError(
                f"LemonData did not answer ({type(exc).__name__})", sent=True
            ) from None
        except (httpx.HTTPError, httpx.InvalidURL) as exc:  # redirect loops, decoding, ...
            self.budget.observe(None, {}, grant)
            raise MalformedResponseError(
                f"LemonData's answer could not be read ({type(exc).__name__})"
            ) from None
        except BaseException:  # cancelled: the request may or may not have gone
            self.budget.observe(None, {}, grant)
            raise
        self.budget.observe(response.status_code, response.headers, grant)
        if response.status_code >= 400:
            error = error_from_response(response)
            if isinstance(error, AuthenticationError):
                log.error(KEY_REFUSED, response.status_code)
            raise error
        try:
            return response.json()
        except ValueError:
            raise MalformedResponseError(
                f"LemonData answered HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
            ) from None


def _form_value(value: Any) -> str:
    """Return a body value as a multipart form field (booleans as true/false)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _retry_read(exc: BaseException) -> bool | float:
    """Stamina hook for reads: retry transient failures, waiting at least Retry-After."""
    if not isinstance(exc, GatewayError) or not exc.retryable:
        return False
    return min(exc.retry_after, MAX_RETRY_AFTER) if exc.retry_after is not None else True


def _retry_create(exc: BaseException) -> bool | float:
    """Stamina hook for creates: retry only when the failed create provably made nothing."""
    if not isinstance(exc, GatewayError) or not _safe_to_repeat_create(exc):
        return False
    return min(exc.retry_after, MAX_RETRY_AFTER) if exc.retry_after is not None else True


def _safe_to_repeat_create(error: GatewayError) -> bool:
    """Return True only when a failed create provably produced nothing."""
    if isinstance(error, TransportError):
        return not error.sent
    return error.status == 429
