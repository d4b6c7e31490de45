"""Tests for the LemonData emulator, spoken to over real HTTP with httpx."""

from __future__ import annotations

import asyncio
import base64
import re
import struct
import zlib
from typing import Any

import httpx
import pytest

from tests.fakes.lemondata import (
    CONTENT_POLICY_MESSAGE,
    PNG_SIGNATURE,
    LemonDataEmulator,
    make_png,
)
from tests.fakes.lemondata.schemas import schema_errors
from tests.fakes.wire import poll

GEN = "/v1/images/generations"
# Plain HTTP to 127.0.0.1 only: skip loading the CA bundle (~70 ms per client).
NO_TLS: dict[str, Any] = {"verify": False}
TASK_ID_RE = re.compile(r"^ldtask_[0-9a-f]{32}$")


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """Split a PNG into (type, data) chunks, checking the signature and every CRC."""
    assert data[:8] == PNG_SIGNATURE
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    assert chunks[0][0] == b"IHDR"
    assert chunks[-1] == (b"IEND", b"")
    return chunks


async def create(api: httpx.AsyncClient, **body: Any) -> httpx.Response:
    payload = {"model": "gpt-image-2", "prompt": "a lemon on a table", **body}
    return await api.post(GEN, json=payload)


async def create_task(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await create(api, **{"async": True, **body})
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# --------------------------------------------------------------------------- auth


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer sk-wrong"}, {"Authorization": "sk-test-emulator"}],
    ids=["missing", "wrong-key", "no-scheme"],
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/models"),
        ("POST", GEN),
        ("POST", "/v1/images/edits"),
        ("POST", "/v1/files"),
        ("GET", "/v1/files/file-x"),
        ("GET", "/v1/tasks/ldtask_0"),
    ],
)
async def test_v1_routes_require_the_api_key(lemondata, headers, method, path):
    """Every /v1 route answers 401 invalid_api_key without the right bearer key."""
    async with httpx.AsyncClient(base_url=lemondata.base_url, headers=headers, **NO_TLS) as client:
        response = await client.request(method, path, json={"prompt": "x", "model": "dall-e-3"})
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": "Invalid API key provided", "type": "invalid_api_key"}
    }
    assert lemondata.tasks == {}


async def test_files_need_no_auth(lemondata, api):
    """The CDN stand-in serves images without the API key."""
    url = (await create(api)).json()["data"][0]["url"]
    async with httpx.AsyncClient(**NO_TLS) as anonymous:
        response = await anonymous.get(url)
    assert response.status_code == 200
    assert "authorization" not in lemondata.downloads()[0].headers


# --------------------------------------------------------------------------- validation

