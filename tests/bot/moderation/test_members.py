"""Server-wide permissions as Discord computes a member's base ones, from a real Guild."""

from __future__ import annotations

from collections.abc import AsyncIterator

import discord
import pytest

from bot.moderation.members import server_permissions
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_discord.constants import ADMINISTRATOR


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.admin_role_id = server.add_role("Admins", ADMINISTRATOR)
        yield server


def guild_of(fake: FakeDiscord) -> discord.Guild:
    """The guild as discord.py holds it after GUILD_CREATE (roles, owner)."""
    client = discord.Client(intents=discord.Intents(guilds=True))
    client._connection.parse_guild_create(fake.guild_payload())
    guild = client.get_guild(fake.guild_id)
    assert guild is not None
    return guild


async def test_roles_give_the_server_wide_permissions(fake):
    """@everyone's and the member's roles; a role the guild doesn't know adds nothing."""
    guild = guild_of(fake)
    assert not server_permissions(guild, fake.alice.id, ()).manage_messages
    assert server_permissions(guild, fake.mod.id, (fake.mod_role_id,)).manage_messages
    assert not server_permissions(guild, fake.alice.id, (12345,)).manage_messages
    everyone = guild.default_role.permissions.value
    assert server_permissions(guild, fake.alice.id, ()).value == everyone


async def test_owner_and_administrator_have_everything(fake):
    """The owner has every permission without a role; Administrator implies all."""
    guild = guild_of(fake)
    assert server_permissions(guild, fake.owner.id, ()) == discord.Permissions.all()
    admin = server_permissions(guild, fake.alice.id, (fake.admin_role_id,))
    assert admin == discord.Permissions.all()


async def test_a_timed_out_member_keeps_only_viewing(fake):
    """Timed out, Manage Messages is gone (Discord's rule); the owner keeps everything."""
    guild = guild_of(fake)
    limited = server_permissions(guild, fake.mod.id, (fake.mod_role_id,), timed_out=True)
    assert not limited.manage_messages
    assert limited <= discord.Permissions(view_channel=True, read_message_history=True)
    owner = server_permissions(guild, fake.owner.id, (), timed_out=True)
    assert owner == discord.Permissions.all()
