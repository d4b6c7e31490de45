"""What the emulator remembers: recorded requests, generations, tasks and stored files."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from tests.fakes.lemondata.contract import (
    EDITS_PATH,
    FILE_EXTENSIONS,
    FILES_PREFIX,
    GENERATIONS_PATH,
    TASK_PATH_PREFIXES,
    TERMINAL_TASK_STATUSES,
    UPLOADS_PATH,
    file_key,
)

_POST_KINDS = {GENERATIONS_PATH: "create", EDITS_PATH: "edit", UPLOADS_PATH: "upload"}


class UploadPart(NamedTuple):
    """One part of a ``multipart/form-data`` body; ``filename`` is None for a text field."""

    field: str
    filename: str | None
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the emulator received it (recorded before any fault or check).

    ``json`` is the decoded JSON body (None when absent or not JSON). A
    ``multipart/form-data`` body gives ``form`` (its text fields, first value of each)
    and ``files`` (its file parts as ``(field, filename, content_type, bytes)``, exactly
    the bytes that arrived); ``body`` is always the raw body.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any | None
    at: float
    body: bytes = b""
    form: dict[str, str] | None = None
    files: list[UploadPart] = field(default_factory=list)
    origin: str = ""

    @property
    def authorization(self) -> str | None:
        """Return the request's Authorization header (None when it had none)."""
        return next((v for k, v in self.headers.items() if k.lower() == "authorization"), None)


def request_kind(method: str, path: str) -> tuple[str, str | None] | None:
    """Classify a request for the observation helpers: (kind, task or file id) or None."""
    if method == "POST":
        kind = _POST_KINDS.get(path)
        return None if kind is None else (kind, None)
    if method != "GET":
        return None
    if path.startswith(TASK_PATH_PREFIXES) and path.count("/") == 3 and path not in _POST_KINDS:
        return "poll", path.rsplit("/", 1)[-1]
    if path.startswith(FILES_PREFIX):
        return "download", file_key(path.removeprefix(FILES_PREFIX))
    return None


class RequestIndex:
    """Recorded requests by kind and by task or file id: filters cost what they return."""

    def __init__(self) -> None:
        self._by_kind: defaultdict[str, list[RecordedRequest]] = defaultdict(list)
        self._by_key: defaultdict[tuple[str, str], list[RecordedRequest]] = defaultdict(list)

    def add(self, request: RecordedRequest) -> None:
        """Index one request (requests of no interesting kind are skipped)."""
        kind = request_kind(request.method, request.path)
        if kind is None:
            return
        self._by_kind[kind[0]].append(request)
        if kind[1] is not None:
            self._by_key[(kind[0], kind[1])].append(request)

    def of(self, kind: str, key: str | None = None) -> list[RecordedRequest]:
        """Return a copy of the requests of ``kind`` (and ``key``), in arrival order."""
        if key is None:
            return list(self._by_kind.get(kind, ()))
        return list(self._by_key.get((kind, key), ()))

    def clear(self) -> None:
        """Forget every request."""
        self._by_kind.clear()
        self._by_key.clear()


@dataclass(frozen=True)
class InputImage:
    """One input image a create or edit received, resolved to its bytes.

    ``role`` is ``image`` or ``mask``; ``source`` is ``upload`` (a multipart part),
    ``url`` (fetched, or decoded from a ``data:`` URL) or ``file_id`` (from
    ``POST /v1/files``); ``ref`` is the filename, URL or file id; ``param`` names the
    request field it came from (e.g. ``images[1].file_id``); ``content_type`` is sniffed.
    """

    role: str
    source: str
    ref: str
    param: str
    content_type: str
    data: bytes


@dataclass
class Generation:
    """One accepted create or edit, synchronous or a task, and what it received.

    ``params`` are the request's fields as the gateway forwards them upstream (no
    binary parts; ``input_fidelity`` removed for gpt-image-2); ``file_ids`` are the
    result images (filled when a task completes), made in :attr:`output_format`;
    ``usage`` is the ``usage`` its answer (or completed task) reported, None for none.
    """

    generation_id: str
    route: str
    model: str
    operation: str
    prompt: str
    n: int
    params: dict[str, Any]
    inputs: list[InputImage]
    task_id: str | None = None
    file_ids: list[str] = field(default_factory=list)
    usage: dict[str, Any] | None = None

    @property
    def output_format(self) -> str:
        """Return the format the result images are made in (``output_format``, else png)."""
        return str(self.params.get("output_format", "png"))

    @property
    def input_bytes(self) -> list[bytes]:
        """Return the bytes of every input image (not the mask), in request order."""
        return [i.data for i in self.inputs if i.role == "image"]

    @property
    def mask_bytes(self) -> bytes | None:
        """Return the mask's bytes, or None without a mask."""
        return next((i.data for i in self.inputs if i.role == "mask"), None)


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
    operation: str = "text-to-image"
    inputs: list[InputImage] = field(default_factory=list)
    started_at: float = 0.0  # on the emulator's clock
    complete_at: float | None = None  # None: completes by polls
    output_format: str = "png"  # what its images are made in
    usage: dict[str, Any] | None = None  # what its completed body reports (None: no usage)

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
    """A generated image served under ``/files/<file_id>.<png | jpg | webp>``.

    ``output_format`` (png, jpeg or webp) is the format it was made in.
    """

    file_id: str
    rgb: tuple[int, int, int]
    expired: bool = False
    output_format: str = "png"

    @property
    def name(self) -> str:
        """Return the file name in its URL: the id and the format's extension."""
        return f"{self.file_id}.{FILE_EXTENSIONS.get(self.output_format, 'png')}"


@dataclass
class UploadedFile:
    """A file uploaded with ``POST /v1/files``, usable as ``images[].file_id`` in edits."""

    file_id: str
    filename: str
    purpose: str
    model: str
    content_type: str
    data: bytes
    created_at: int = field(default_factory=lambda: int(time.time()))

    def file_object(self) -> dict[str, Any]:
        """Return the contract's ``FileObject`` for this file."""
        return {
            "id": self.file_id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
        }


@dataclass
class HostedImage:
    """Bytes a test put on the emulator (:meth:`LemonDataEmulator.host`), at ``/hosted/<id>``."""

    hosted_id: str
    data: bytes
    content_type: str
