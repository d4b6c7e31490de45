"""The emulator server: routes, knobs, fault injection and observation."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

from aiohttp import web

from tests.fakes.lemondata.billing import PRICING_PATH, PRICING_UPDATED_AT, Billing, UsageOverride
from tests.fakes.lemondata.catalog import (
    ModelOverride,
    compact_item,
    format_summary,
    list_item,
    max_images,
    model_detail,
    operations,
    owner,
    pricing_detail,
)
from tests.fakes.lemondata.contract import (
    CONTENT_POLICY_MESSAGE,
    DALLE3_MODEL,
    DEFAULT_API_KEY,
    DEFAULT_MODELS,
    DEFAULT_TASK_ERROR,
    EDITS_PATH,
    GENERATIONS_PATH,
    GPT_IMAGE_MODEL,
    UPLOAD_PURPOSES,
    UPLOADS_PATH,
    ImageRef,
    RequestPlan,
    RequestRejectedError,
    always_async,
    default_error_body,
    error_body,
    file_key,
    forwarded_params,
    invalid_param,
    unknown_model,
    validate_edit_request,
    validate_generation_request,
)
from tests.fakes.lemondata.forms import (
    MultipartError,
    edit_form,
    form_fields,
    generation_form,
    is_multipart,
    parse_multipart,
)
from tests.fakes.lemondata.images import (
    IMAGE_CONTENT_TYPES,
    NOT_AN_IMAGE,
    b64_encode,
    image_parts,
    make_image,
    sniff_image,
)
from tests.fakes.lemondata.inputs import (
    HOSTED_PREFIX,
    REDIRECT_PATH,
    InputSources,
    not_an_image,
)
from tests.fakes.lemondata.options import check_options
from tests.fakes.lemondata.ratelimit import RateDecision, RateEvent, RateLimiter
from tests.fakes.lemondata.records import (
    EmulatedTask,
    Generation,
    HostedImage,
    InputImage,
    RecordedRequest,
    RequestIndex,
    StoredFile,
    UploadedFile,
    UploadPart,
)
from tests.fakes.lemondata.tasks import TaskEngine

MODEL_VIEWS = ("compact", "full")
MODEL_CATEGORIES = (
    "chat",
    "embedding",
    "translation",
    "image",
    "video",
    "audio",
    "tts",
    "stt",
    "rerank",
    "3d",
    "music",
)
RECOMMENDATION_CATEGORIES = (
    "image",
    "video",
    "music",
    "3d",
    "tts",
    "stt",
    "embedding",
    "rerank",
    "translation",
)
MAX_BODY_BYTES = 64 * 1024 * 1024
TRICKLE_TICK_SECONDS = 0.05
LISTEN_BACKLOG = 2048


@dataclass(frozen=True)
class _ParsedBody:
    """A request body decoded once by the middleware for the handlers."""

    json: Any | None
    error: str | None
    parts: list[UploadPart] | None = None
    multipart: bool = False


_BODY_KEY = web.RequestKey("lemondata_emulator.body", _ParsedBody)


@dataclass
class _Fault:
    """A queued fault; ``status`` None means: drop the connection."""

    status: int | None
    path_prefix: str
    remaining: int
    retry_after: float | None = None
    body: dict[str, Any] | str | None = None


def _unparsable(parsed: _ParsedBody) -> RequestRejectedError:
    what = "multipart/form-data" if parsed.multipart else "JSON"
    return RequestRejectedError(f"We could not parse the {what} body of your request.")


def _origin(request: web.Request) -> str:
    """The origin (scheme, host, port) of the socket that received ``request``."""
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        return f"http://{sockname[0]}:{sockname[1]}"
    return f"http://{request.host}"


def _shutting_down() -> web.StreamResponse:
    return web.json_response(
        error_body("The emulator is shutting down", "upstream_error"), status=503
    )


def _model_not_found(model: str, models: list[str]) -> web.StreamResponse:
    error = unknown_model(model, models, status=404)
    return web.json_response(error.body(), status=error.status)


def _no_such_file(file_id: str) -> web.StreamResponse:
    return web.json_response(
        error_body(f"No such file: {file_id}", "invalid_request_error", code="file_not_found"),
        status=404,
    )


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


# --------------------------------------------------------------------------- emulator


class LemonDataEmulator(Billing, TaskEngine, InputSources):
    """A LemonData image API on 127.0.0.1 with knobs, fault injection and a request log."""

    def __init__(self, api_key: str = DEFAULT_API_KEY, models: list[str] | None = None) -> None:
        self.api_key = api_key
        self.models: list[str] = list(DEFAULT_MODELS if models is None else models)
        self.blocked_words: set[str] = {"forbidden"}
        self.force_task_models: set[str] = set()
        self.fail_task_models: dict[str, str | dict[str, Any]] = {}
        self.polls_to_complete = 2
        self.hold_tasks = False
        self.task_status_override: str | None = None
        self.file_size_bytes: int | None = None
        self.file_size_bytes_by_format: dict[str, int] = {}
        self.gate: asyncio.Event | None = None
        self.gated = 0
        self.clock: Callable[[], float] = time.monotonic
        self.wall_clock: Callable[[], float] = time.time
        self.rate_limit: int | None = None
        self.rate_window = 60.0
        self.send_rate_headers = True
        self.rate_reset_in_milliseconds = False  # X-RateLimit-Reset in ms (else seconds)
        self.rate_limited_count = 0
        self.rate_log: list[RateEvent] = []
        self._rate_limiter = RateLimiter()
        self.refuse_key = False
        self.poll_url_override: str | None = None
        self.create_without_status = False
        self.short_images = 0
        self.b64_line_breaks = False
        self.report_progress = False
        self.complete_after_seconds: float | None = None
        self.complete_after_seconds_by_model: dict[str, float] = {}
        self.task_duration: Callable[[EmulatedTask], float | None] | None = None
        self.result_redirect_to: str | None = None
        self.trickle_bytes_per_second: float | None = None
        self.serve_non_image = False
        self.model_overrides: dict[str, ModelOverride] = {}
        self.pricing_updated_at = PRICING_UPDATED_AT
        self.report_usage = True
        self.usage_override: UsageOverride | None = None
        self.models_gate: asyncio.Event | None = None
        self.models_gated = 0
        self.allow_own_host_urls = True
        self.remote_images: dict[str, bytes] = {}
        self.record_requests = True
        self.request_count = 0
        self.requests: list[RecordedRequest] = []
        self._index = RequestIndex()
        self.tasks: dict[str, EmulatedTask] = {}
        self.files: dict[str, StoredFile] = {}
        self.uploaded_files: dict[str, UploadedFile] = {}
        self.hosted: dict[str, HostedImage] = {}
        self.generations: list[Generation] = []
        self._generation_by_ref: dict[str, Generation] = {}
        self._faults: list[_Fault] = []
        self._colours = itertools.count()
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None
        self._other_base_url: str | None = None

    def __repr__(self) -> str:
        return f"LemonDataEmulator(base_url={self._base_url!r}, models={len(self.models)})"

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """Return ``http://127.0.0.1:PORT``; only valid between start() and stop()."""
        if self._base_url is None:
            raise RuntimeError("the LemonData emulator is not started")
        return self._base_url

    @property
    def other_base_url(self) -> str:
        """Return a second origin of the same emulator (another port): a "foreign" host.

        It serves the same routes; requests to it are recorded with that ``origin``, so a
        test can prove the API key never went there (:meth:`foreign_requests`).
        """
        if self._other_base_url is None:
            raise RuntimeError("the LemonData emulator is not started")
        return self._other_base_url

    async def start(self) -> None:
        """Bind two ephemeral ports of 127.0.0.1 (``base_url``, ``other_base_url``); serve."""
        if self._runner is not None:
            raise RuntimeError("the LemonData emulator is already started")
        self._closing = asyncio.Event()
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY_BYTES)
        app.router.add_get("/v1/models", self._handle_models)
        app.router.add_get("/v1/models/{model}", self._handle_model)
        app.router.add_get("/v1/models/{model}/pricing", self._handle_model_pricing)
        app.router.add_get(PRICING_PATH, self._handle_pricing)
        app.router.add_post(GENERATIONS_PATH, self._handle_create)
        app.router.add_post(EDITS_PATH, self._handle_edit)
        app.router.add_post(UPLOADS_PATH, self._handle_upload)
        app.router.add_get(UPLOADS_PATH + "/{file_id}", self._handle_upload_get)
        app.router.add_delete(UPLOADS_PATH + "/{file_id}", self._handle_upload_delete)
        app.router.add_get("/v1/tasks/{task_id}", self._handle_task)
        app.router.add_get("/v1/images/{task_id}", self._handle_task)
        app.router.add_get("/files/{name}", self._handle_file)
        app.router.add_get(HOSTED_PREFIX + "{hosted_id}", self._handle_hosted)
        app.router.add_get(REDIRECT_PATH, self._handle_redirect)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        origins = []
        try:
            for _ in range(2):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.bind(("127.0.0.1", 0))
                # A deep backlog: benchmarks open 1,000 connections at once.
                await web.SockSite(runner, sock, backlog=LISTEN_BACKLOG).start()
                origins.append(f"http://127.0.0.1:{sock.getsockname()[1]}")
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._base_url, self._other_base_url = origins

    async def stop(self) -> None:
        """Release gated creates, close every connection and stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing.set()
        await runner.cleanup()
        self._base_url = self._other_base_url = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----------------------------------------------------------------- test controls

    def fail_next(
        self,
        status: int,
        *,
        path_prefix: str = GENERATIONS_PATH,
        count: int = 1,
        retry_after: float | None = None,
        body: dict[str, Any] | str | None = None,
    ) -> None:
        """Answer the next ``count`` requests under ``path_prefix`` with ``status``.

        ``body`` None gives the contract's error shape for the status; a dict is sent as
        JSON; a str is sent raw as ``text/html`` (a malformed answer). ``retry_after``
        adds a ``Retry-After`` header (seconds).
        """
        if count < 1:
            raise ValueError("count must be at least 1")
        self._faults.append(_Fault(status, path_prefix, count, retry_after, body))

    def drop_next_connection(self, path_prefix: str = GENERATIONS_PATH, count: int = 1) -> None:
        """Close the connection of the next ``count`` matching requests without answering."""
        if count < 1:
            raise ValueError("count must be at least 1")
        self._faults.append(_Fault(None, path_prefix, count))

    def clear_faults(self) -> None:
        """Forget every queued fault."""
        self._faults.clear()

    def complete_task(self, task_id: str) -> EmulatedTask:
        """Complete a task now (even when held); its next poll answers ``completed``."""
        task = self.tasks[task_id]
        self._complete(task)
        self._notify()
        return task

    def fail_task(self, task_id: str, error: str | dict[str, Any] | None = None) -> EmulatedTask:
        """Fail a task now (even when held) with ``error`` (a string or an object)."""
        task = self.tasks[task_id]
        self._fail(task, DEFAULT_TASK_ERROR if error is None else error)
        self._notify()
        return task

    def expire_file(self, file_id: str) -> None:
        """Make one image URL answer 404; accepts an id, ``<id>.<ext>`` or the full URL."""
        self.files[file_key(file_id)].expired = True
        self._notify()

    def expire_all_files(self) -> None:
        """Make every image URL issued so far answer 404."""
        for stored in self.files.values():
            stored.expired = True
        self._notify()

    def host(self, data: bytes, content_type: str = "image/png") -> str:
        """Serve ``data`` (any bytes) at a new unauthenticated URL on the emulator; return it.

        Such URLs are the emulator's own host: inputs may name them while
        ``allow_own_host_urls`` is True.
        """
        hosted_id = secrets.token_hex(8)
        self.hosted[hosted_id] = HostedImage(hosted_id, data, content_type)
        return f"{self.base_url}{HOSTED_PREFIX}{hosted_id}"

    def redirect_url(self, to: str) -> str:
        """Return an emulator URL that answers ``302 Location: to``."""
        return f"{self.base_url}{REDIRECT_PATH}?to={quote(to, safe='')}"

    def rate_window_end(self) -> float:
        """Return when the current rate window ends, on the emulator's clock."""
        return self._rate_limiter.window_end(self.rate_window)

    def reset_rate_limit(self) -> None:
        """Start every key's rate window afresh (the log and counters are kept)."""
        self._rate_limiter.reset()

    def admitted_at(self) -> list[float]:
        """Return the clock time of every request the rate limiter admitted, in order."""
        return [event.at for event in self.rate_log if event.admitted]

    def supported_operations(self, model: str) -> tuple[str, ...]:
        """Return the operations ``model`` offers (what edits and image inputs are checked by)."""
        return operations(model, self.model_overrides.get(model, {}))

    # ----------------------------------------------------------------- observation

    def creates(self) -> list[Any]:
        """Return the bodies of every ``POST /v1/images/generations`` (faulted too).

        A JSON create gives its decoded JSON (None when malformed); a multipart create
        gives its text fields (:attr:`RecordedRequest.form`; the image is in ``files``).
        """
        return [r.json if r.form is None else r.form for r in self._index.of("create")]

    def clear_requests(self) -> None:
        """Forget every recorded request (``request_count`` and ``rate_log`` are kept)."""
        self.requests.clear()
        self._index.clear()
        self._notify()

    def foreign_requests(self) -> list[RecordedRequest]:
        """Return every request received on :attr:`other_base_url`."""
        other = self._other_base_url
        return [r for r in self.requests if r.origin == other]

    def create_requests(self) -> list[RecordedRequest]:
        """Return every ``POST /v1/images/generations`` as recorded (faulted too)."""
        return self._index.of("create")

    def edits(self) -> list[RecordedRequest]:
        """Return every ``POST /v1/images/edits`` as recorded (faulted too)."""
        return self._index.of("edit")

    def uploads(self) -> list[RecordedRequest]:
        """Return every ``POST /v1/files`` as recorded (faulted too)."""
        return self._index.of("upload")

    def generation(self, ref: str) -> Generation:
        """Return the accepted create or edit behind ``ref``.

        ``ref`` is a task id, a generation id, or one of its result images (a file id,
        ``<id>.<ext>`` or the full URL). Raises KeyError when none matches.
        """
        return self._generation_by_ref[file_key(ref)]

    def input_images(self, ref: str) -> list[InputImage]:
        """Return the input images (and mask) the create or edit behind ``ref`` received."""
        return list(self.generation(ref).inputs)

    def polls(self, task_id: str | None = None) -> list[RecordedRequest]:
        """Return every task poll, optionally only those of ``task_id``."""
        return self._index.of("poll", task_id)

    def downloads(self, file_id: str | None = None) -> list[RecordedRequest]:
        """Return every image fetch, optionally only those of ``file_id``."""
        return self._index.of("download", file_id)

    async def wait_for(self, predicate: Callable[[], bool], timeout: float = 10) -> None:
        """Wait until ``predicate()`` is true, re-checking after every request or change.

        Raises TimeoutError (naming the recent requests and task states) after ``timeout``.
        """
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._changed
                    if predicate():
                        return
                    await changed.wait()
        except TimeoutError:
            recent = ", ".join(f"{r.method} {r.path}" for r in self.requests[-8:]) or "none"
            tasks = ", ".join(f"{t.task_id}={t.status}" for t in self.tasks.values()) or "none"
            raise TimeoutError(
                f"LemonData emulator: condition {getattr(predicate, '__name__', predicate)!r} "
                f"still false after {timeout}s; {len(self.requests)} request(s) recorded "
                f"(last: {recent}); tasks: {tasks}; gated creates: {self.gated}"
            ) from None

    def _notify(self) -> None:
        """Wake every wait_for (a broadcast that, unlike Condition, works from sync code)."""
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    # ----------------------------------------------------------------- HTTP plumbing

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        raw = await request.read()
        parsed: Any = None
        error: str | None = None
        parts: list[UploadPart] | None = None
        content_type = request.headers.get("Content-Type", "")
        if is_multipart(content_type):
            try:
                parts = parse_multipart(raw, content_type)
            except MultipartError as exc:
                error = str(exc)
        elif raw:
            try:
                parsed = json.loads(raw)
            except ValueError as exc:
                error = str(exc)
        request[_BODY_KEY] = _ParsedBody(parsed, error, parts, is_multipart(content_type))
        self.request_count += 1
        if self.record_requests:
            recorded = RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                json=parsed,
                at=self.clock(),
                body=raw,
                form=None if parts is None else form_fields(parts),
                files=[] if parts is None else [p for p in parts if p.filename is not None],
                origin=_origin(request),
            )
            self.requests.append(recorded)
            self._index.add(recorded)
        self._notify()
        try:
            fault = self._take_fault(request.path)
            if fault is not None:
                return self._fault_response(request, fault)
            decision: RateDecision | None = None
            if request.path.startswith("/v1/"):
                if self.refuse_key or not self._authorized(request):
                    return web.json_response(
                        error_body("Invalid API key provided", "invalid_api_key"), status=401
                    )
                decision = self._count_rate(request)
                if decision is not None and not decision.admitted:
                    return self._rate_limited(decision)
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                if not request.path.startswith("/v1/"):
                    raise
                type_ = "not_found_error" if exc.status == 404 else "invalid_request_error"
                response = web.json_response(
                    error_body(f"{request.method} {request.path}: {exc.reason}", type_),
                    status=exc.status,
                )
            if decision is not None and self.send_rate_headers and not response.prepared:
                response.headers.update(
                    decision.headers(
                        self.wall_clock(), milliseconds=self.rate_reset_in_milliseconds
                    )
                )
            return response
        finally:
            self._notify()

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self.api_key

    def _count_rate(self, request: web.Request) -> RateDecision | None:
        """Count an authenticated request against its key's budget (None: no limit set)."""
        if self.rate_limit is None:
            return None
        _, _, key = request.headers.get("Authorization", "").partition(" ")
        now = self.clock()
        decision = self._rate_limiter.check(key.strip(), self.rate_limit, self.rate_window, now)
        self.rate_log.append(RateEvent(now, request.path, decision.admitted))
        if not decision.admitted:
            self.rate_limited_count += 1
        return decision

    def _rate_limited(self, decision: RateDecision) -> web.StreamResponse:
        headers = {"Retry-After": _format_seconds(decision.retry_after)}
        if self.send_rate_headers:
            headers.update(
                decision.headers(self.wall_clock(), milliseconds=self.rate_reset_in_milliseconds)
            )
        return web.json_response(decision.error_body(), status=429, headers=headers)

    def _take_fault(self, path: str) -> _Fault | None:
        for fault in self._faults:
            if path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    def _fault_response(self, request: web.Request, fault: _Fault) -> web.StreamResponse:
        if fault.status is None:
            if request.transport is not None:
                request.transport.close()
            # aiohttp ignores the failed write to the closed transport.
            return web.Response(status=204)
        headers: dict[str, str] = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = _format_seconds(fault.retry_after)
        if fault.status == 429:
            headers.update({"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0"})
        if isinstance(fault.body, str):
            return web.Response(
                status=fault.status, text=fault.body, content_type="text/html", headers=headers
            )
        body = fault.body if fault.body is not None else default_error_body(fault.status)
        return web.json_response(body, status=fault.status, headers=headers)

    # ----------------------------------------------------------------- handlers

    async def _handle_models(self, request: web.Request) -> web.StreamResponse:
        query = request.query
        try:
            for key, allowed in (
                ("view", MODEL_VIEWS),
                ("recommended_for", RECOMMENDATION_CATEGORIES),
                ("category", MODEL_CATEGORIES),
            ):
                if key in query and query[key] not in allowed:
                    raise invalid_param(key, f"Expected one of {', '.join(allowed)}")
        except RequestRejectedError as exc:
            return web.json_response(exc.body(), status=exc.status)
        if not await self._pass_gate("models_gate"):
            return _shutting_down()
        recommended_for = query.get("recommended_for")
        listed = [
            (rank, model)
            for rank, model in enumerate(self.models, start=1)
            if recommended_for in (None, "image")
            and query.get("category", "image") == "image"
            and query.get("provider", owner(model)) == owner(model)
        ]
        if query.get("view") == "compact":
            compact = [
                compact_item(m, rank, recommended_for, self.model_overrides.get(m, {}))
                for rank, m in listed
            ]
            return web.json_response(
                {"object": "list", "view": "compact", "count": len(compact), "data": compact}
            )
        data = [
            list_item(m, rank, recommended_for, self.model_overrides.get(m, {}))
            for rank, m in listed
        ]
        return web.json_response({"object": "list", "data": data})

    async def _handle_model(self, request: web.Request) -> web.StreamResponse:
        model = request.match_info["model"]
        if model not in self.models:
            return _model_not_found(model, self.models)
        if not await self._pass_gate("models_gate"):
            return _shutting_down()
        rank = self.models.index(model) + 1
        return web.json_response(model_detail(model, rank, self.model_overrides.get(model, {})))

    async def _handle_model_pricing(self, request: web.Request) -> web.StreamResponse:
        model = request.match_info["model"]
        if model not in self.models:
            return _model_not_found(model, self.models)
        if not await self._pass_gate("models_gate"):
            return _shutting_down()
        return web.json_response(pricing_detail(model, self.model_overrides.get(model, {})))

    async def _handle_create(self, request: web.Request) -> web.StreamResponse:
        parsed = request[_BODY_KEY]
        try:
            if parsed.error is not None:
                raise _unparsable(parsed)
            uploads: dict[str, UploadPart] = {}
            refs: list[ImageRef] = []
            body: Any = parsed.json
            if parsed.parts is not None:
                body, refs, uploads = generation_form(parsed.parts)
            plan = validate_generation_request(
                body, self.models, operations=self.supported_operations, uploads=refs
            )
            self._check_profile(plan, body)
            self._check_content_policy(plan.prompt)
            inputs = self._resolve_inputs(plan, uploads)
        except RequestRejectedError as exc:
            return web.json_response(exc.body(), status=exc.status)
        as_task = body.get("async") is True or plan.model in self.force_task_models
        return await self._answer(GENERATIONS_PATH, plan, body, inputs, as_task=as_task)

    async def _handle_edit(self, request: web.Request) -> web.StreamResponse:
        parsed = request[_BODY_KEY]
        try:
            if parsed.error is not None:
                raise _unparsable(parsed)
            uploads: dict[str, UploadPart] = {}
            refs: list[ImageRef] = []
            mask: ImageRef | None = None
            body: Any = parsed.json
            if parsed.parts is not None:
                body, refs, mask, uploads = edit_form(parsed.parts)
            plan = validate_edit_request(
                body,
                self.models,
                operations=self.supported_operations,
                uploads=refs,
                mask_upload=mask,
            )
            self._check_profile(plan, body)
            self._check_content_policy(plan.prompt)
            inputs = self._resolve_inputs(plan, uploads)
        except RequestRejectedError as exc:
            return web.json_response(exc.body(), status=exc.status)
        as_task = (
            body.get("async") is True
            or always_async(plan.model)
            or plan.model in self.force_task_models
        )
        return await self._answer(EDITS_PATH, plan, body, inputs, as_task=as_task)

    async def _answer(
        self,
        route: str,
        plan: RequestPlan,
        body: Mapping[str, Any],
        inputs: list[InputImage],
        *,
        as_task: bool,
    ) -> web.StreamResponse:
        """Answer an accepted create or edit: with a task, or (past the gate) with images."""
        generation = Generation(
            generation_id=f"gen_{secrets.token_hex(8)}",
            route=route,
            model=plan.model,
            operation=plan.operation,
            prompt=plan.prompt,
            n=plan.n,
            params=forwarded_params(body, plan.model),
            inputs=inputs,
        )
        self.generations.append(generation)
        self._generation_by_ref[generation.generation_id] = generation
        if as_task:
            task = self._new_task(
                plan.model,
                plan.n,
                plan.prompt,
                requested_async=body.get("async") is True,
                operation=plan.operation,
                inputs=inputs,
                output_format=generation.output_format,
            )
            generation.task_id = task.task_id
            self._generation_by_ref[task.task_id] = generation
            answer: dict[str, Any] = {
                "created": task.created,
                "task_id": task.task_id,
                "id": task.task_id,
                "status": "pending",
                "poll_url": self._poll_url(task),
                "data": [],
            }
            if self.create_without_status:
                del answer["status"]
            return web.json_response(answer)
        if not await self._pass_gate("gate"):
            return _shutting_down()
        b64 = body.get("response_format") == "b64_json"
        made_in = generation.output_format
        data = []
        for _ in range(max(0, plan.n - self.short_images)):
            item: dict[str, Any]
            if b64:
                size = self._image_size(made_in)
                image = make_image(self._next_colour(), made_in, size_bytes=size)
                item = {"b64_json": b64_encode(image, line_breaks=self.b64_line_breaks)}
            else:
                item = {"url": self._result_url(self._new_file(generation, made_in))}
            if plan.model == DALLE3_MODEL:
                item["revised_prompt"] = f"A detailed, vivid illustration of {plan.prompt.strip()}"
            data.append(item)
        answer = {"created": int(time.time()), "data": data}
        if (usage := self._usage(generation, len(data))) is not None:
            answer["usage"] = usage
        return web.json_response(answer)

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        parsed = request[_BODY_KEY]
        try:
            if parsed.error is not None or parsed.parts is None:
                raise RequestRejectedError(
                    "POST /v1/files takes a multipart/form-data body", param="file"
                )
            files = [p for p in parsed.parts if p.field == "file"]
            if len(files) != 1 or files[0].filename is None:
                raise invalid_param("file", "Exactly one file part named file is required")
            fields = form_fields(parsed.parts)
            purpose = fields.get("purpose")
            if purpose is None:
                raise invalid_param("purpose", "purpose is required (vision or user_data)")
            if purpose not in UPLOAD_PURPOSES:
                raise invalid_param(
                    "purpose",
                    f"Expected one of {', '.join(UPLOAD_PURPOSES)} "
                    "(the emulator stores image files only)",
                )
            model = fields.get("model", GPT_IMAGE_MODEL)
            if model not in self.models:
                raise unknown_model(model, self.models)
            content_type = sniff_image(files[0].data)
            if content_type is None:
                raise not_an_image("file")
        except RequestRejectedError as exc:
            return web.json_response(exc.body(), status=exc.status)
        stored = UploadedFile(
            file_id=f"file-{secrets.token_hex(12)}",
            filename=files[0].filename or "upload",
            purpose=purpose,
            model=model,
            content_type=content_type,
            data=files[0].data,
        )
        self.uploaded_files[stored.file_id] = stored
        return web.json_response(stored.file_object())

    async def _handle_upload_get(self, request: web.Request) -> web.StreamResponse:
        stored = self.uploaded_files.get(request.match_info["file_id"])
        if stored is None:
            return _no_such_file(request.match_info["file_id"])
        return web.json_response(stored.file_object())

    async def _handle_upload_delete(self, request: web.Request) -> web.StreamResponse:
        stored = self.uploaded_files.pop(request.match_info["file_id"], None)
        if stored is None:
            return _no_such_file(request.match_info["file_id"])
        return web.json_response({"id": stored.file_id, "object": "file", "deleted": True})

    async def _handle_task(self, request: web.Request) -> web.StreamResponse:
        task_id = request.match_info["task_id"]
        task = self.tasks.get(task_id)
        if task is None:
            return web.json_response(
                error_body(f"Task {task_id} not found", "async_task_not_found"), status=404
            )
        task.polls += 1
        self._advance(task)
        return web.json_response(self._task_body(task))

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        stored = self.files.get(file_key(request.match_info["name"]))
        if stored is None or stored.expired:
            return web.Response(status=404, text="Not Found: the URL expired or never existed")
        content_type = IMAGE_CONTENT_TYPES.get(stored.output_format, "image/png")
        return await self._serve(request, self._served_parts(stored), content_type)

    def _image_size(self, output_format: str) -> int | None:
        """The size to pad an image of ``output_format`` to (None: unpadded)."""
        return self.file_size_bytes_by_format.get(output_format, self.file_size_bytes)

    def _served_parts(self, stored: StoredFile) -> list[bytes]:
        """The bytes the CDN serves for a generated image (``serve_non_image``: HTML)."""
        if self.serve_non_image:
            return [NOT_AN_IMAGE]
        size = self._image_size(stored.output_format)
        return image_parts(stored.rgb, stored.output_format, size_bytes=size)

    async def _serve(
        self, request: web.Request, parts: list[bytes], content_type: str
    ) -> web.StreamResponse:
        """Stream ``parts`` without joining them, at ``trickle_bytes_per_second`` if set."""
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.content_length = sum(len(part) for part in parts)
        await response.prepare(request)
        rate = self.trickle_bytes_per_second
        if rate is None:
            for part in parts:
                await response.write(part)
        else:
            data = b"".join(parts)
            step = max(1, int(rate * TRICKLE_TICK_SECONDS))
            for start in range(0, len(data), step):
                await response.write(data[start : start + step])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closing.wait(), step / rate)
                if self._closing.is_set():
                    break
        await response.write_eof()
        return response

    async def _handle_hosted(self, request: web.Request) -> web.StreamResponse:
        hosted = self.hosted.get(request.match_info["hosted_id"])
        if hosted is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=hosted.data, headers={"Content-Type": hosted.content_type})

    async def _handle_redirect(self, request: web.Request) -> web.StreamResponse:
        target = request.query.get("to")
        if not target:
            return web.Response(status=400, text="redirect needs ?to=")
        return web.Response(status=302, headers={"Location": target})

    # ----------------------------------------------------------------- state

    def _check_content_policy(self, prompt: str) -> None:
        lowered = prompt.lower()
        if any(word.lower() in lowered for word in self.blocked_words):
            raise RequestRejectedError(
                CONTENT_POLICY_MESSAGE,
                type_="invalid_request_error",
                code="content_policy_violation",
            )

    async def _pass_gate(self, name: str) -> bool:
        """Wait for the gate knob ``name`` (if set); False when the emulator stops meanwhile.

        ``gate`` counts its waiters in ``gated``, ``models_gate`` in ``models_gated``.
        """
        gate: asyncio.Event | None = getattr(self, name)
        if gate is None or gate.is_set():
            return True
        counter = "gated" if name == "gate" else "models_gated"
        setattr(self, counter, getattr(self, counter) + 1)
        self._notify()
        waiters = [
            asyncio.ensure_future(gate.wait()),
            asyncio.ensure_future(self._closing.wait()),
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
            setattr(self, counter, getattr(self, counter) - 1)
            self._notify()
        return gate.is_set()

    def _check_profile(self, plan: RequestPlan, body: Mapping[str, Any]) -> None:
        """Hold a create or edit to the model's published request format (and ``max_n``)."""
        override = self.model_overrides.get(plan.model, {})
        summary = format_summary(plan.model, override)
        check_options(plan, body, summary, max_n=max_images(plan.model, override))
