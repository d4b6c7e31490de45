"""The LemonData emulator's per-key rate limit, driven by an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fakes.lemondata import GENERATIONS_PATH, LemonDataEmulator, RateLimiter
from tests.fakes.wire import FakeClock

NO_TLS: dict[str, Any] = {"verify": False}
WALL = 1_700_000_000.25


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def lemondata(clock: FakeClock) -> AsyncIterator[LemonDataEmulator]:
    async with LemonDataEmulator() as emulator:
        emulator.clock = clock
        emulator.wall_clock = lambda: WALL
        emulator.rate_limit = 3
        yield emulator


def rate_headers(response: httpx.Response) -> tuple[str, str, str] | None:
    if "x-ratelimit-limit" not in response.headers:
        assert "x-ratelimit-remaining" not in response.headers
        assert "x-ratelimit-reset" not in response.headers
        return None
    return (
        response.headers["x-ratelimit-limit"],
        response.headers["x-ratelimit-remaining"],
        response.headers["x-ratelimit-reset"],
    )


async def test_budget_headers_then_429_until_the_window_resets(lemondata, api, clock):
    """Every answer says the budget; the request past it answers 429 until the reset."""
    reset = str(int(WALL + 60) + 1)  # a Unix time, rounded up
    answers = [await api.get("/v1/models") for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [rate_headers(r) for r in answers] == [
        ("3", "2", reset),
        ("3", "1", reset),
        ("3", "0", reset),
    ]

    clock.now += 20
    refused = await api.get("/v1/models")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "40"
    assert rate_headers(refused) == ("3", "0", str(int(WALL + 40) + 1))
    assert refused.json() == {
        "error": {
            "message": "Rate limit exceeded. Please slow down.",
            "type": "rate_limit_exceeded",
            "code": "rate_limit_exceeded",
            "retryable": True,
            "retry_after": 40,
        }
    }
    assert lemondata.rate_limited_count == 1

    clock.now += 40  # the window has ended
    again = await api.get("/v1/models")
    assert again.status_code == 200
    assert rate_headers(again) == ("3", "2", str(int(WALL + 60) + 1))
    assert lemondata.admitted_at() == [1000.0, 1000.0, 1000.0, 1060.0]
    assert [(e.at, e.admitted) for e in lemondata.rate_log] == [
        (1000.0, True),
        (1000.0, True),
        (1000.0, True),
        (1020.0, False),
        (1060.0, True),
    ]


async def test_every_v1_route_counts_and_carries_the_headers(lemondata, api):
    """Creates, rejected creates, polls and unknown /v1 routes all count and say so."""
    created = await api.post(GENERATIONS_PATH, json={"model": "dall-e-3", "prompt": "a lemon"})
    bad = await api.post(GENERATIONS_PATH, json={"model": "dall-e-3"})
    unknown = await api.get("/v1/tasks/ldtask_" + "0" * 32)
    assert [r.status_code for r in (created, bad, unknown)] == [200, 400, 404]
    assert [rate_headers(r)[1] for r in (created, bad, unknown)] == ["2", "1", "0"]
    assert (await api.get("/v1/nothing")).status_code == 429


async def test_cdn_is_not_limited_and_bad_keys_are_not_counted(lemondata, api):
    """Image downloads need no key and are not counted; nor are 401s."""
    lemondata.rate_limit = 1
    url = (await api.post(GENERATIONS_PATH, json={"model": "dall-e-3", "prompt": "a"})).json()[
        "data"
    ][0]["url"]
    async with httpx.AsyncClient(**NO_TLS) as anonymous:
        downloads = [await anonymous.get(url) for _ in range(3)]
        unauthorized = await anonymous.get(f"{lemondata.base_url}/v1/models")
    assert [d.status_code for d in downloads] == [200, 200, 200]
    assert all(rate_headers(d) is None for d in downloads)
    assert unauthorized.status_code == 401
    assert rate_headers(unauthorized) is None
    assert len(lemondata.rate_log) == 1
    assert lemondata.rate_limited_count == 0


async def test_send_rate_headers_off_keeps_retry_after(lemondata, api):
    """Without the headers the budget still holds, and 429s still carry Retry-After."""
    lemondata.send_rate_headers = False
    answers = [await api.get("/v1/models") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert all(rate_headers(r) is None for r in answers)
    assert answers[-1].headers["retry-after"] == "60"


async def test_no_limit_no_headers(lemondata, api):
    """rate_limit None (the default) admits everything and sends no budget headers."""
    lemondata.rate_limit = None
    answers = [await api.get("/v1/models") for _ in range(5)]
    assert all(r.status_code == 200 and rate_headers(r) is None for r in answers)
    assert lemondata.rate_log == []


async def test_fractional_window_and_reset(lemondata, api, clock):
    """A short window gives a fractional Retry-After; reset_rate_limit starts afresh."""
    lemondata.rate_limit, lemondata.rate_window = 1, 0.5
    assert (await api.get("/v1/models")).status_code == 200
    clock.now += 0.25
    refused = await api.get("/v1/models")
    assert refused.headers["retry-after"] == "0.25"
    assert refused.json()["error"]["retry_after"] == 0.25
    lemondata.reset_rate_limit()
    assert (await api.get("/v1/models")).status_code == 200


def test_limiter_windows_are_per_key():
    """Each key has its own window; refused requests do not use the budget."""
    limiter = RateLimiter()
    assert [limiter.check("a", 2, 10, 0).admitted for _ in range(3)] == [True, True, False]
    assert limiter.check("b", 2, 10, 1).remaining == 1
    decision = limiter.check("a", 2, 10, 9.9996)
    assert (decision.admitted, decision.retry_after) == (False, 0.001)
    assert limiter.check("a", 2, 10, 10).remaining == 1
