"""The emulator server: routes, knobs, fault injection and observation."""

from __future__ import annotations

import asyncio
import base64
import colorsys
import itertools
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from tests.fakes.lemondata.catalog import model_item
from tests.fakes.lemondata.contract import (
    CONTENT_POLICY_MESSAGE,
    DALLE3_MODEL,
    DEFAULT_API_KEY,
    DEFAULT_MODELS,
    DEFAULT_TASK_ERROR,
    FILES_PREFIX,
    GENERATIONS_PATH,
    TASK_PATH_PREFIXES,
    RequestRejectedError,
    default_error_body,
    error_body,
    validate_generation_request,
)
from tests.fakes.lemondata.images import make_png
from tests.fakes.lemondata.records import EmulatedTask, RecordedRequest, StoredFile


@dataclass(frozen=True)
class _ParsedBody:
    """A request body decoded once by the middleware for the handlers."""

    json: Any | None
    error: str | None


_BODY_KEY = web.RequestKey("lemondata_emulator.body", _ParsedBody)


@dataclass
class _Fault:
    """A queued fault; ``status`` None means: drop the connection."""

    status: int | None
    path_prefix: str
    remaining: int
    retry_after: float | None = None
    body: dict[str, Any] | str | None = None


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else repr(float(seconds))


# --------------------------------------------------------------------------- emulator