INVALID_CASES: list[tuple[str, dict[str, Any], str]] = [
    ("prompt-missing", {"prompt": None}, "prompt"),
    ("prompt-empty", {"prompt": ""}, "prompt"),
    ("prompt-blank", {"prompt": "   "}, "prompt"),
    ("prompt-not-string", {"prompt": 42}, "prompt"),
    ("prompt-4001", {"prompt": "a" * 4001}, "prompt"),
    ("model-missing", {"model": None}, "model"),
    ("model-not-string", {"model": 3}, "model"),
    ("n-zero", {"n": 0}, "n"),
    ("n-eleven", {"n": 11}, "n"),
    ("n-string", {"n": "2"}, "n"),
    ("n-float", {"n": 1.5}, "n"),
    ("n-bool", {"n": True}, "n"),
    ("quality-unknown", {"quality": "ultra"}, "quality"),
    ("quality-hd-gpt", {"quality": "hd"}, "quality"),
    ("quality-high-dalle", {"model": "dall-e-3", "quality": "high"}, "quality"),
    ("style-unknown", {"model": "dall-e-3", "style": "dramatic"}, "style"),
    ("style-not-dalle", {"style": "vivid"}, "style"),
    ("response-format", {"response_format": "png"}, "response_format"),
    ("gpt-edge-3856", {"size": "3856x2160"}, "size"),
    ("gpt-not-mult16", {"size": "1000x1000"}, "size"),
    ("gpt-width-not-mult16", {"size": "1032x1024"}, "size"),
    ("gpt-ratio-over-3", {"size": "3840x1264"}, "size"),
    ("gpt-too-few-pixels", {"size": "1008x640"}, "size"),
    ("gpt-too-many-pixels", {"size": "3840x2176"}, "size"),
    ("gpt-size-garbage", {"size": "big"}, "size"),
    ("gpt-size-not-string", {"size": 1024}, "size"),
    ("gpt-aspect-ratio", {"aspect_ratio": "16:9"}, "aspect_ratio"),
    ("gpt-resolution", {"resolution": "2k"}, "resolution"),
    ("gpt-background", {"background": "green"}, "background"),
    ("gpt-transparent", {"background": "transparent"}, "background"),
    ("gpt-compression", {"output_compression": 101}, "output_compression"),
    ("gpt-partial-images", {"partial_images": 4}, "partial_images"),
    ("flash-25-resolution", {"model": "gemini-2.5-flash-image", "resolution": "1k"}, "resolution"),
    (
        "flash-31-resolution",
        {"model": "gemini-3.1-flash-image-preview", "resolution": "2k"},
        "resolution",
    ),
    ("nano-banana-resolution", {"model": "nano-banana", "resolution": "4k"}, "resolution"),
    (
        "gemini2-aspect",
        {"model": "gemini-2.0-flash-preview-image-generation", "aspect_ratio": "1:1"},
        "aspect_ratio",
    ),
    (
        "pro-resolution-8k",
        {"model": "gemini-3-pro-image-preview", "resolution": "8k"},
        "resolution",
    ),
    ("pro-resolution-upper", {"model": "nano-banana-pro", "resolution": "2K"}, "resolution"),
    ("pro-aspect-garbage", {"model": "nano-banana-pro", "aspect_ratio": "wide"}, "aspect_ratio"),
    ("dalle-size", {"model": "dall-e-3", "size": "512x512"}, "size"),
    ("dalle-n-2", {"model": "dall-e-3", "n": 2}, "n"),
    ("async-dalle", {"model": "dall-e-3", "async": True}, "async"),
    ("async-gemini", {"model": "nano-banana-pro", "async": True}, "async"),
    ("async-not-bool", {"async": "yes"}, "async"),
]


@pytest.mark.parametrize(
    ("override", "param"),
    [(body, param) for _, body, param in INVALID_CASES],
    ids=[case_id for case_id, _, _ in INVALID_CASES],
)
async def test_invalid_requests_are_rejected_with_param(lemondata, api, override, param):
    """Each contract rule answers 400 invalid_request_error naming the parameter."""
    payload = {"model": "gpt-image-2", "prompt": "a lemon", **override}
    payload = {key: value for key, value in payload.items() if value is not None}
    response = await api.post(GEN, json=payload)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert error["message"].startswith(f"{param}: ")
    assert response.json()["validation_errors"][0]["field"] == param
    assert schema_errors("ValidationError", response.json()) == []
    assert lemondata.tasks == {}
    assert lemondata.files == {}


async def test_unknown_model_is_model_not_found(lemondata, api):
    """A model that is not listed answers 400 model_not_found on param model."""
    response = await create(api, model="dall-e-2")
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "model_not_found"
    assert response.json()["error"]["param"] == "model"


async def test_extra_flash_model_added_by_test_rejects_resolution(lemondata, api):
    """nano-banana-edit, when listed, follows the Flash rule too."""
    lemondata.models.append("nano-banana-edit")
    response = await create(api, model="nano-banana-edit", resolution="1k")
    assert response.json()["error"]["param"] == "resolution"
    ok = await create(api, model="nano-banana-edit", aspect_ratio="9:16")
    assert ok.status_code == 200


VALID_CASES: list[tuple[str, dict[str, Any]]] = [
    ("gpt-3840x2160", {"size": "3840x2160"}),
    ("gpt-2160x3840", {"size": "2160x3840"}),
    ("gpt-ratio-exactly-3", {"size": "1008x3024"}),
    ("gpt-ratio-exactly-3-wide", {"size": "3024x1008"}),
    ("gpt-min-pixels", {"size": "1024x640"}),
    ("gpt-auto", {"size": "auto", "quality": "high"}),
    ("gpt-extras", {"background": "opaque", "output_format": "webp", "moderation": "low"}),
    ("flux-transparent", {"model": "flux-pro", "background": "transparent"}),
    ("gpt-async", {"async": True, "n": 10}),
    ("prompt-4000", {"prompt": "a" * 4000}),
    ("dalle-wide", {"model": "dall-e-3", "size": "1792x1024", "quality": "hd", "style": "natural"}),
    ("dalle-tall", {"model": "dall-e-3", "size": "1024x1792"}),
    ("pro", {"model": "gemini-3-pro-image-preview", "aspect_ratio": "16:9", "resolution": "2k"}),
    ("nano-pro-4k", {"model": "nano-banana-pro", "resolution": "4k"}),
    ("flash-aspect", {"model": "gemini-2.5-flash-image", "aspect_ratio": "3:2"}),
    ("gemini2-prompt-only", {"model": "gemini-2.0-flash-preview-image-generation"}),
    ("flux-async", {"model": "flux-pro", "async": True}),
    ("midjourney", {"model": "midjourney", "user": "discord:42"}),
]


