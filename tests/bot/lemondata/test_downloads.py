"""Downloads against a real image host on 127.0.0.1: bounded memory, bounded slots."""

from __future__ import annotations

import gzip
import tracemalloc
import zlib

import httpx
import pytest

from bot.lemondata import LemonDataClient, MalformedResponseError
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
