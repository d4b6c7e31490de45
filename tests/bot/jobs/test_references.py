"""Reference images: what Discord declares is checked first; a request's images are read
at once under one time limit, one member's requests in turn; a download that never ends
is refused, not waited for."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import discord
import httpx
import pytest

from bot.errors import InvalidRequest
from bot.jobs import references
from bot.jobs.readings import Readings
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
    readings = Readings()
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


async def _never(url: str, max_bytes: int) -> Download:
    raise AssertionError("no download expected")


def test_a_remix_form_gives_its_images_back_once():
    """The images held for a Remix form are handed back at its submit, and only once."""
    held = references.References(_never, 1024)
    images = [Source("https://cdn.example/a.png", "a.png")]
    token = held.hold_remix(images, parent_id=7)
    pending = held.take_remix(token)
    assert (pending.images, pending.parent_id) == (images, 7)
    with pytest.raises(InvalidRequest, match="expired"):
        held.take_remix(token)


def test_old_remix_forms_are_forgotten(monkeypatch):
    """A form older than REMIX_TTL_SECONDS is dropped when the next one is opened."""
    held = references.References(_never, 1024)
    now = [1000.0]
    monkeypatch.setattr(references.time, "monotonic", lambda: now[0])
    old = held.hold_remix([], parent_id=None)
    now[0] += references.REMIX_TTL_SECONDS + 1
    held.hold_remix([], parent_id=None)
    with pytest.raises(InvalidRequest):
        held.take_remix(old)


def attachment(filename: str, content_type: str | None, size: int = 10) -> discord.Attachment:
    """An attachment as discord.py builds it from what Discord sends."""
    data = {"id": 1, "filename": filename, "size": size, "url": "u", "proxy_url": "p"}
    if content_type is not None:
        data["content_type"] = content_type
    return discord.Attachment(data=data, state=SimpleNamespace(http=None))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("filename", "content_type", "refused"),
    [
        ("notes.txt", "text/plain; charset=utf-8", "refusal.declared_not_an_image"),
        ("photo.png", "image/svg+xml", "refusal.declared_not_an_image"),
        ("notes.txt", None, "refusal.not_an_image"),
        ("photo", None, "refusal.not_an_image"),
        ("photo.png", "image/png", None),
        ("photo.JPG", "IMAGE/JPEG", None),
        ("photo.jpg", "image/jpg", None),
        ("photo.webp", None, None),  # no declared type: the name tells
        ("photo.txt", "image/gif", None),  # the declared type wins over the name
    ],
)
def test_what_discord_declares_is_checked_before_any_download(filename, content_type, refused):
    """A declared type other than PNG, JPEG, WebP or GIF (or, without one, the name) refuses."""
    item = attachment(filename, content_type)
    if refused is None:
        references.check_declared([item], 1024)
        return
    with pytest.raises(InvalidRequest) as caught:
        references.check_declared([item], 1024)
    assert caught.value.text.key == refused


def test_a_declared_size_over_the_cap_is_refused_before_any_download():
    """The size Discord declares is checked as well, after the type."""
    with pytest.raises(InvalidRequest) as caught:
        references.check_declared([attachment("a.png", "image/png", size=2048)], 1024)
    assert caught.value.text.key == "refusal.image_too_large"
