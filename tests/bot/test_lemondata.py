"""LemonDataClient against the emulator over real HTTP."""

from __future__ import annotations

import asyncio
import email.utils

import httpx
import pytest

from bot.lemondata import (
    AuthenticationError,
    BadRequestError,
    ContentPolicyError,
    InsufficientBalanceError,
    LemonDataClient,
    MalformedResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    decode_b64_image,
    parse_create,
    parse_task,
)
from bot.lemondata.client import _retry_create, _retry_read
from bot.lemondata.downloads import MAX_REDIRECTS
from bot.lemondata.errors import error_from_response, parse_retry_after
from bot.scheduler import parse_rate_headers
from tests.conftest import DEFAULT_API_KEY
from tests.fakes.lemondata import PNG_SIGNATURE

MIB = 1024 * 1024


async def test_list_models_ranked(api, lemondata):
    """The recommended list is parsed and ordered by the gateway's rank."""
    models = await api.list_image_models()
    assert [m.id for m in models] == lemondata.models
    assert models[0].rank == 1
    request = lemondata.requests[-1]
    assert request.query == {"recommended_for": "image"}
    assert request.headers["Authorization"] == "Bearer sk-test-emulator"


async def test_sync_create_and_download(api, lemondata):
    """A synchronous model answers inline; the image downloads without the API key."""
    result = await api.create_image(
        {"model": "gemini-2.5-flash-image", "prompt": "a cat", "n": 2, "user": "discord:1:2"}
    )
    assert result.task is None and len(result.images) == 2
    data = (await api.download(result.images[0].url, max_bytes=MIB)).data
    assert data.startswith(PNG_SIGNATURE)
    assert "Authorization" not in lemondata.downloads()[0].headers
    assert lemondata.creates()[0]["user"] == "discord:1:2"


async def test_async_task_lifecycle(api, lemondata):
    """An async create answers with a task that is polled to completion."""
    result = await api.create_image(
        {"model": "gpt-image-2", "prompt": "a cat", "size": "1024x1024", "async": True, "user": "u"}
    )
    assert result.task is not None and result.task.status == "pending"
    first = await api.get_task(result.task.task_id, result.task.poll_url)
    assert first.status == "processing" and not first.done
    assert first.images == ()  # the {"url": ""} placeholder is not an image
    second = await api.get_task(result.task.task_id, result.task.poll_url)
    assert second.done and second.status == "completed" and second.images[0].url


async def test_task_without_asking(api, lemondata):
    """A create that answers pending is a task even though async was not asked."""
    lemondata.force_task_models.add("gemini-2.5-flash-image")
    result = await api.create_image({"model": "gemini-2.5-flash-image", "prompt": "x", "user": "u"})
    assert result.task is not None and result.images == ()


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequestError),
        (401, AuthenticationError),
        (402, InsufficientBalanceError),
        (403, AuthenticationError),
        (404, NotFoundError),
    ],
)
async def test_client_errors_are_typed_and_not_retried(api, lemondata, status, kind):
    """4xx answers raise the matching error once, with status and code."""
    lemondata.fail_next(status, count=5)
    with pytest.raises(kind) as caught:
        await api.create_image({"model": "nano-banana", "prompt": "x", "user": "u"})
    assert caught.value.status == status
    assert len(lemondata.creates()) == 1


async def test_content_policy(api, lemondata):
    """A refused prompt raises ContentPolicyError."""
    with pytest.raises(ContentPolicyError) as caught:
        await api.create_image({"model": "nano-banana", "prompt": "forbidden cat", "user": "u"})
    assert caught.value.code == "content_policy_violation"


async def test_create_retries_429(api, lemondata):
    """A 429 never created anything, so the create is repeated."""
    lemondata.fail_next(429, count=2, retry_after=0.01)
    result = await api.create_image({"model": "nano-banana", "prompt": "x", "user": "u"})
    assert result.images
    assert len(lemondata.creates()) == 3


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_create_is_not_repeated_after_5xx(api, lemondata, status):
    """A 5xx may hide a made image: the create is not sent twice."""
    lemondata.fail_next(status, count=3)
    with pytest.raises(ServerError):
        await api.create_image({"model": "nano-banana", "prompt": "x", "user": "u"})
    assert len(lemondata.creates()) == 1


async def test_create_is_not_repeated_after_dropped_connection(api, lemondata):
    """A connection dropped after sending is ambiguous: no second create."""
    lemondata.drop_next_connection()
    with pytest.raises(TransportError) as caught:
        await api.create_image({"model": "nano-banana", "prompt": "x", "user": "u"})
    assert caught.value.sent is True
    assert len(lemondata.creates()) == 1


