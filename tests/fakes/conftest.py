"""Fixtures of the fakes' own tests: a plain HTTP client of the LemonData emulator.

``lemondata`` (a fresh emulator) is tests/conftest.py's; a module that needs it set up
otherwise overrides it (test_lemondata_ratelimit.py: its clock and rate limit). ``api``
here is a bare ``httpx`` client with the emulator's key, not the bot's LemonDataClient
(tests/conftest.py's ``api``): these tests check the emulator's wire format itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.fakes.lemondata import LemonDataEmulator


@pytest.fixture
async def api(lemondata: LemonDataEmulator) -> AsyncIterator[httpx.AsyncClient]:
    # Plain HTTP to 127.0.0.1 only: skip loading the CA bundle (~70 ms per client).
    async with httpx.AsyncClient(
        base_url=lemondata.base_url,
        headers={"Authorization": f"Bearer {lemondata.api_key}"},
        timeout=5.0,
        verify=False,
    ) as client:
        yield client
