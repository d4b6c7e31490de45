"""Odd answers a robust client must survive, and task timing on an injected clock."""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any

import httpx
import pytest

from tests.fakes.lemondata import (
    GENERATIONS_PATH,
    NOT_AN_IMAGE,
    PNG_SIGNATURE,
    LemonDataEmulator,
    png_parts,
    sniff_image,
)
from tests.fakes.wire import FakeClock, poll
from tests.fakes.wire import generate as create

NO_TLS: dict[str, Any] = {"verify": False}
MIB = 1024 * 1024


# --------------------------------------------------------------------------- poll_url


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("http://[::1", "http://[::1"),
        ("https://other.example/v1/tasks/x", "https://other.example/v1/tasks/x"),
        ("/v1/tasks/{task_id}?x={", "/v1/tasks/{task_id}?x={"),  # braces are left alone
    ],
    ids=["malformed", "foreign-host", "stray-brace"],
)
async def test_poll_url_override_leaves_the_task_pollable(lemondata, api, override, expected):
    """The create and poll answers carry the odd poll_url; /v1/tasks/{id} still works."""
    lemondata.poll_url_override = override
    created = await create(api, **{"async": True})
    task_id = created["task_id"]
    assert created["poll_url"] == expected.replace("{task_id}", task_id)
    body = await poll(api, task_id)
    assert body["poll_url"] == created["poll_url"]
    assert (await poll(api, task_id))["status"] == "completed"


async def test_poll_url_with_upper_case_scheme_works(lemondata, api):
    """Placeholders fill in the port and task id; an upper-case scheme is still fetchable."""
    lemondata.poll_url_override = "HTTP://127.0.0.1:{port}/v1/tasks/{task_id}"
    created = await create(api, **{"async": True})
    port = lemondata.base_url.rsplit(":", 1)[1]
    assert created["poll_url"] == f"HTTP://127.0.0.1:{port}/v1/tasks/{created['task_id']}"
    response = await api.get(created["poll_url"])
    assert response.status_code == 200
    assert response.json()["task_id"] == created["task_id"]


async def test_foreign_origin_records_where_the_key_went(lemondata, api):
    """other_base_url is a second origin; its requests are told apart, with their keys."""
    lemondata.poll_url_override = "{other_base_url}/v1/tasks/{task_id}"
    created = await create(api, **{"async": True})
    assert created["poll_url"].startswith(lemondata.other_base_url)
    assert lemondata.other_base_url != lemondata.base_url
    async with httpx.AsyncClient(**NO_TLS) as careful:  # a client that withholds the key
        refused = await careful.get(created["poll_url"])
    assert refused.status_code == 401
    (foreign,) = lemondata.foreign_requests()
    assert (foreign.origin, foreign.authorization) == (lemondata.other_base_url, None)
    own = lemondata.requests[0]
    assert (own.origin, own.authorization) == (lemondata.base_url, f"Bearer {lemondata.api_key}")
    assert lemondata.tasks[created["task_id"]].polls == 0


# --------------------------------------------------------------------------- create answers


async def test_create_without_status_is_still_a_pending_task(lemondata, api):
    """create_without_status: the answer has task_id and poll_url but no status."""
    lemondata.create_without_status = True
    created = await create(api, **{"async": True})
    assert "status" not in created
    assert created["task_id"] in lemondata.tasks
    assert (await poll(api, created["task_id"]))["status"] == "processing"


@pytest.mark.parametrize(("short", "expected"), [(1, 2), (5, 0)])
async def test_short_images_on_inline_answers_and_tasks(lemondata, api, short, expected):
    """short_images: n=3 answers n - short_images images (never fewer than none)."""
    lemondata.short_images = short
    assert len((await create(api, n=3))["data"]) == expected
    assert len((await create(api, n=3, response_format="b64_json"))["data"]) == expected
    lemondata.polls_to_complete = 1
    task_id = (await create(api, n=3, **{"async": True}))["task_id"]
    body = await poll(api, task_id)
    assert (body["status"], len(body["data"])) == ("completed", expected)


