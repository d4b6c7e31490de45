"""How tasks run: deadlines or polls, progress, and the URLs their answers carry."""

from __future__ import annotations

import colorsys
import itertools
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from tests.fakes.lemondata.contract import FILES_PREFIX
from tests.fakes.lemondata.records import EmulatedTask, Generation, InputImage, StoredFile


class TaskEngine:
    """The emulator's half that creates, advances and describes tasks (a mixin).

    It reads the emulator's state and knobs declared below.
    """

    tasks: dict[str, EmulatedTask]
    files: dict[str, StoredFile]
    clock: Callable[[], float]
    polls_to_complete: int
    hold_tasks: bool
    fail_task_models: dict[str, str | dict[str, Any]]
    task_status_override: str | None
    short_images: int
    report_progress: bool
    complete_after_seconds: float | None
    complete_after_seconds_by_model: dict[str, float]
    task_duration: Callable[[EmulatedTask], float | None] | None
    poll_url_override: str | None
    result_redirect_to: str | None
    _colours: itertools.count[int]
    _usage: Callable[[Generation, int], dict[str, Any] | None]  # Billing's
    _generation_by_ref: dict[str, Generation]
    _base_url: str | None
    _other_base_url: str | None

    @property
    def base_url(self) -> str:  # pragma: no cover - the emulator defines it
        raise NotImplementedError

    def redirect_url(self, to: str) -> str:  # pragma: no cover - the emulator defines it
        raise NotImplementedError

    def _new_task(
        self,
        model: str,
        n: int,
        prompt: str,
        *,
        requested_async: bool,
        operation: str = "text-to-image",
        inputs: Sequence[InputImage] = (),
        output_format: str = "png",
    ) -> EmulatedTask:
        task_id = f"ldtask_{secrets.token_hex(16)}"
        task = EmulatedTask(
            task_id,
            model,
            n,
            prompt,
            requested_async,
            operation=operation,
            inputs=list(inputs),
            started_at=self.clock(),
            output_format=output_format,
        )
        duration = self._duration(task)
        if duration is not None:
            task.complete_at = task.started_at + duration
        self.tasks[task_id] = task
        return task

    def _duration(self, task: EmulatedTask) -> float | None:
        """Seconds until ``task`` completes, or None to complete by polls."""
        if self.task_duration is not None and (seconds := self.task_duration(task)) is not None:
            return seconds
        if task.model in self.complete_after_seconds_by_model:
            return self.complete_after_seconds_by_model[task.model]
        return self.complete_after_seconds

    def _advance(self, task: EmulatedTask) -> None:
        if task.done:
            return
        now = self.clock()
        if task.complete_at is not None:
            due = now >= task.complete_at
        else:
            due = task.polls >= self.polls_to_complete
        if due and not self.hold_tasks:
            error = self.fail_task_models.get(task.model)
            if error is None:
                self._complete(task)
            else:
                self._fail(task, error)
            return
        task.status = "processing"
        if task.complete_at is not None:
            span = task.complete_at - task.started_at
            done = 100 * (now - task.started_at) / span if span > 0 else 100
        else:
            done = 100 * task.polls / max(self.polls_to_complete, 1)
        task.progress = max(task.progress, min(95, int(done)))
        task.updated = int(time.time())

    def _complete(self, task: EmulatedTask) -> None:
        task.status = "completed"
        task.progress = 100
        task.error = None
        task.updated = int(time.time())
        generation = self._generation_by_ref.get(task.task_id)
        count = max(0, task.n - self.short_images)
        task.file_ids = [self._new_file(generation, task.output_format) for _ in range(count)]
        task.usage = None if generation is None else self._usage(generation, count)

    def _fail(self, task: EmulatedTask, error: str | dict[str, Any]) -> None:
        task.status = "failed"
        task.error = error
        task.updated = int(time.time())

    def _task_body(self, task: EmulatedTask) -> dict[str, Any]:
        status = task.status
        data: list[dict[str, Any]] = []
        if task.done:
            data = [{"url": self._result_url(f)} for f in task.file_ids]
        elif self.task_status_override is not None:
            status = self.task_status_override
        elif status == "processing":
            data = [{"url": ""}]  # the contract quirk: a placeholder entry while running
        body: dict[str, Any] = {
            "id": task.task_id,
            "task_id": task.task_id,
            "poll_url": self._poll_url(task),
            "status": status,
            "model": task.model,
            "created": task.created,
            "updated": task.updated,
            "data": data,
        }
        if self.report_progress:
            body["progress"] = task.progress
        if task.status == "failed":
            body["error"] = task.error
        if task.status == "completed" and task.usage is not None:
            body["usage"] = task.usage
        return body

    def _placeholders(self, text: str, **values: str) -> str:
        values = {
            "base_url": self._base_url or "",
            "other_base_url": self._other_base_url or "",
            "port": (self._base_url or ":").rsplit(":", 1)[1],
            **values,
        }
        for key, value in values.items():
            text = text.replace("{" + key + "}", value)
        return text

    def _poll_url(self, task: EmulatedTask) -> str:
        if self.poll_url_override is None:
            return task.poll_url
        return self._placeholders(self.poll_url_override, task_id=task.task_id)

    def _result_url(self, file_id: str) -> str:
        url = self._file_url(file_id)
        if self.result_redirect_to is None:
            return url
        target = self._placeholders(self.result_redirect_to, file_url=url, file_id=file_id)
        return self.redirect_url(target)

    def _next_colour(self) -> tuple[int, int, int]:
        hue = (next(self._colours) * 0.618033988749895) % 1.0
        red, green, blue = colorsys.hsv_to_rgb(hue, 0.65, 0.95)
        return round(red * 255), round(green * 255), round(blue * 255)

    def _new_file(self, generation: Generation | None = None, output_format: str = "png") -> str:
        file_id = f"img_{secrets.token_hex(12)}"
        self.files[file_id] = StoredFile(file_id, self._next_colour(), output_format=output_format)
        if generation is not None:
            generation.file_ids.append(file_id)
            self._generation_by_ref[file_id] = generation
        return file_id

    def _file_url(self, file_id: str) -> str:
        return f"{self.base_url}{FILES_PREFIX}{self.files[file_id].name}"
