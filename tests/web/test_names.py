"""Member and server names on the dashboard: from the gateway's cache, else Discord, bounded."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import discord

from bot.web.names import LOOKUPS_PER_PAGE, Names
from tests.web.conftest import Dashboard


async def test_the_gallery_and_the_job_page_name_the_members(dashboard: Dashboard):
    fake = dashboard.fake
    fake.alice.global_name = "Alice <Lemon>"
    job = await dashboard.job(user=fake.alice, prompt="a lemon tree at dusk")
    client = await dashboard.client(fake.mod)
    gallery = (await client.get(f"/servers/{fake.guild_id}")).text
    assert "Alice &lt;Lemon&gt;" in gallery  # a name, escaped
    assert f"Member {fake.alice.id}" not in gallery
    # The name filters the gallery to the member's images.
    assert f'href="/servers/{fake.guild_id}?member={fake.alice.id}"' in gallery
    page = (await client.get(f"/jobs/{job.id}")).text
    assert "Alice &lt;Lemon&gt;" in page


class Client:
    """A discord.Client stand-in: no gateway cache; fetch_user answers from ``users``."""

    def __init__(self, users: dict[int, str]) -> None:
        self.users = users
        self.fetched: list[int] = []

    def get_guild(self, guild_id: int) -> None:
        return None

    def get_user(self, user_id: int) -> None:
        return None

    async def fetch_user(self, user_id: int) -> Any:
        self.fetched.append(user_id)
        if user_id not in self.users:
            raise discord.NotFound(SimpleNamespace(status=404, reason="Not Found"), "Unknown User")
        return SimpleNamespace(display_name=self.users[user_id])


async def test_names_discord_gave_are_remembered_and_a_page_asks_for_few():
    client = Client({1: "one", 2: "two"})
    names = Names(client)  # type: ignore[arg-type]
    assert await names.members(None, [1, 2, 3, 1]) == {1: "one", 2: "two"}
    assert sorted(client.fetched) == [1, 2, 3]  # each once, the unknown one too
    assert await names.members(None, [1, 2, 3]) == {1: "one", 2: "two"}
    assert len(client.fetched) == 3  # remembered, failures included
    many = list(range(100, 100 + 3 * LOOKUPS_PER_PAGE))
    await names.members(None, many)
    assert len(client.fetched) == 3 + LOOKUPS_PER_PAGE  # bounded per page