async def test_b64_with_mime_line_breaks(lemondata, api):
    """b64_line_breaks: 76-character CRLF lines that a lenient decoder still reads."""
    lemondata.file_size_bytes = 2000
    lemondata.b64_line_breaks = True
    (item,) = (await create(api, response_format="b64_json"))["data"]
    text = item["b64_json"]
    lines = text.split("\r\n")
    assert len(lines) > 1
    assert all(len(line) == 76 for line in lines[:-1])
    assert 0 < len(lines[-1]) <= 76
    with pytest.raises(ValueError):
        base64.b64decode(text, validate=True)
    data = base64.b64decode(text)
    assert data.startswith(PNG_SIGNATURE)
    assert len(data) == 2000


# --------------------------------------------------------------------------- result URLs


async def test_result_urls_can_redirect(lemondata, api):
    """result_redirect_to wraps result URLs in /redirect; {file_url} is the real image."""
    lemondata.result_redirect_to = "{file_url}"
    url = (await create(api))["data"][0]["url"]
    assert url.startswith(f"{lemondata.base_url}/redirect?to=")
    hop = await api.get(url)
    assert hop.status_code == 302
    followed = await api.get(url, follow_redirects=True)
    assert followed.content.startswith(PNG_SIGNATURE)
    assert lemondata.generation(hop.headers["location"]).file_ids

    lemondata.result_redirect_to = "http://10.0.0.9/{file_id}.png"
    lemondata.polls_to_complete = 1
    task_id = (await create(api, **{"async": True}))["task_id"]
    task_url = (await poll(api, task_id))["data"][0]["url"]
    file_id = lemondata.tasks[task_id].file_ids[0]
    location = (await api.get(task_url)).headers["location"]
    assert location == f"http://10.0.0.9/{file_id}.png"


async def test_serve_non_image(lemondata, api):
    """serve_non_image: the CDN answers HTML labelled image/png."""
    url = (await create(api))["data"][0]["url"]
    lemondata.serve_non_image = True
    response = await api.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == NOT_AN_IMAGE
    assert sniff_image(response.content) is None


async def test_trickled_download_arrives_slowly_in_pieces(lemondata, api):
    """trickle_bytes_per_second: the whole image, in many chunks, no faster than the rate."""
    lemondata.file_size_bytes = 4000
    lemondata.trickle_bytes_per_second = 20_000  # 1,000-byte chunks every 50 ms
    url = (await create(api))["data"][0]["url"]
    started = time.monotonic()
    chunks = []
    async with api.stream("GET", url) as response:
        assert response.headers["content-length"] == "4000"
        async for chunk in response.aiter_raw():
            chunks.append(chunk)
    elapsed = time.monotonic() - started
    assert len(b"".join(chunks)) == 4000
    assert len(chunks) >= 3
    assert elapsed >= 0.15  # 4,000 bytes at 20,000 B/s cannot take less than 0.2 s


async def test_stop_ends_a_trickling_download():
    """Stopping the emulator does not wait for a slow download to finish."""
    emulator = LemonDataEmulator()
    await emulator.start()
    emulator.file_size_bytes = 100_000
    emulator.trickle_bytes_per_second = 1_000
    async with httpx.AsyncClient(
        base_url=emulator.base_url,
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        **NO_TLS,
    ) as client:
        url = (await create(client))["data"][0]["url"]
        async with client.stream("GET", url) as response:
            chunks = response.aiter_raw()
            received = len(await chunks.__anext__())  # the first chunk: the download is on
            await asyncio.wait_for(emulator.stop(), timeout=3)
            with pytest.raises(httpx.HTTPError):
                async for chunk in chunks:
                    received += len(chunk)
    assert received < 100_000


