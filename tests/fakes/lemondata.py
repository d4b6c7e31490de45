"""LemonData emulator: a real HTTP server on 127.0.0.1 that speaks the image API contract.

The contract is ``/work/shared/docs/lemondata-images-api.md`` plus the OpenAPI subset
``lemondata-images-schemas.json``. Tests talk to the emulator over real HTTP, either
in-process or from a bot subprocess pointed at :attr:`LemonDataEmulator.base_url`::

    async with LemonDataEmulator() as lemondata:
        client = LemonDataClient(http, base_url=lemondata.base_url, api_key=lemondata.api_key)
        ...
        await lemondata.wait_for(lambda: len(lemondata.creates()) == 1)

Routes
    ``GET /v1/models[?recommended_for=image]``, ``POST /v1/images/generations``,
    ``GET /v1/tasks/{id}`` (and its alias ``GET /v1/images/{id}``) need
    ``Authorization: Bearer <api_key>``. ``GET /files/{id}.png`` is an unauthenticated
    stand-in for the CDN that serves generated images.

Knobs (plain attributes; change them at any time)
    ``models``               list of model ids that exist and are listed (default
                             :data:`DEFAULT_MODELS`); a create for any other model is
                             rejected with 400 ``model_not_found``.
    ``blocked_words``        set of substrings (case-insensitive) that make a prompt fail
                             the content policy (default ``{"forbidden"}``).
    ``force_task_models``    models whose creates answer with a task although ``async`` was
                             not asked for.
    ``polls_to_complete``    a task completes on this poll (default 2: the first poll
                             answers ``processing``, the second ``completed``).
    ``hold_tasks``           when True no task finishes by polling; finish them with
                             :meth:`~LemonDataEmulator.complete_task` /
                             :meth:`~LemonDataEmulator.fail_task`.
    ``fail_task_models``     model -> error (a string or an ``{"code", "message"}`` object):
                             tasks of that model end ``failed`` with that ``error``.
    ``task_status_override`` a status (e.g. ``"in_progress"``, ``"queued"``) that running
                             tasks answer instead of ``pending``/``processing``.
    ``file_size_bytes``      pad every served PNG (with a ``tEXt`` chunk) to this size.
    ``gate``                 an :class:`asyncio.Event`; synchronous creates wait for it
                             before answering (``gated`` counts those waiting).

Fault injection
    :meth:`~LemonDataEmulator.fail_next` queues error answers (status, ``Retry-After``,
    JSON or raw text body); :meth:`~LemonDataEmulator.drop_next_connection` closes the
    connection instead of answering. Faults apply, first queued first, to requests whose
    path starts with their ``path_prefix``, before authentication and validation;
    :meth:`~LemonDataEmulator.clear_faults` forgets them.

Observation
    ``requests`` records every request (faulted ones too) as a :class:`RecordedRequest`;
    :meth:`~LemonDataEmulator.creates`, :meth:`~LemonDataEmulator.polls` and
    :meth:`~LemonDataEmulator.downloads` filter it; ``tasks`` and ``files`` expose state;
    :meth:`~LemonDataEmulator.wait_for` waits, without sleeping, until a predicate holds
    (it is re-checked after every request and every state change).

The emulator is single-loop: use it from the event loop that started it.
"""

from __future__ import annotations

import asyncio
import base64
import colorsys
import itertools
import json
import re
import secrets
import struct
import time
import zlib
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_MODELS",
    "EmulatedTask",
    "LemonDataEmulator",
    "RecordedRequest",
    "RequestRejectedError",
    "StoredFile",
    "error_body",
    "gpt_image_size_error",
    "make_png",
    "validate_generation_request",
]

DEFAULT_API_KEY = "sk-test-emulator"
DEFAULT_MODELS: list[str] = [
    "gpt-image-2",
    "dall-e-3",
    "gemini-3-pro-image-preview",
    "nano-banana-pro",
    "gemini-2.5-flash-image",
    "gemini-3.1-flash-image-preview",
    "nano-banana",
    "gemini-2.0-flash-preview-image-generation",
    "flux-pro",
    "midjourney",
]

