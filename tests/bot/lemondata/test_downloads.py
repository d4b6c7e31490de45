"""Downloads against a real image host on 127.0.0.1: bounded memory, bounded slots."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import socket
import tracemalloc
import zlib
from typing import Any

import httpx
import pytest

from bot.lemondata import GatewayError, LemonDataClient, MalformedResponseError, ServerError
from bot.lemondata.client import MAX_REFERENCE_DOWNLOADS
from tests.bot.lemondata.imagehost import ImageHost, Route
from tests.fakes.lemondata import PNG_SIGNATURE

MIB = 1024 * 1024
IMAGE = PNG_SIGNATURE + bytes(range(256)) * 40


@pytest.fixture
async def host():
    async with ImageHost() as served:
        yield served


@pytest.fixture
async def client(host):
    async with httpx.AsyncClient() as http:
        # The gateway on the host's own address: loopback images are fetched (local testing).
        yield LemonDataClient(http, base_url=host.base_url, api_key="sk-x")


async def test_a_gzip_bomb_is_stopped_at_the_cap_in_bounded_memory(host, client):
    """~100 KB of gzip that inflates to 100 MiB: stopped at the 1 MiB cap, memory stays near it."""
    bomb = gzip.compress(PNG_SIGNATURE + bytes(100 * MIB), compresslevel=9)
    assert len(bomb) < 200 * 1024
    host.routes["/bomb.png"] = Route(bomb, {"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        got = await client.download(host.url("/bomb.png"), max_bytes=MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert got.data is None  # over the cap: not kept (a result is linked, a reference refused)
    assert peak < 8 * MIB, f"peak {peak / MIB:.0f} MiB for a 1 MiB cap"
    assert host.seen[0].headers["accept-encoding"] == "identity"


async def test_an_error_page_that_is_a_gzip_bomb_is_read_only_in_part(host):
    """A 500 whose body inflates to 100 MiB: a few KiB are read for its message, no more."""
    bomb = gzip.compress(b'{"error": "down"}' + bytes(100 * MIB), compresslevel=9)
    host.routes["/a.png"] = Route(bomb, {"Content-Encoding": "gzip"}, status=500)
    async with httpx.AsyncClient() as http:
        client = LemonDataClient(http, base_url=host.base_url, api_key="sk-x", max_attempts=1)
        tracemalloc.start()
        try:
            with pytest.raises(ServerError):
                await client.download(host.url("/a.png"), max_bytes=MIB)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert peak < 8 * MIB, f"peak {peak / MIB:.0f} MiB"


@pytest.mark.parametrize(
    "encoding, encode",
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)),  # raw deflate
    ],
)
async def test_an_image_sent_compressed_anyway_is_inflated(host, client, encoding, encode):
    """A host that ignores identity still serves its image, inflated under the cap."""
    host.routes["/a.png"] = Route(encode(IMAGE), {"Content-Encoding": encoding})
    got = await client.download(host.url("/a.png"), max_bytes=MIB)
    assert (got.data, got.content_type) == (IMAGE, "image/png")


async def test_an_unknown_encoding_is_refused(host, client):
    """An encoding the bot cannot inflate under its cap is refused, not read."""
    host.routes["/a.png"] = Route(IMAGE, {"Content-Encoding": "br"})
    with pytest.raises(MalformedResponseError, match="unsupported encoding"):
        await client.download(host.url("/a.png"), max_bytes=MIB)


PUBLIC = "93.184.215.14"  # a global address, unreachable from the tests


class Rebinding:
    """A resolver for ``name``: a public address first, then 127.0.0.1 (DNS rebinding)."""

    def __init__(self, name: str, answers: list[str]) -> None:
        self.name, self.answers, self.asked = name, answers, 0

    async def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, bytes):  # anyio asks with the IDNA-encoded name
            host = host.decode("ascii")
        if host != self.name:
            raise socket.gaierror(socket.EAI_NONAME, "unknown name")
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer, int(port or 80)))]


class Internet(httpx.AsyncBaseTransport):
    """The real transport, except that a public address literal is unreachable."""

    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.sent: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        try:
            if not ipaddress.ip_address(request.url.host).is_loopback:
                raise httpx.ConnectError("unreachable", request=request)
        except ValueError:
            pass  # a name: connect by it (resolved again, by the transport)
        return await self.real.handle_async_request(request)

    async def aclose(self) -> None:
        await self.real.aclose()


async def test_a_rebinding_host_never_reaches_loopback(host, monkeypatch):
    """Checked at a public address, the host's second answer (127.0.0.1) is never used."""
    resolver = Rebinding("rebind.test", [PUBLIC, "127.0.0.1"])
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolver.getaddrinfo)
    host.routes["/a.png"] = Route(IMAGE)
    port = httpx.URL(host.base_url).port
    internet = Internet()
    async with httpx.AsyncClient(transport=internet) as http:
        client = LemonDataClient(http, base_url="https://gateway.test", api_key="sk-x")
        with pytest.raises(GatewayError):  # unreachable, then refused when asked again
            await client.download(f"http://rebind.test:{port}/a.png", max_bytes=MIB)
    assert host.seen == []  # the loopback server was never reached
    assert {str(r.url.host) for r in internet.sent} == {PUBLIC}
    assert {r.headers["host"] for r in internet.sent} == {f"rebind.test:{port}"}