async def test_large_images_are_served_whole_and_cheaply(lemondata, api):
    """8 MiB+ images: exact size, valid PNG, one padding chunk shared by every image."""
    size = 8 * MIB + 3
    lemondata.file_size_bytes = size
    urls = [item["url"] for item in (await create(api, n=2))["data"]]
    contents = [(await api.get(url)).content for url in urls]
    assert [len(c) for c in contents] == [size, size]
    assert contents[0] != contents[1]
    assert all(c.startswith(PNG_SIGNATURE) and c.endswith(b"IEND\xaeB`\x82") for c in contents)
    assert png_parts((1, 2, 3), size_bytes=size)[1] is png_parts((4, 5, 6), size_bytes=size)[1]


# --------------------------------------------------------------------------- keys


async def test_refuse_key_answers_401_everywhere_but_the_cdn(lemondata, api):
    """refuse_key: the right key is refused on every /v1 route; images still download."""
    url = (await create(api))["data"][0]["url"]
    lemondata.refuse_key = True
    for method, path in [("GET", "/v1/models"), ("POST", GENERATIONS_PATH), ("GET", "/v1/files/x")]:
        response = await api.request(method, path, json={"model": "gpt-image-2", "prompt": "a"})
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "invalid_api_key"
    assert (await api.get(url)).status_code == 200


# --------------------------------------------------------------------------- progress and timing


async def test_report_progress_grows_with_polls(lemondata, api):
    """report_progress: a real progress value that grows with every poll, then 100."""
    lemondata.report_progress = True
    lemondata.polls_to_complete = 4
    task_id = (await create(api, **{"async": True}))["task_id"]
    bodies = [await poll(api, task_id) for _ in range(4)]
    assert [b["progress"] for b in bodies] == [25, 50, 75, 100]
    assert [b["status"] for b in bodies] == ["processing"] * 3 + ["completed"]


async def test_complete_after_seconds_uses_the_injected_clock(lemondata, api):
    """A timed task completes at its deadline whatever the number of polls."""
    clock = FakeClock(500.0)
    lemondata.clock = clock
    lemondata.complete_after_seconds = 10.0
    lemondata.report_progress = True
    task_id = (await create(api, **{"async": True}))["task_id"]
    assert lemondata.tasks[task_id].complete_at == 510.0
    for _ in range(5):
        assert (await poll(api, task_id))["status"] == "processing"
    clock.now = 505.0
    assert (await poll(api, task_id))["progress"] == 50
    clock.now = 509.999
    assert (await poll(api, task_id))["status"] == "processing"
    clock.now = 510.0
    body = await poll(api, task_id)
    assert (body["status"], body["progress"], len(body["data"])) == ("completed", 100, 1)


async def test_task_durations_per_model_and_per_create(lemondata, api):
    """task_duration (per create) wins over the per-model table; others complete by polls."""
    clock = FakeClock(500.0)
    lemondata.clock = clock
    lemondata.polls_to_complete = 1
    lemondata.complete_after_seconds_by_model["flux-pro"] = 30.0
    lemondata.task_duration = lambda task: 2.0 if "quick" in task.prompt else None
    flux = (await create(api, model="flux-pro", **{"async": True}))["task_id"]
    quick = (await create(api, model="flux-pro", prompt="a quick lemon", **{"async": True}))[
        "task_id"
    ]
    polled = (await create(api, **{"async": True}))["task_id"]
    assert (await poll(api, polled))["status"] == "completed"
    clock.now += 2
    assert [(await poll(api, t))["status"] for t in (flux, quick)] == ["processing", "completed"]
    clock.now += 28
    assert (await poll(api, flux))["status"] == "completed"


async def test_hold_tasks_wins_over_deadlines(lemondata, api):
    """A held task stays running past its deadline until the test completes it."""
    clock = FakeClock(500.0)
    lemondata.clock = clock
    lemondata.complete_after_seconds = 1.0
    lemondata.hold_tasks = True
    task_id = (await create(api, **{"async": True}))["task_id"]
    clock.now += 100
    assert (await poll(api, task_id))["status"] == "processing"
    lemondata.complete_task(task_id)
    assert (await poll(api, task_id))["status"] == "completed"
