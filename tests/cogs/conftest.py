"""The cogs' tests: the real LemonBot in this process, against the fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.botenv import BotEnv


@pytest.fixture
async def env(running_bot) -> AsyncIterator[BotEnv]:
    """A started bot on a fresh SQLite file (test_moderation overrides it per engine)."""
    async with running_bot() as bot_env:
        yield bot_env