class LemonDataEmulator:
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
        self.gate: asyncio.Event | None = None
        self.gated = 0
        self.requests: list[RecordedRequest] = []
        self.tasks: dict[str, EmulatedTask] = {}
        self.files: dict[str, StoredFile] = {}
        self._faults: list[_Fault] = []
        self._colours = itertools.count()
        self._changed = asyncio.Event()
        self._closing = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    def __repr__(self) -> str:
        return f"LemonDataEmulator(base_url={self._base_url!r}, models={len(self.models)})"

    # ----------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """Return ``http://127.0.0.1:PORT``; only valid between start() and stop()."""
        if self._base_url is None:
            raise RuntimeError("the LemonData emulator is not started")
        return self._base_url

    async def start(self) -> None:
        """Bind 127.0.0.1 on an ephemeral port and start serving."""
        if self._runner is not None:
            raise RuntimeError("the LemonData emulator is already started")
        self._closing = asyncio.Event()
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/v1/models", self._handle_models)
        app.router.add_post(GENERATIONS_PATH, self._handle_create)
        app.router.add_get("/v1/tasks/{task_id}", self._handle_task)
        app.router.add_get("/v1/images/{task_id}", self._handle_task)
        app.router.add_get("/files/{name}", self._handle_file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        host, port = runner.addresses[0][:2]
        self._runner = runner
        self._base_url = f"http://{host}:{port}"

    async def stop(self) -> None:
        """Release gated creates, close every connection and stop serving (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._closing.set()
        await runner.cleanup()
        self._base_url = None

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
        """Make one image URL answer 404; accepts an id, ``<id>.png`` or the full URL."""
        key = file_id.rsplit("/", 1)[-1].removesuffix(".png")
        self.files[key].expired = True
        self._notify()

    def expire_all_files(self) -> None:
        """Make every image URL issued so far answer 404."""
        for stored in self.files.values():
            stored.expired = True
        self._notify()

    # ----------------------------------------------------------------- observation

    def creates(self) -> list[Any]:
        """Return the JSON bodies of every ``POST /v1/images/generations`` (faulted too)."""
        return [r.json for r in self.requests if r.method == "POST" and r.path == GENERATIONS_PATH]

    def polls(self, task_id: str | None = None) -> list[RecordedRequest]:
        """Return every task poll, optionally only those of ``task_id``."""
        return [
            r
            for r in self.requests
            if r.method == "GET"
            and r.path.startswith(TASK_PATH_PREFIXES)
            and r.path != GENERATIONS_PATH
            and (task_id is None or r.path.rsplit("/", 1)[-1] == task_id)
        ]

    def downloads(self, file_id: str | None = None) -> list[RecordedRequest]:
        """Return every image fetch, optionally only those of ``file_id``."""
        return [
            r
            for r in self.requests
            if r.method == "GET"
            and r.path.startswith(FILES_PREFIX)
            and (file_id is None or r.path == f"{FILES_PREFIX}{file_id}.png")
        ]

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
        if raw:
            try:
                parsed = json.loads(raw)
            except ValueError as exc:
                error = str(exc)
        request[_BODY_KEY] = _ParsedBody(parsed, error)
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                query=dict(request.query),
                headers=dict(request.headers),
                json=parsed,
                at=time.monotonic(),
                body=raw,
            )
        )
        self._notify()
        try:
            fault = self._take_fault(request.path)
            if fault is not None:
                return self._fault_response(request, fault)
            if request.path.startswith("/v1/") and not self._authorized(request):
                return web.json_response(
                    error_body("Invalid API key provided", "invalid_api_key"), status=401
                )
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                if not request.path.startswith("/v1/"):
                    raise
                type_ = "not_found_error" if exc.status == 404 else "invalid_request_error"
                return web.json_response(
                    error_body(f"{request.method} {request.path}: {exc.reason}", type_),
                    status=exc.status,
                )
            return response
        finally:
            self._notify()

    def _authorized(self, request: web.Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and token.strip() == self.api_key

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
        recommended_for = request.query.get("recommended_for")
        listed = self.models if recommended_for in (None, "image") else []
        data = [model_item(m, rank, recommended_for) for rank, m in enumerate(listed, start=1)]
        return web.json_response({"object": "list", "data": data})

    async def _handle_create(self, request: web.Request) -> web.StreamResponse:
        parsed = request[_BODY_KEY]
        if parsed.error is not None:
            return web.json_response(
                error_body(
                    "We could not parse the JSON body of your request.", "invalid_request_error"
                ),
                status=400,
            )
        body: Any = parsed.json
        try:
            validate_generation_request(body, self.models)
            self._check_content_policy(body["prompt"])
        except RequestRejectedError as exc:
            return web.json_response(exc.body(), status=exc.status)
        model: str = body["model"]
        prompt: str = body["prompt"]
        n: int = body.get("n", 1)
        now = int(time.time())
        requested_async = body.get("async") is True
        if requested_async or model in self.force_task_models:
            task = self._new_task(model, n, prompt, requested_async=requested_async)
            return web.json_response(
                {
                    "created": task.created,
                    "task_id": task.task_id,
                    "id": task.task_id,
                    "status": "pending",
                    "poll_url": task.poll_url,
                    "data": [],
                }
            )
        if not await self._pass_gate():
            return web.json_response(
                error_body("The emulator is shutting down", "upstream_error"), status=503
            )
        b64 = body.get("response_format") == "b64_json"
        data = []
        for _ in range(n):
            item: dict[str, Any]
            if b64:
                png = make_png(self._next_colour(), size_bytes=self.file_size_bytes)
                item = {"b64_json": base64.b64encode(png).decode("ascii")}
            else:
                item = {"url": self._file_url(self._new_file())}
            if model == DALLE3_MODEL:
                item["revised_prompt"] = f"A detailed, vivid illustration of {prompt.strip()}"
            data.append(item)
        return web.json_response({"created": now, "data": data})

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
        file_id = request.match_info["name"].removesuffix(".png")
        stored = self.files.get(file_id)
        if stored is None or stored.expired:
            return web.Response(status=404, text="Not Found: the URL expired or never existed")
        png = make_png(stored.rgb, size_bytes=self.file_size_bytes)
        return web.Response(body=png, content_type="image/png")

    # ----------------------------------------------------------------- state

    def _check_content_policy(self, prompt: str) -> None:
        lowered = prompt.lower()
        if any(word.lower() in lowered for word in self.blocked_words):
            raise RequestRejectedError(
                CONTENT_POLICY_MESSAGE,
                type_="invalid_request_error",
                code="content_policy_violation",
            )

    async def _pass_gate(self) -> bool:
        """Wait for ``gate`` (if any); return False when the emulator stops meanwhile."""
        gate = self.gate
        if gate is None or gate.is_set():
            return True
        self.gated += 1
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
            self.gated -= 1
            self._notify()
        return gate.is_set()

    def _new_task(self, model: str, n: int, prompt: str, *, requested_async: bool) -> EmulatedTask:
        task_id = f"ldtask_{secrets.token_hex(16)}"
        task = EmulatedTask(task_id, model, n, prompt, requested_async)
        self.tasks[task_id] = task
        return task

    def _advance(self, task: EmulatedTask) -> None:
        if task.done:
            return
        if not self.hold_tasks and task.polls >= self.polls_to_complete:
            error = self.fail_task_models.get(task.model)
            if error is None:
                self._complete(task)
            else:
                self._fail(task, error)
            return
        task.status = "processing"
        task.progress = min(95, 100 * task.polls // max(self.polls_to_complete, 1))
        task.updated = int(time.time())

    def _complete(self, task: EmulatedTask) -> None:
        task.status = "completed"
        task.progress = 100
        task.error = None
        task.updated = int(time.time())
        task.file_ids = [self._new_file() for _ in range(task.n)]

    def _fail(self, task: EmulatedTask, error: str | dict[str, Any]) -> None:
        task.status = "failed"
        task.error = error
        task.updated = int(time.time())

    def _task_body(self, task: EmulatedTask) -> dict[str, Any]:
        status = task.status
        data: list[dict[str, Any]] = []
        if task.done:
            data = [{"url": self._file_url(f)} for f in task.file_ids]
        elif self.task_status_override is not None:
            status = self.task_status_override
        elif status == "processing":
            data = [{"url": ""}]  # the contract quirk: a placeholder entry while running
        body: dict[str, Any] = {
            "id": task.task_id,
            "task_id": task.task_id,
            "poll_url": task.poll_url,
            "status": status,
            "progress": task.progress,
            "model": task.model,
            "created": task.created,
            "updated": task.updated,
            "data": data,
        }
        if task.status == "failed":
            body["error"] = task.error
        return body

    def _next_colour(self) -> tuple[int, int, int]:
        hue = (next(self._colours) * 0.618033988749895) % 1.0
        red, green, blue = colorsys.hsv_to_rgb(hue, 0.65, 0.95)
        return round(red * 255), round(green * 255), round(blue * 255)

    def _new_file(self) -> str:
        file_id = f"img_{secrets.token_hex(12)}"
        self.files[file_id] = StoredFile(file_id, self._next_colour())
        return file_id

    def _file_url(self, file_id: str) -> str:
        return f"{self.base_url}{FILES_PREFIX}{file_id}.png"