@pytest.mark.parametrize(
    "override", [body for _, body in VALID_CASES], ids=[case_id for case_id, _ in VALID_CASES]
)
async def test_valid_requests_are_accepted(api, override):
    """Requests inside the contract, including the size edges, are accepted."""
    response = await create(api, **override)
    assert response.status_code == 200, response.text


async def test_malformed_json_request_is_rejected(lemondata, api):
    """A body that is not JSON answers 400 and is recorded with json None."""
    response = await api.post(
        GEN, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"
    assert lemondata.creates() == [None]
    assert lemondata.requests[0].body == b"{not json"


@pytest.mark.parametrize("prompt", ["a forbidden castle", "FORBIDDEN", "ok then forbiddenness"])
async def test_content_policy_rejects_blocked_words(lemondata, api, prompt):
    """A prompt holding a blocked word answers content_policy_violation."""
    response = await create(api, prompt=prompt)
    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": CONTENT_POLICY_MESSAGE,
            "type": "invalid_request_error",
            "code": "content_policy_violation",
        }
    }


async def test_blocked_words_are_configurable(lemondata, api):
    """Tests can change the blocked word list."""
    lemondata.blocked_words = {"banana"}
    assert (await create(api, prompt="a forbidden lemon")).status_code == 200
    assert (await create(api, prompt="a Banana")).status_code == 400


# --------------------------------------------------------------------------- sync answers


async def test_sync_answer_serves_real_pngs(lemondata, api):
    """A synchronous create answers n URLs that serve distinct valid PNGs."""
    response = await create(api, n=2)
    body = response.json()
    assert set(body) == {"created", "data", "usage"}  # gpt-image-2 is billed by tokens
    assert isinstance(body["created"], int)
    urls = [item["url"] for item in body["data"]]
    assert len(urls) == 2
    assert all(url.startswith(f"{lemondata.base_url}/files/") for url in urls)
    assert all(set(item) == {"url"} for item in body["data"])  # no revised_prompt
    images = []
    for url in urls:
        image = await api.get(url)
        assert image.status_code == 200
        assert image.headers["content-type"] == "image/png"
        chunks = png_chunks(image.content)
        assert struct.unpack(">II", chunks[0][1][:8]) == (64, 64)
        images.append(image.content)
    assert images[0] != images[1]
    assert len(lemondata.downloads()) == 2
    assert lemondata.creates() == [{"model": "gpt-image-2", "prompt": "a lemon on a table", "n": 2}]


async def test_dalle3_answers_revised_prompt(api):
    """dall-e-3 items carry revised_prompt."""
    body = (await create(api, model="dall-e-3")).json()
    assert "a lemon on a table" in body["data"][0]["revised_prompt"]


async def test_b64_json_answer(lemondata, api):
    """response_format b64_json answers inline base64 PNGs instead of URLs."""
    body = (await create(api, response_format="b64_json", n=3)).json()
    assert len(body["data"]) == 3
    for item in body["data"]:
        assert set(item) == {"b64_json"}
        png_chunks(base64.b64decode(item["b64_json"]))
    assert lemondata.files == {}


async def test_gate_holds_a_synchronous_create_in_flight(lemondata, api):
    """With a gate, a synchronous create waits until the test opens it."""
    lemondata.gate = asyncio.Event()
    pending = asyncio.create_task(create(api))
    await lemondata.wait_for(lambda: lemondata.gated == 1)
    assert not pending.done()
    assert len(lemondata.creates()) == 1
    lemondata.gate.set()
    response = await pending
    assert response.status_code == 200
    assert lemondata.gated == 0


async def test_gate_does_not_hold_task_creates(lemondata, api):
    """Async creates answer with a task even while the gate is closed."""
    lemondata.gate = asyncio.Event()
    body = await create_task(api)
    assert body["status"] == "pending"


