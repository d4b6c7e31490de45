"""Helpers of the emulator's own tests: a hand-moved clock and raw create / poll calls."""

from __future__ import annotations

from typing import Any

import httpx

from tests.fakes.lemondata import GENERATIONS_PATH


class FakeClock:
    """A clock the test moves by hand (the emulator's rate windows and task times read it)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def generate(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    """POST a generation (gpt-image-2 unless ``body`` says otherwise); its answer (a 200)."""
    payload = {"model": "gpt-image-2", "prompt": "a lemon", **body}
    response = await api.post(GENERATIONS_PATH, json=payload)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def poll(api: httpx.AsyncClient, task_id: str) -> dict[str, Any]:
    """GET a task; its body (asserting a 200)."""
    response = await api.get(f"/v1/tasks/{task_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body
