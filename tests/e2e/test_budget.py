"""One request budget: under a tight gateway rate limit every job is delivered, with no 429."""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.harness import BotProcess, wait_for_outcome
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.lemondata import LemonDataEmulator

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


async def test_a_tight_rate_limit_delivers_every_job_without_a_429(
    fake: FakeDiscord, emulator: LemonDataEmulator, bot: BotProcess
) -> None:
    """6 requests per 2 s window for 5 concurrent task jobs: all delivered, none refused."""
    emulator.rate_limit = 6
    emulator.rate_window = 2.0
    emulator.reset_rate_limit()
    members = [fake.alice, fake.bob, *(fake.add_user(f"m{i}") for i in range(3))]
    interactions = [
        await fake.invoke("imagine", {"prompt": f"lemon {i}", "model": "gpt-image-2"}, user=m)
        for i, m in enumerate(members)
    ]
    edits = await bot.race(
        asyncio.gather(*(wait_for_outcome(fake, i, timeout=45) for i in interactions))
    )
    assert all(e.payload["embeds"][0]["title"] == "Here is your image" for e in edits)
    assert emulator.rate_limited_count == 0
    assert len(emulator.creates()) == 5
