"""Shared fixtures: a fresh database per test (SQLite, then PostgreSQL), the fake Discord,
the LemonData emulator, the API client, and the in-process bot (``running_bot``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
import stamina

from bot.background import Background
from bot.lemondata import LemonDataClient
from bot.store import Store
from tests.botenv import BotEnv, StartBot, start_bot
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.lemondata import DEFAULT_API_KEY, LemonDataEmulator

pytest_plugins = ["tests.postgres"]

# Every test of a fresh database runs once per engine.
ENGINES = ("sqlite", pytest.param("postgres", marks=pytest.mark.postgres))


@pytest.fixture(autouse=True)
def _fast_retries():
    """Keep stamina's retry counts but skip its back-off waits in tests."""
    stamina.set_testing(True, attempts=4)
    yield
    stamina.set_testing(False)


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """Where the test's own fresh database lives: a SQLite file or a PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return str(tmp_path / "lemonbot.db")


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Store]:
    async with Store.open(database_url) as database:
        yield database


@pytest.fixture
async def background() -> AsyncIterator[Background]:
    """The owner of background tasks, closed after the test (flushed writes land first)."""
    owner = Background()
    yield owner
    await owner.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    """The fake Discord (REST and gateway on 127.0.0.1), fresh for each test."""
    async with FakeDiscord() as server:
        yield server


@pytest.fixture
async def lemondata() -> AsyncIterator[LemonDataEmulator]:
    async with LemonDataEmulator() as emulator:
        yield emulator


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(verify=False) as client:
        yield client


@pytest.fixture
def api(lemondata: LemonDataEmulator, http: httpx.AsyncClient) -> LemonDataClient:
    return LemonDataClient(http, base_url=lemondata.base_url, api_key=DEFAULT_API_KEY)


@pytest.fixture
def running_bot(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeDiscord,
    lemondata: LemonDataEmulator,
) -> StartBot:
    """Start the real LemonBot against this test's fakes: ``async with running_bot() as env``.

    Keywords: ``database`` (a SQLite path or a PostgreSQL URL such as ``database_url``;
    by default a fresh SQLite file in ``tmp_path``) and any ``Settings`` field, e.g.
    ``running_bot(database=database_url, daily_image_quota=1)``. Entering it again starts
    a new bot on the same database and fakes, as a restart would.
    """

    def start(
        *, database: Path | str | None = None, **overrides: Any
    ) -> AbstractAsyncContextManager[BotEnv]:
        return start_bot(
            tmp_path, monkeypatch, fake=fake, lemondata=lemondata, database=database, **overrides
        )

    return start
