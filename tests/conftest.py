"""Shared fixtures: a fresh SQLite file per test, the LemonData emulator, the API client."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import stamina

from bot.lemondata import LemonDataClient
from bot.store import Store
from tests.fakes.lemondata import DEFAULT_API_KEY, LemonDataEmulator


@pytest.fixture(autouse=True)
def _fast_retries():
    """Keep stamina's retry counts but skip its back-off waits in tests."""
    stamina.set_testing(True, attempts=4)
    yield
    stamina.set_testing(False)


@pytest.fixture
async def db(tmp_path) -> AsyncIterator[Store]:
    async with Store.open(tmp_path / "lemonbot.db") as database:
        yield database


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