async def test_the_checked_address_is_connected_to_with_the_host_name(host, monkeypatch):
    """The request goes to the address checked; the host still sees its own name."""
    resolver = Rebinding("images.test", ["127.0.0.1", PUBLIC])
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolver.getaddrinfo)
    host.routes["/a.png"] = Route(IMAGE)
    port = httpx.URL(host.base_url).port
    async with httpx.AsyncClient() as http:
        # The gateway on loopback: loopback images are allowed (local testing).
        client = LemonDataClient(http, base_url=host.base_url, api_key="sk-x")
        got = await client.download(f"http://images.test:{port}/a.png", max_bytes=MIB)
    assert got.data == IMAGE
    assert [seen.headers["host"] for seen in host.seen] == [f"images.test:{port}"]
    assert resolver.asked == 1  # resolved once, for the check


async def test_tls_keeps_the_host_name_for_sni_and_verification(monkeypatch):
    """An https download to a pinned address asks TLS for the host name (SNI, certificate)."""
    resolver = Rebinding("cdn.test", [PUBLIC])
    monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", resolver.getaddrinfo)
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=IMAGE)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        client = LemonDataClient(http, base_url="https://gateway.test", api_key="sk-x")
        await client.download("https://cdn.test/a.png", max_bytes=MIB)
    (request,) = seen
    assert (request.url.host, request.headers["host"]) == (PUBLIC, "cdn.test")
    assert request.extensions["sni_hostname"] == "cdn.test"


async def test_reference_downloads_never_hold_a_result_back(host, client):
    """Every reference slot held by a host that stalls, a result image still goes at once."""
    stall = asyncio.Event()
    for n in range(MAX_REFERENCE_DOWNLOADS):
        host.routes[f"/ref-{n}.png"] = Route(IMAGE, gate=stall)
    host.routes["/result.png"] = Route(IMAGE)
    references = [
        asyncio.create_task(
            client.download(host.url(f"/ref-{n}.png"), max_bytes=MIB, reference=True)
        )
        for n in range(MAX_REFERENCE_DOWNLOADS)
    ]
    await host.wait_for(lambda: host.held == MAX_REFERENCE_DOWNLOADS)
    result = asyncio.create_task(client.download(host.url("/result.png"), max_bytes=MIB))
    await host.wait_for(lambda: any(seen.path == "/result.png" for seen in host.seen))
    assert (await result).data == IMAGE
    assert not any(task.done() for task in references)  # still held, the result went by
    stall.set()
    assert all(got.data == IMAGE for got in await asyncio.gather(*references))