async def test_create_retried_when_connection_refused(http):
    """A refused connection provably sent nothing; it is retried, then reported."""
    client = LemonDataClient(http, base_url="http://127.0.0.1:9", api_key="sk-x")
    with pytest.raises(TransportError) as caught:
        await client.create_image({"model": "m", "prompt": "x"})
    assert caught.value.sent is False


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_reads_are_retried(api, lemondata, status):
    """Polls and model lists are retried on transient failures."""
    lemondata.fail_next(status, path_prefix="/v1/models", count=2, retry_after=0.01)
    models = await api.list_image_models()
    assert models
    assert sum(r.path == "/v1/models" for r in lemondata.requests) == 3


async def test_reads_give_up_after_attempts(api, lemondata):
    """A persistent 503 on a read raises after the bounded attempts."""
    lemondata.fail_next(503, path_prefix="/v1/models", count=10)
    with pytest.raises(ServerError):
        await api.list_image_models()
    assert sum(r.path == "/v1/models" for r in lemondata.requests) == 4


async def test_rate_limit_error_carries_retry_after(api, lemondata):
    """Exhausted 429s surface with the server's Retry-After."""
    lemondata.fail_next(429, path_prefix="/v1/models", count=10, retry_after=2)
    with pytest.raises(RateLimitError) as caught:
        await api.list_image_models()
    assert caught.value.retry_after == 2.0


async def test_malformed_body(api, lemondata):
    """A body that is not JSON is an error with a clear message, not a crash."""
    lemondata.fail_next(200, body="<html>oops</html>")
    with pytest.raises(MalformedResponseError, match="not JSON"):
        await api.create_image({"model": "nano-banana", "prompt": "x", "user": "u"})


async def test_expired_download(api, lemondata):
    """An expired image URL raises NotFoundError."""
    result = await api.create_image({"model": "nano-banana", "prompt": "x", "user": "u"})
    lemondata.expire_all_files()
    with pytest.raises(NotFoundError, match="expired"):
        await api.download(result.images[0].url, max_bytes=MIB)


async def test_failed_task_error_shapes(api, lemondata):
    """A task's error may be a string or an object."""
    lemondata.fail_task_models["gpt-image-2"] = "upstream exploded"
    lemondata.polls_to_complete = 1
    body = {"model": "gpt-image-2", "prompt": "x", "async": True, "user": "u"}
    task = (await api.create_image(body)).task
    status = await api.get_task(task.task_id, task.poll_url)
    assert status.status == "failed" and status.error_message == "upstream exploded"
    obj = parse_task({"id": "t", "status": "failed", "error": {"code": "c", "message": "m"}})
    assert (obj.error_code, obj.error_message) == ("c", "m")


@pytest.mark.parametrize("status", ["in_progress", "queued", "whatever"])
def test_unknown_statuses_count_as_running(status):
    """Unknown non-terminal statuses are not done."""
    assert not parse_task({"task_id": "t", "status": status}).done


async def test_key_never_in_errors(lemondata):
    """A rejected key does not appear in the raised error."""
    async with httpx.AsyncClient() as http:
        client = LemonDataClient(http, base_url=lemondata.base_url, api_key="sk-wrong-secret")
        with pytest.raises(AuthenticationError) as caught:
            await client.list_image_models()
    assert "sk-wrong-secret" not in repr(caught.value) + str(caught.value)


@pytest.mark.parametrize(
    ("error", "wait"),
    [
        (RateLimitError("slow", status=429, retry_after=2.0), 2.0),
        (RateLimitError("slow", status=429, retry_after=3600.0), 60.0),  # capped
        (RateLimitError("slow", status=429), True),
        (ServerError("down", status=503), False),  # a create is not repeated after a 5xx
        (TransportError("refused", sent=False), True),
        (TransportError("dropped", sent=True), False),
    ],
)
def test_create_retry_hook_honours_retry_after(error, wait):
    """The back-off hook waits at least Retry-After (capped) and refuses ambiguous creates."""
    assert _retry_create(error) == wait


def test_read_retry_hook():
    """Reads retry 5xx and transport failures, not client errors."""
    assert _retry_read(ServerError("down", status=502)) is True
    assert _retry_read(TransportError("dropped", sent=True)) is True
    assert _retry_read(BadRequestError("bad", status=400)) is False
    assert _retry_read(ValueError()) is False