async def test_stop_releases_a_gated_create():
    """Stopping the emulator does not hang on a create waiting at the gate."""
    emulator = LemonDataEmulator()
    await emulator.start()
    emulator.gate = asyncio.Event()
    async with httpx.AsyncClient(
        base_url=emulator.base_url,
        headers={"Authorization": f"Bearer {emulator.api_key}"},
        **NO_TLS,
    ) as client:
        pending = asyncio.create_task(create(client))
        await emulator.wait_for(lambda: emulator.gated == 1)
        await asyncio.wait_for(emulator.stop(), timeout=3)
        response = await pending
    assert response.status_code == 503
    await emulator.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = emulator.base_url


# --------------------------------------------------------------------------- tasks


async def test_async_task_lifecycle(lemondata, api):
    """async: pending on create, processing with the empty-url quirk, then completed."""
    created = await create_task(api, n=2, response_format="b64_json")
    assert TASK_ID_RE.match(created["task_id"])
    task_id = created["task_id"]
    assert created == {
        "created": created["created"],
        "task_id": task_id,
        "id": task_id,
        "status": "pending",
        "poll_url": f"/v1/tasks/{task_id}",
        "data": [],
    }
    assert lemondata.tasks[task_id].status == "pending"

    first = await poll(api, created["poll_url"].rsplit("/", 1)[-1])
    assert first["status"] == "processing"
    assert first["data"] == [{"url": ""}]
    assert "progress" not in first  # only with report_progress: no real value to give
    for key in ("id", "task_id", "model", "created", "updated"):
        assert key in first
    assert first["model"] == "gpt-image-2"

    second = await poll(api, task_id)
    assert second["status"] == "completed"
    assert "progress" not in second
    urls = [item["url"] for item in second["data"]]
    assert len(urls) == 2  # URLs whatever response_format asked
    png_chunks((await api.get(urls[0])).content)

    again = (await api.get(f"/v1/images/{task_id}")).json()  # the compatibility alias
    assert again["status"] == "completed"
    assert [item["url"] for item in again["data"]] == urls
    task = lemondata.tasks[task_id]
    assert (task.status, task.model, task.n, task.polls) == ("completed", "gpt-image-2", 2, 3)
    assert len(lemondata.polls(task_id)) == 3
    assert lemondata.polls("ldtask_other") == []


async def test_polls_to_complete_is_configurable(lemondata, api):
    """polls_to_complete=1 completes on the first poll."""
    lemondata.polls_to_complete = 1
    task_id = (await create_task(api, model="flux-pro"))["task_id"]
    assert (await poll(api, task_id))["status"] == "completed"


async def test_forced_task_without_asking(lemondata, api):
    """A model in force_task_models answers with a task to a plain create."""
    lemondata.force_task_models.add("nano-banana-pro")
    body = (await create(api, model="nano-banana-pro", aspect_ratio="1:1")).json()
    assert body["status"] == "pending"
    assert body["data"] == []
    task = lemondata.tasks[body["task_id"]]
    assert task.requested_async is False
    await poll(api, task.task_id)
    assert len((await poll(api, task.task_id))["data"]) == 1


async def test_held_task_runs_until_completed_by_the_test(lemondata, api):
    """hold_tasks keeps tasks running until complete_task is called."""
    lemondata.hold_tasks = True
    lemondata.polls_to_complete = 1
    task_id = (await create_task(api))["task_id"]
    for _ in range(3):
        assert (await poll(api, task_id))["status"] == "processing"
    lemondata.complete_task(task_id)
    assert lemondata.tasks[task_id].done
    body = await poll(api, task_id)
    assert body["status"] == "completed"
    assert len(body["data"]) == 1


@pytest.mark.parametrize(
    "error", ["upstream exploded", {"code": "provider_error", "message": "it broke"}]
)
async def test_held_task_failed_by_the_test(lemondata, api, error):
    """fail_task ends a task failed with the given string or object error."""
    lemondata.hold_tasks = True
    task_id = (await create_task(api))["task_id"]
    assert (await poll(api, task_id))["status"] == "processing"
    lemondata.fail_task(task_id, error)
    body = await poll(api, task_id)
    assert body["status"] == "failed"
    assert body["error"] == error
    assert body["data"] == []


