"""Where the client may send the key, and where it may fetch result images from."""

from __future__ import annotations

import httpx
import pytest

from bot.lemondata import LemonDataClient, MalformedResponseError, parse_task
from bot.lemondata.urls import AddressPolicy, UnsafeURLError, normalise_base_url, task_url
from tests.fakes.lemondata import PNG_SIGNATURE

BASE = "http://127.0.0.1:8080"


@pytest.mark.parametrize(
    ("poll_url", "expected"),
    [
        (None, f"{BASE}/v1/tasks/t%2F1"),
        ("/v1/tasks/t/1", f"{BASE}/v1/tasks/t/1"),
        ("http://[::1", f"{BASE}/v1/tasks/t%2F1"),  # malformed: the gateway's own route
        ("HTTP://127.0.0.1:8080/v1/tasks/x", f"{BASE}/v1/tasks/x"),  # same origin, any case
        ("http://127.0.0.1:8081/v1/tasks/x", f"{BASE}/v1/tasks/t%2F1"),  # another port
        ("https://127.0.0.1:8080/v1/tasks/x", f"{BASE}/v1/tasks/t%2F1"),  # another scheme
        ("https://evil.example/v1/tasks/x", f"{BASE}/v1/tasks/t%2F1"),  # another host
        ("//evil.example/v1/tasks/x", f"{BASE}/v1/tasks/t%2F1"),  # scheme-relative
        ("ftp://127.0.0.1:8080/x", f"{BASE}/v1/tasks/t%2F1"),
    ],
)
def test_task_url_stays_on_the_gateway(poll_url, expected):
    """A poll_url is followed only on the gateway's origin; anything else falls back."""
    assert task_url(BASE, "t/1", poll_url) == expected


def test_a_task_without_poll_url_is_polled_on_the_one_task_route():
    """A task the gateway gave no poll_url is polled where the fallback would poll it."""
    task = parse_task({"task_id": "t/1", "status": "queued"})
    assert task.poll_url == "/v1/tasks/t%2F1"
    assert task_url(BASE, "t/1", task.poll_url) == task_url(BASE, "t/1", None)


def test_base_url_is_normalised():
    """An upper-case scheme or host is the same origin as a lower-case one."""
    assert normalise_base_url("HTTP://API.Example.COM/") == "http://api.example.com"
    assert task_url("HTTPS://Gw.Test", "t", "https://gw.test:443/v1/tasks/t") == (
        "https://gw.test/v1/tasks/t"
    )
    with pytest.raises(UnsafeURLError):
        normalise_base_url("gw.test")


@pytest.mark.parametrize(
    ("base", "url", "allowed"),
    [
        ("https://93.184.216.34", "http://127.0.0.1:9/x.png", False),  # loopback from a public gw
        ("https://93.184.216.34", "http://10.1.2.3/x.png", False),  # private
        ("https://93.184.216.34", "http://169.254.169.254/latest", False),  # link-local
        ("https://93.184.216.34", "http://[::1]/x.png", False),
        ("https://93.184.216.34", "https://93.184.216.34/files/x.png", True),  # the gateway itself
        ("https://93.184.216.34", "https://8.8.8.8/x.png", True),  # public
        ("http://127.0.0.1:5000", "http://127.0.0.1:6000/x.png", True),  # local testing
        ("http://127.0.0.1:5000", "http://169.254.169.254/latest", False),  # still not metadata
        ("http://127.0.0.1:5000", "ftp://127.0.0.1/x.png", False),
        ("http://127.0.0.1:5000", "file:///etc/passwd", False),
    ],
)
async def test_address_policy(base, url, allowed):
    """Result images come from public addresses, or from the kinds the gateway itself has."""
    policy = AddressPolicy(base)
    if allowed:
        assert (await policy.check(url)).host
    else:
        with pytest.raises(UnsafeURLError):
            await policy.check(url)


async def test_a_redirect_to_a_private_address_is_refused():
    """Every redirect is checked again: a public link cannot bounce the bot inward."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://127.0.0.1:9/secret"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = LemonDataClient(http, base_url="https://93.184.216.34", api_key="sk-x")
        with pytest.raises(MalformedResponseError, match="loopback addresses are not fetched"):
            await client.download("https://93.184.216.34/files/a.png", max_bytes=1000)
    assert seen == ["https://93.184.216.34/files/a.png"]  # the inward hop was never made


async def test_a_body_that_is_not_an_image_is_refused():
    """The bytes must be an image, whatever the content type says."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=b"<html>login</html>", headers={"Content-Type": "image/png"}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = LemonDataClient(http, base_url="http://gw.test", api_key="sk-x")
        with pytest.raises(MalformedResponseError, match="did not serve an image"):
            await client.download("http://gw.test/a.png", max_bytes=1000)


async def test_the_key_is_never_sent_with_a_download():
    """Downloads carry no Authorization header, even from the gateway's own host."""
    headers: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers.get("authorization"))
        return httpx.Response(200, content=PNG_SIGNATURE + b"\0" * 20)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = LemonDataClient(http, base_url="http://gw.test", api_key="sk-x")
        got = await client.download("http://gw.test/a.png", max_bytes=1000)
    assert got.content_type == "image/png" and headers == [None]
