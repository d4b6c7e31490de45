"""Reference images: what Discord declares is checked first; a download that never ends is
refused, not waited for."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import discord
import pytest

from bot.errors import InvalidRequest
from bot.jobs import references
from bot.jobs.references import Source, Unreadable
from bot.lemondata.downloads import Download


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