GPT_IMAGE_MODEL = "gpt-image-2"
DALLE3_MODEL = "dall-e-3"
GEMINI_FLASH_MODELS = frozenset(
    {"gemini-2.5-flash-image", "gemini-3.1-flash-image-preview", "nano-banana", "nano-banana-edit"}
)
GEMINI_PROMPT_ONLY_MODELS = frozenset({"gemini-2.0-flash-preview-image-generation"})
DALLE3_SIZES = ("1024x1024", "1792x1024", "1024x1792")
QUALITIES = ("standard", "hd", "auto", "low", "medium", "high")
DALLE_QUALITIES = ("standard", "hd")
GPT_IMAGE_QUALITIES = ("auto", "low", "medium", "high")
STYLES = ("vivid", "natural")
RESPONSE_FORMATS = ("url", "b64_json")
RESOLUTIONS = ("1k", "2k", "4k")
GPT_IMAGE_ENUMS: dict[str, tuple[str, ...]] = {
    "background": ("transparent", "opaque", "auto"),
    "output_format": ("png", "jpeg", "webp"),
    "moderation": ("auto", "low"),
}
GPT_IMAGE_INT_RANGES: dict[str, tuple[int, int]] = {
    "output_compression": (0, 100),
    "compression": (0, 100),
    "partial_images": (0, 3),
}
MAX_PROMPT_CHARS = 4000
MIN_N, MAX_N = 1, 10
GPT_IMAGE_SIZE_STEP = 16
GPT_IMAGE_MAX_EDGE = 3840
GPT_IMAGE_MAX_RATIO = 3
GPT_IMAGE_MIN_PIXELS = 655_360
GPT_IMAGE_MAX_PIXELS = 8_294_400
CONTENT_POLICY_MESSAGE = "Your request was rejected as a result of our safety system."
TERMINAL_TASK_STATUSES = frozenset({"completed", "failed"})
DEFAULT_TASK_ERROR: dict[str, str] = {
    "code": "generation_failed",
    "message": "The upstream provider failed to generate the image.",
}
MODEL_CREATED = 1_700_000_000
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IMAGE_SIDE = 64
GENERATIONS_PATH = "/v1/images/generations"
TASK_PATH_PREFIXES = ("/v1/tasks/", "/v1/images/")
FILES_PREFIX = "/files/"

_SIZE_RE = re.compile(r"^(\d+)x(\d+)$")
_ASPECT_RE = re.compile(r"^\d+:\d+$")

_FAULT_DEFAULTS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("invalid_api_key", "Invalid API key provided"),
    402: ("insufficient_balance", "Insufficient balance. Please top up your account."),
    403: ("unauthorized", "This API key is not allowed to use this resource"),
    404: ("not_found_error", "Not found"),
    408: ("timeout_error", "The request timed out"),
    429: ("rate_limit_exceeded", "Rate limit exceeded. Please slow down."),
    500: ("server_error", "An internal error occurred"),
    502: ("upstream_error", "The upstream provider returned an invalid response"),
    503: ("upstream_error", "The upstream provider is temporarily unavailable"),
    504: ("upstream_error", "The upstream provider timed out"),
}


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it (recorded before any fault or check)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any | None
    at: float
    body: bytes = b""


@dataclass
class EmulatedTask:
    """The emulator's view of one asynchronous generation task."""

    task_id: str
    model: str
    n: int
    prompt: str
    requested_async: bool
    status: str = "pending"
    polls: int = 0
    progress: int = 0
    created: int = field(default_factory=lambda: int(time.time()))
    updated: int = field(default_factory=lambda: int(time.time()))
    error: str | dict[str, Any] | None = None
    file_ids: list[str] = field(default_factory=list)

    @property
    def poll_url(self) -> str:
        """Return the relative URL the client should poll."""
        return f"/v1/tasks/{self.task_id}"

    @property
    def done(self) -> bool:
        """Return True once the task is completed or failed."""
        return self.status in TERMINAL_TASK_STATUSES


@dataclass
class StoredFile:
    """A generated image served under ``/files/<file_id>.png``."""

    file_id: str
    rgb: tuple[int, int, int]
    expired: bool = False


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


# --------------------------------------------------------------------------- helpers


