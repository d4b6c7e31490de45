"""Reference images: read at once under one time limit, refused when they never end."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bot.errors import InvalidRequest
from bot.jobs import references
from bot.jobs.references import Source, Unreadable
from bot.lemondata import LemonDataClient
from bot.lemondata.downloads import Download
from tests.bot.lemondata.imagehost import ImageHost, Route
from tests.fakes.lemondata import PNG_SIGNATURE

IMAGE = PNG_SIGNATURE + bytes(range(64))


async def test_a_trickling_reference_is_given_up_after_its_time(monkeypatch):
    """A host that never finishes sending is refused privately within READ_SECONDS."""
    monkeypatch.setattr(references, "READ_SECONDS", 0.05)
    started = asyncio.Event()

    async def trickle(url: str, max_bytes: int) -> Download:
        started.set()
        await asyncio.Event().wait()  # never answers
        raise AssertionError("unreachable")

    with pytest.raises(Unreadable):
        await references.read(Source("https://slow.example/a.png", "a.png"), 0, 1024, trickle)
    assert started.is_set()


async def test_a_remix_reads_its_images_at_once_within_one_budget():
    """Three images on a host that answers only once all three are asked: read together."""
    all_asked = asyncio.Event()
    async with ImageHost() as host, httpx.AsyncClient() as http:
        for n in range(3):
            host.routes[f"/{n}.png"] = Route(IMAGE, gate=all_asked)
        client = LemonDataClient(http, base_url=host.base_url, api_key="sk-x")

        async def fetch(url: str, max_bytes: int) -> Download:
            return await client.download(url, max_bytes=max_bytes, reference=True)

        sources = [Source(host.url(f"/{n}.png"), f"{n}.png") for n in range(3)]
        reading = asyncio.create_task(references.read_sources(sources, 1024 * 1024, fetch))
        await host.wait_for(lambda: host.held == 3)  # one at a time would never get here
        all_asked.set()
        inputs = await reading
    assert [(i.position, i.data) for i in inputs] == [(n, IMAGE) for n in range(3)]


async def test_one_refused_image_refuses_the_reading_and_stops_the_others():
    """The first refusal is the member's answer; the images still being read are dropped."""
    cancelled = asyncio.Event()

    async def fetch(url: str, max_bytes: int) -> Download:
        if url.endswith("bad.png"):
            return Download(b"not an image at all", "image/png")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise
        raise AssertionError("unreachable")

    sources = [
        Source("https://a.example/slow.png", "slow.png"),
        Source("https://a.example/bad.png", "bad.png"),
    ]
    with pytest.raises(InvalidRequest) as refused:
        await references.read_sources(sources, 1024, fetch)
    assert refused.value.text.key == "refusal.not_an_image"
    assert cancelled.is_set()


async def test_one_member_reads_one_request_at_a_time():
    """A member's second reading waits for the first, a third is refused; others go freely."""
    readings = references.Readings()
    entered, first_done, order = asyncio.Event(), asyncio.Event(), []

    async def first() -> None:
        async with readings.turn(1):
            order.append("first")
            entered.set()
            await first_done.wait()

    async def second() -> None:
        async with readings.turn(1):
            order.append("second")

    one = asyncio.create_task(first())
    await entered.wait()
    two = asyncio.create_task(second())
    await asyncio.sleep(0)  # it runs until it waits for the member's turn
    assert readings.pending(1) == 2 and order == ["first"]
    with pytest.raises(InvalidRequest) as refused:
        async with readings.turn(1):
            raise AssertionError("a third reading ran")
    assert refused.value.text.key == "refusal.references_busy"
    async with readings.turn(2):  # another member is not held back
        assert order == ["first"]
    first_done.set()
    await asyncio.gather(one, two)
    assert order == ["first", "second"]
    assert readings.pending(1) == 0