async def test_fail_task_models(lemondata, api):
    """Tasks of a model in fail_task_models fail on completion."""
    lemondata.fail_task_models["flux-pro"] = {"code": "nsfw", "message": "refused"}
    task_id = (await create_task(api, model="flux-pro"))["task_id"]
    assert (await poll(api, task_id))["status"] == "processing"
    body = await poll(api, task_id)
    assert body["status"] == "failed"
    assert body["error"] == {"code": "nsfw", "message": "refused"}


@pytest.mark.parametrize("status", ["in_progress", "queued"])
async def test_status_override_for_running_tasks(lemondata, api, status):
    """task_status_override makes running tasks answer an unknown non-terminal status."""
    lemondata.task_status_override = status
    task_id = (await create_task(api))["task_id"]
    assert (await poll(api, task_id))["status"] == status
    assert (await poll(api, task_id))["status"] == "completed"  # terminal states are real


async def test_unknown_task_is_404(api):
    """An unknown task id answers 404 async_task_not_found."""
    response = await api.get("/v1/tasks/ldtask_" + "0" * 32)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "async_task_not_found"


async def test_unknown_v1_route_answers_json_404(api):
    """Unrouted /v1 paths answer a JSON error body."""
    response = await api.get("/v1/nothing")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found_error"


# --------------------------------------------------------------------------- faults


async def test_429_with_retry_after_then_success(lemondata, api):
    """fail_next(429) answers once with Retry-After, then the create succeeds."""
    lemondata.fail_next(429, retry_after=2)
    first = await create(api)
    assert first.status_code == 429
    assert first.headers["Retry-After"] == "2"
    assert first.json()["error"]["type"] == "rate_limit_exceeded"
    second = await create(api)
    assert second.status_code == 200
    assert len(lemondata.creates()) == 2


async def test_fractional_retry_after(lemondata, api):
    """A fractional retry_after is sent as a decimal number of seconds."""
    lemondata.fail_next(429, retry_after=0.25)
    assert (await create(api)).headers["Retry-After"] == "0.25"


@pytest.mark.parametrize(
    ("status", "error_type"),
    [
        (400, "invalid_request_error"),
        (401, "invalid_api_key"),
        (402, "insufficient_balance"),
        (403, "unauthorized"),
        (500, "server_error"),
        (502, "upstream_error"),
        (503, "upstream_error"),
        (504, "upstream_error"),
    ],
)
async def test_fault_bodies_follow_the_contract(lemondata, api, status, error_type):
    """Injected faults carry the contract's error shape for their status."""
    lemondata.fail_next(status)
    response = await create(api)
    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type
    assert schema_errors("ApiError", response.json()) == []
    assert "retry-after" not in response.headers


def test_schema_errors_name_what_breaks_the_contract():
    """schema_errors reports a body the contract refuses, and nothing for one it takes."""
    good = {"error": {"message": "x", "type": "invalid_request_error", "param": "n"}}
    assert schema_errors("ApiError", good) == []
    bad = {"error": {"message": "x", "type": "no_such_type", "retryable": "yes"}}
    errors = schema_errors("ApiError", bad)
    assert len(errors) == 2
    assert any(e.startswith("error/type: ") for e in errors)
    with pytest.raises(KeyError):
        schema_errors("NoSuchSchema", good)


async def test_faults_match_path_prefix_count_and_order(lemondata, api):
    """Faults apply only under their prefix, count times, in the order queued."""
    lemondata.fail_next(503, path_prefix="/v1/tasks/", count=2)
    lemondata.fail_next(500, path_prefix="/v1/tasks/")
    task_id = (await create_task(api))["task_id"]
    statuses = [(await api.get(f"/v1/tasks/{task_id}")).status_code for _ in range(4)]
    assert statuses == [503, 503, 500, 200]
    assert len(lemondata.polls(task_id)) == 4
    assert lemondata.tasks[task_id].polls == 1


async def test_custom_json_fault_body(lemondata, api):
    """A dict body is sent as JSON verbatim."""
    lemondata.fail_next(402, body={"error": {"message": "broke", "type": "quota_exceeded"}})
    response = await create(api)
    assert response.json() == {"error": {"message": "broke", "type": "quota_exceeded"}}


@pytest.mark.parametrize("status", [200, 502])
async def test_malformed_answer(lemondata, api, status):
    """A str body is sent raw as text/html and is not JSON."""
    lemondata.fail_next(status, body="<html>oops")
    response = await create(api)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert response.text == "<html>oops"
    with pytest.raises(ValueError):
        response.json()