class RequestRejectedError(Exception):
    """A request that the contract rejects; carries the error the emulator answers."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        type_: str = "invalid_request_error",
        code: str | None = None,
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.type = type_
        self.code = code
        self.status = status

    def body(self) -> dict[str, Any]:
        """Return the JSON error body for this rejection."""
        return error_body(self.message, self.type, code=self.code, param=self.param)


def error_body(
    message: str, type_: str, *, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """Build a contract error body (``ApiError``, plus ``validation_errors`` with a param)."""
    error: dict[str, Any] = {"message": message, "type": type_}
    if code is not None:
        error["code"] = code
    if param is not None:
        error["param"] = param
    body: dict[str, Any] = {"error": error}
    if param is not None:
        body["validation_errors"] = [{"field": param, "message": message}]
    return body


def _default_fault_body(status: int) -> dict[str, Any]:
    type_, message = _FAULT_DEFAULTS.get(
        status,
        ("server_error", "An internal error occurred")
        if status >= 500
        else ("invalid_request_error", f"HTTP {status}"),
    )
    return error_body(message, type_)


def gpt_image_size_error(size: str) -> str | None:
    """Return why ``size`` breaks the gpt-image-2 size contract, or None when it is valid."""
    if size == "auto":
        return None
    match = _SIZE_RE.match(size)
    if match is None:
        return "size must be 'auto' or WIDTHxHEIGHT"
    width, height = int(match.group(1)), int(match.group(2))
    if width <= 0 or height <= 0:
        return "width and height must be positive"
    if width % GPT_IMAGE_SIZE_STEP or height % GPT_IMAGE_SIZE_STEP:
        return f"width and height must both be multiples of {GPT_IMAGE_SIZE_STEP}"
    long_edge, short_edge = max(width, height), min(width, height)
    if long_edge > GPT_IMAGE_MAX_EDGE:
        return f"the longest edge must be at most {GPT_IMAGE_MAX_EDGE}px"
    if long_edge > GPT_IMAGE_MAX_RATIO * short_edge:
        return f"long edge / short edge must be at most {GPT_IMAGE_MAX_RATIO}:1"
    pixels = width * height
    if not GPT_IMAGE_MIN_PIXELS <= pixels <= GPT_IMAGE_MAX_PIXELS:
        return (
            f"total pixels must be between {GPT_IMAGE_MIN_PIXELS:,} and "
            f"{GPT_IMAGE_MAX_PIXELS:,} (got {pixels:,})"
        )
    return None


def _reject(param: str, detail: str) -> RequestRejectedError:
    return RequestRejectedError(f"{param}: {detail}", param=param)


def _check_int(body: Mapping[str, Any], key: str, low: int, high: int) -> None:
    if key not in body:
        return
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise _reject(key, "Expected integer")
    if not low <= value <= high:
        raise _reject(key, f"Number must be between {low} and {high}")


def _check_enum(body: Mapping[str, Any], key: str, allowed: Collection[str]) -> None:
    if key in body and body[key] not in allowed:
        raise _reject(key, f"Expected one of {', '.join(allowed)}")


def validate_generation_request(body: Any, models: Collection[str]) -> None:
    """Raise :class:`RequestRejectedError` when ``body`` breaks the create contract.

    The content policy is not checked here (it depends on the emulator's word list).
    """
    if not isinstance(body, Mapping):
        raise RequestRejectedError("Request body must be a JSON object")
    model = body.get("model")
    if model is None or model == "":
        raise _reject("model", "Model is required")
    if not isinstance(model, str):
        raise _reject("model", "Expected string")
    prompt = body.get("prompt")
    if prompt is None:
        raise _reject("prompt", "Prompt is required")
    if not isinstance(prompt, str):
        raise _reject("prompt", "Expected string")
    if not prompt.strip():
        raise _reject("prompt", "Prompt must not be empty")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise _reject("prompt", f"String must contain at most {MAX_PROMPT_CHARS} character(s)")
    if model not in models:
        raise RequestRejectedError(
            f"The model `{model}` does not exist or you do not have access to it.",
            param="model",
            type_="model_not_found",
        )
    is_gpt_image = model == GPT_IMAGE_MODEL
    is_dalle3 = model == DALLE3_MODEL

    _check_int(body, "n", MIN_N, MAX_N)
    if is_dalle3 and body.get("n", 1) != 1:
        raise _reject("n", "dall-e-3 supports only n=1")

    _check_enum(body, "quality", QUALITIES)
    if "quality" in body:
        if is_dalle3 and body["quality"] not in DALLE_QUALITIES:
            raise _reject("quality", f"dall-e-3 accepts {', '.join(DALLE_QUALITIES)}")
        if is_gpt_image and body["quality"] not in GPT_IMAGE_QUALITIES:
            raise _reject("quality", f"gpt-image-2 accepts {', '.join(GPT_IMAGE_QUALITIES)}")

    _check_enum(body, "style", STYLES)
    if "style" in body and not is_dalle3:
        raise _reject("style", "style is only supported by dall-e-3")

    _check_enum(body, "response_format", RESPONSE_FORMATS)

    if "async" in body:
        if not isinstance(body["async"], bool):
            raise _reject("async", "Expected boolean")
        if body["async"] and not (is_gpt_image or model.startswith("flux")):
            raise _reject("async", "async is only supported by gpt-image-2 and FLUX models")

    if "size" in body:
        size = body["size"]
        if not isinstance(size, str):
            raise _reject("size", "Expected string")
        if is_gpt_image and (reason := gpt_image_size_error(size)) is not None:
            raise _reject("size", f"invalid gpt-image-2 size {size!r}: {reason}")
        if is_dalle3 and size not in DALLE3_SIZES:
            raise _reject("size", f"dall-e-3 accepts {', '.join(DALLE3_SIZES)}")

    if "aspect_ratio" in body:
        ratio = body["aspect_ratio"]
        if is_gpt_image:
            raise _reject("aspect_ratio", "not supported for gpt-image-2; send size instead")
        if is_dalle3 or model in GEMINI_PROMPT_ONLY_MODELS:
            raise _reject("aspect_ratio", f"not supported for {model}")
        if not isinstance(ratio, str) or not _ASPECT_RE.match(ratio):
            raise _reject("aspect_ratio", "Expected a ratio such as 16:9")

    if "resolution" in body:
        if is_gpt_image:
            raise _reject("resolution", "not supported for gpt-image-2; send size instead")
        if model in GEMINI_FLASH_MODELS or model in GEMINI_PROMPT_ONLY_MODELS or is_dalle3:
            raise _reject("resolution", f"not supported for {model}")
        _check_enum(body, "resolution", RESOLUTIONS)

    for key, allowed in GPT_IMAGE_ENUMS.items():
        _check_enum(body, key, allowed)
    for key, (low, high) in GPT_IMAGE_INT_RANGES.items():
        _check_int(body, key, low, high)
    if "user" in body and not isinstance(body["user"], str):
        raise _reject("user", "Expected string")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def make_png(
    rgb: tuple[int, int, int], *, side: int = IMAGE_SIDE, size_bytes: int | None = None
) -> bytes:
    """Return a valid solid-colour RGB PNG, padded with a ``tEXt`` chunk to ``size_bytes``.

    Padding needs at least 20 spare bytes; a smaller target yields a slightly larger file.
    """
    row = b"\x00" + bytes(rgb) * side
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    png = (
        PNG_SIGNATURE + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(row * side))
    )
    end = _png_chunk(b"IEND", b"")
    if size_bytes is not None and size_bytes > len(png) + len(end):
        keyword = b"Comment\x00"
        spare = size_bytes - len(png) - len(end) - 12  # 12 = length + type + CRC
        png += _png_chunk(b"tEXt", keyword + b"." * max(0, spare - len(keyword)))
    return png + end


def _owner(model: str) -> str:
    if model.startswith(("gpt-", "dall-e")):
        return "openai"
    if model.startswith(("gemini", "nano-banana")):
        return "google"
    if model.startswith("flux"):
        return "black-forest-labs"
    if model.startswith("midjourney"):
        return "midjourney"
    return "lemondata"


def _model_item(model: str, rank: int, recommended_for: str | None) -> dict[str, Any]:
    token_billed = model == GPT_IMAGE_MODEL
    tokenlab: dict[str, Any] = {
        "aliases": [],
        "pricing": (
            {"input_per_million": 5.0, "image_output_per_million": 30.0}
            if token_billed
            else {"per_image": 0.04}
        ),
        "capabilities": ["image_generation"],
        "max_input_tokens": None,
        "max_output_tokens": None,
        "category": "image",
        "pricing_unit": "per_million_tokens" if token_billed else "per_image",
        "has_complex_pricing": token_billed,
        "lifecycle": {
            "stage": "preview" if "preview" in model else "active",
            "reason": None,
            "replacement_model": None,
            "released_at": None,
            "deprecated_at": None,
            "retired_at": None,
            "sunset_at": None,
            "latest": False,
            "latest_source": "none",
            "latest_window_days": None,
        },
        "commercial": {"user_charge_policy": "paid", "free_reason": None, "free_until": None},
        "badges": [],
    }
    if recommended_for is not None:
        tokenlab["agent_preferences"] = {recommended_for: {"recommended": True, "rank": rank}}
    return {
        "id": model,
        "object": "model",
        "created": MODEL_CREATED,
        "owned_by": _owner(model),
        "tokenlab": tokenlab,
    }


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
        body = fault.body if fault.body is not None else _default_fault_body(fault.status)
        return web.json_response(body, status=fault.status, headers=headers)

    # ----------------------------------------------------------------- handlers

    async def _handle_models(self, request: web.Request) -> web.StreamResponse:
        recommended_for = request.query.get("recommended_for")
        listed = self.models if recommended_for in (None, "image") else []
        data = [_model_item(m, rank, recommended_for) for rank, m in enumerate(listed, start=1)]
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
