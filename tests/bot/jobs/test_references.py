"""Reference images: a download that never ends is refused, not waited for."""

from __future__ import annotations

import asyncio

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
