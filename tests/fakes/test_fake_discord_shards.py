"""Sharded gateway connections: guilds and interactions go to their shard's connection."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.test_fake_discord_limits import call


class Shard:
    """A minimal gateway client: IDENTIFY with a shard, then read dispatches."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, fake: FakeDiscord, shard: list[int], token: str
    ) -> Shard:
        ws = await session.ws_connect(fake.gateway_url)
        hello = await ws.receive_json()
        assert hello["op"] == 10
        await ws.send_json(
            {"op": 2, "d": {"token": token, "intents": 1, "properties": {}, "shard": shard}}
        )
        return cls(ws)

    async def dispatch(self) -> tuple[str, dict[str, Any]]:
        message = await asyncio.wait_for(self.ws.receive(), 5)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        frame = json.loads(message.data)
        return frame["t"], frame["d"]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(shards=2) as server:
        yield server


async def test_each_shard_gets_its_guilds_and_interactions(fake: FakeDiscord) -> None:
    """GUILD_CREATE and INTERACTION_CREATE go to ``(guild_id >> 22) % shard_count``."""
    own_shard = fake.shard_of(fake.guild_id)
    other = fake.add_guild("Limes", guild_id=fake.guild_id_for_shard(1 - own_shard, 2))
    assert fake.shard_of(other) == 1 - own_shard
    fake.accept_token("second-token", "process-2")
    async with aiohttp.ClientSession() as session:
        status, gateway = await call(fake, "GET", "/gateway/bot")
        assert status == 200 and gateway["shards"] == 2
        shards = {
            0: await Shard.connect(session, fake, [0, 2], fake.bot_token),
            1: await Shard.connect(session, fake, [1, 2], "second-token"),
        }
        created: dict[int, list[str]] = {}
        for shard_id, shard in shards.items():
            event, ready = await shard.dispatch()
            assert event == "READY" and ready["shard"] == [shard_id, 2]
            created[shard_id] = [g["id"] for g in ready["guilds"]]
            for _ in ready["guilds"]:
                event, guild = await shard.dispatch()
                assert event == "GUILD_CREATE" and guild["id"] in created[shard_id]
        assert created[own_shard] == [str(fake.guild_id)]
        assert created[1 - own_shard] == [str(other.id)]
        await fake.wait_for(lambda: fake.identified_shards == [0, 1])
        assert [(s.shard, s.bot) for s in fake.shard_identifies] == [
            ((0, 2), "bot"),
            ((1, 2), "process-2"),
        ]

        in_other = fake.interaction_payload("hello", {"name": "x"}, channel_id=other.channel_ids[0])
        await fake.dispatch("INTERACTION_CREATE", in_other)
        assert (await shards[1 - own_shard].dispatch())[1]["id"] == in_other["id"]
        in_default = fake.interaction_payload("hello", {"name": "y"})
        await fake.dispatch("INTERACTION_CREATE", in_default)
        assert (await shards[own_shard].dispatch())[1]["id"] == in_default["id"]

        await fake.drop_gateway(shard_id=1)
        await fake.wait_for(lambda: fake.identified_shards == [0])
        for shard in shards.values():
            await shard.ws.close()


async def test_requests_record_which_token_sent_them(fake: FakeDiscord) -> None:
    """Requests carry the label of their token (which process synced the commands)."""
    fake.accept_token("second-token", "process-2")
    path = f"/applications/{fake.application_id}/commands"
    body = [{"name": "hello", "description": "Say hello", "type": 1}]
    async with (
        aiohttp.ClientSession() as session,
        session.put(
            fake.api_base + path, json=body, headers={"Authorization": "Bot second-token"}
        ) as response,
    ):
        assert response.status == 200
    [sync] = fake.requests_to("PUT", path)
    assert (sync.bot, sync.authorized) == ("process-2", True) and sync.peer
    status, _ = await call(fake, "GET", "/users/@me")
    assert status == 200 and fake.requests_to("GET", "^/users/@me$")[0].bot == "bot"


async def test_invalid_shard_is_refused(fake: FakeDiscord) -> None:
    """A shard id outside the count closes the connection with 4010, as Discord does."""
    async with aiohttp.ClientSession() as session:
        shard = await Shard.connect(session, fake, [2, 2], fake.bot_token)
        message = await asyncio.wait_for(shard.ws.receive(), 5)
        assert message.type is aiohttp.WSMsgType.CLOSE and message.data == 4010
    assert fake.identified_shards == []
