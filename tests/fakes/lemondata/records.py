"""What the emulator remembers: recorded requests, tasks and stored images."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.lemondata.contract import TERMINAL_TASK_STATUSES

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