async def test_redirect_loop_is_a_clear_error_not_a_crash():
    """Any httpx failure (here a redirect loop) becomes a GatewayError, and is final."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(302, headers={"Location": str(request.url)})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = LemonDataClient(http, base_url="http://gw.test", api_key="sk-x")
        with pytest.raises(MalformedResponseError, match="redirects too often"):
            await client.download("http://gw.test/a.png", max_bytes=MIB)
    assert calls == MAX_REDIRECTS + 1  # each hop checked, then given up, not retried


async def test_foreign_poll_url_is_not_followed_with_the_key():
    """An absolute poll_url on another host is ignored: the key stays on the gateway."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"task_id": "t1", "status": "processing"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = LemonDataClient(http, base_url="https://gw.test", api_key="sk-x")
        await client.get_task("t1", "https://evil.test/v1/tasks/t1")
        await client.get_task("t1", "https://gw.test/v1/tasks/t1?x=1")
    assert [r.url.host for r in seen] == ["gw.test", "gw.test"]
    assert seen[0].url.path == "/v1/tasks/t1"
    assert seen[1].url.query == b"x=1"


async def test_oversized_download_is_linked_not_refused():
    """A body over the cap stops streaming and comes back without bytes, fetched once."""
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        return httpx.Response(200, content=PNG_SIGNATURE + b"x" * 5000)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = LemonDataClient(http, base_url="http://gw.test", api_key="sk-x")
        got = await client.download("http://gw.test/big.png", max_bytes=1000)
    assert (got.data, got.content_type, calls) == (None, "image/png", 1)


def test_a_create_answer_with_a_task_id_and_no_status_is_a_pending_task():
    """{task_id} alone is a task still running, not a malformed answer."""
    task = parse_create({"task_id": "t9"}).task
    assert task is not None and task.status == "pending" and not task.done
    assert task.poll_url == "/v1/tasks/t9"


def test_base64_with_line_breaks_decodes():
    """MIME-style base64 (76-character lines) decodes to the same bytes."""
    import base64

    data = PNG_SIGNATURE + bytes(range(200))
    text = base64.encodebytes(data).decode()
    assert "\n" in text
    assert decode_b64_image(text) == data
    with pytest.raises(MalformedResponseError):
        decode_b64_image("not base64 at all!")


async def test_requests_beyond_the_in_flight_cap_wait_in_the_client(lemondata):
    """At most ``max_in_flight`` requests are open at once; the others wait, then go."""
    sent: list[str] = []

    async def count(request: httpx.Request) -> None:
        sent.append(request.url.path)

    async with httpx.AsyncClient(event_hooks={"request": [count]}) as http:
        capped = LemonDataClient(
            http, base_url=lemondata.base_url, api_key=DEFAULT_API_KEY, max_in_flight=2
        )
        lemondata.gate = asyncio.Event()  # inline creates wait for it
        body = {"model": "gemini-2.5-flash-image", "prompt": "a cat", "user": "u"}
        creates = [asyncio.create_task(capped.create_image(dict(body))) for _ in range(5)]
        await lemondata.wait_for(lambda: lemondata.gated == 2)
        assert len(sent) == 2  # the other three never reached the HTTP client
        lemondata.gate.set()
        results = await asyncio.gather(*creates)
    assert all(r.task is None and r.images for r in results)
    assert len(sent) == len(lemondata.creates()) == 5


async def test_downloads_do_not_wait_behind_creates_held_open(lemondata):
    """Every request slot taken by a create held open, a download still goes at once."""
    async with httpx.AsyncClient() as http:
        capped = LemonDataClient(
            http, base_url=lemondata.base_url, api_key=DEFAULT_API_KEY, max_in_flight=1
        )
        body = {"model": "gemini-2.5-flash-image", "prompt": "a cat", "user": "u"}
        url = (await capped.create_image(dict(body))).images[0].url
        assert url is not None
        lemondata.gate = asyncio.Event()
        held = asyncio.create_task(capped.create_image(dict(body)))
        await lemondata.wait_for(lambda: lemondata.gated == 1)
        got = await asyncio.wait_for(capped.download(url, max_bytes=10 * 1024 * 1024), 5)
        assert got.data is not None and not held.done()
        lemondata.gate.set()
        await held


@pytest.mark.parametrize("status", [429, 503])
def test_an_http_date_retry_after_in_a_gateway_error_is_honoured(status):
    """Retry-After as an HTTP date is read as the seconds until it, as the budget reads it."""
    now = 1_700_000_000.0
    headers = {"Retry-After": email.utils.formatdate(now + 20, usegmt=True)}
    error = error_from_response(httpx.Response(status, headers=headers), wall_now=now)
    assert error.retry_after == 20.0
    assert parse_rate_headers(headers, now).retry_after == 20.0  # one parser for both
    assert _retry_read(error) == 20.0  # the read waits that long before trying again
    assert _retry_create(error) == (20.0 if status == 429 else False)


def test_a_past_or_unreadable_retry_after_is_no_wait_or_none():
    """A date already past waits nothing; a value that is neither number nor date is ignored."""
    now = 1_700_000_000.0
    assert parse_retry_after(email.utils.formatdate(now - 5, usegmt=True), now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("7, 7", now) == 7.0
