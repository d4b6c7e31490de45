"""Reference images: a download that never ends is refused, not waited for."""

from __future__ import annotations

import asyncio

import pytest

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