async def test_faults_come_before_auth(lemondata):
    """A queued fault answers even a request without the key (it is checked first)."""
    lemondata.fail_next(500, path_prefix="/v1/models")
    async with httpx.AsyncClient(base_url=lemondata.base_url, **NO_TLS) as client:
        assert (await client.get("/v1/models")).status_code == 500
        assert (await client.get("/v1/models")).status_code == 401


async def test_dropped_connection(lemondata, api):
    """drop_next_connection closes the connection without an answer."""
    lemondata.drop_next_connection()
    with pytest.raises(httpx.TransportError):
        await create(api)
    assert len(lemondata.creates()) == 1
    assert lemondata.files == {}
    assert (await create(api)).status_code == 200


async def test_clear_faults(lemondata, api):
    """clear_faults forgets queued faults."""
    lemondata.fail_next(500, count=5)
    lemondata.clear_faults()
    assert (await create(api)).status_code == 200


# --------------------------------------------------------------------------- files


async def test_expired_files_answer_404(lemondata, api):
    """expire_file and expire_all_files make image URLs answer 404."""
    urls = [item["url"] for item in (await create(api, n=3)).json()["data"]]
    lemondata.expire_file(urls[0])  # a full URL works as well as an id
    statuses = [(await api.get(url)).status_code for url in urls]
    assert statuses == [404, 200, 200]
    lemondata.expire_all_files()
    assert [(await api.get(url)).status_code for url in urls] == [404, 404, 404]
    assert (await api.get("/files/img_nope.png")).status_code == 404


async def test_file_size_padding_keeps_a_valid_png(lemondata, api):
    """file_size_bytes pads served PNGs to exactly that size with tEXt chunks."""
    lemondata.file_size_bytes = 3_000_000
    url = (await create(api)).json()["data"][0]["url"]
    content = (await api.get(url)).content
    assert len(content) == 3_000_000
    kinds = [kind for kind, _ in png_chunks(content)]
    assert kinds[:2] == [b"IHDR", b"IDAT"]
    assert kinds[-1] == b"IEND"
    assert set(kinds[2:-1]) == {b"tEXt"}


def test_make_png_without_padding_is_small_and_valid():
    """make_png alone gives a small valid image."""
    data = make_png((1, 2, 3))
    assert len(data) < 200
    assert [kind for kind, _ in png_chunks(data)] == [b"IHDR", b"IDAT", b"IEND"]


# --------------------------------------------------------------------------- records


async def test_recorded_requests(lemondata, api):
    """Requests are recorded with method, path, query, headers, JSON body and time."""
    await api.get("/v1/models", params={"recommended_for": "image"})
    await create(api, n=1)
    first, second = lemondata.requests
    assert (first.method, first.path, first.query, first.json) == (
        "GET",
        "/v1/models",
        {"recommended_for": "image"},
        None,
    )
    assert first.headers["Authorization"] == f"Bearer {lemondata.api_key}"
    assert second.json == {"model": "gpt-image-2", "prompt": "a lemon on a table", "n": 1}
    assert first.at <= second.at


async def test_wait_for_wakes_on_requests(lemondata, api):
    """wait_for returns once a request makes the predicate true."""
    waiter = asyncio.create_task(lemondata.wait_for(lambda: len(lemondata.creates()) == 1))
    await create(api)
    await asyncio.wait_for(waiter, timeout=2)


async def test_wait_for_wakes_on_state_changes(lemondata, api):
    """wait_for is woken by complete_task, not only by requests."""
    lemondata.hold_tasks = True
    task_id = (await create_task(api))["task_id"]
    waiter = asyncio.create_task(lemondata.wait_for(lambda: lemondata.tasks[task_id].done))
    assert (await poll(api, task_id))["status"] == "processing"  # the waiter is now blocked
    assert not waiter.done()
    lemondata.complete_task(task_id)
    await asyncio.wait_for(waiter, timeout=2)


async def test_wait_for_times_out_with_a_useful_message(lemondata, api):
    """wait_for raises TimeoutError naming what was seen."""
    await api.get("/v1/models")

    def never() -> bool:
        return False

    with pytest.raises(TimeoutError, match=r"never.*GET /v1/models"):
        await lemondata.wait_for(never, timeout=0.05)
