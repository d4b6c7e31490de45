"""Channel permission overwrites and membership, as Discord computes and reports them."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord

from tests.fakes.fake_discord import MANAGE_MESSAGES, SEND_MESSAGES, FakeDiscord
from tests.fakes.fake_discord.constants import ADMINISTRATOR, ALL_PERMISSIONS, VIEW_CHANNEL
from tests.fakes.test_fake_discord import point_discord  # noqa: F401 (a fixture)
from tests.fakes.test_fake_discord_limits import call


def member_permissions(fake: FakeDiscord, user, channel_id: int) -> int:
    payload = fake.interaction_payload("hello", {"name": "x"}, user=user, channel_id=channel_id)
    assert payload["channel"]["permissions"] == payload["member"]["permissions"]
    return int(payload["member"]["permissions"])


async def test_a_members_overwrite_counts_in_that_channel_only(fake: FakeDiscord) -> None:
    """Manage Messages given to one member in one channel: theirs there, nowhere else."""
    fake.set_overwrite(fake.channel2_id, fake.bob, allow=MANAGE_MESSAGES)
    assert member_permissions(fake, fake.bob, fake.channel2_id) & MANAGE_MESSAGES
    assert not member_permissions(fake, fake.bob, fake.channel_id) & MANAGE_MESSAGES
    assert not member_permissions(fake, fake.alice, fake.channel2_id) & MANAGE_MESSAGES
    assert not fake.guild_permissions_of(fake.bob) & MANAGE_MESSAGES
    status, channel = await call(fake, "GET", f"/channels/{fake.channel2_id}")
    assert status == 200
    assert channel["permission_overwrites"] == [
        {"id": str(fake.bob.id), "type": 1, "allow": str(MANAGE_MESSAGES), "deny": "0"}
    ]
    fake.set_overwrite(fake.channel2_id, fake.bob)  # removed
    assert not member_permissions(fake, fake.bob, fake.channel2_id) & MANAGE_MESSAGES
    assert fake.channels[fake.channel2_id]["permission_overwrites"] == []


async def test_overwrites_apply_in_discords_order(fake: FakeDiscord) -> None:
    """@everyone's, then the roles' (an allow beats another role's deny), then the member's."""
    channel = fake.channel2_id
    fake.set_overwrite(channel, fake.everyone_role_id, deny=SEND_MESSAGES)
    assert not member_permissions(fake, fake.alice, channel) & SEND_MESSAGES
    assert member_permissions(fake, fake.alice, fake.channel_id) & SEND_MESSAGES

    fake.set_overwrite(channel, fake.mod_role_id, allow=SEND_MESSAGES)
    assert member_permissions(fake, fake.mod, channel) & SEND_MESSAGES
    fake.set_overwrite(channel, fake.mod, deny=SEND_MESSAGES | MANAGE_MESSAGES)
    assert not member_permissions(fake, fake.mod, channel) & (SEND_MESSAGES | MANAGE_MESSAGES)
    assert fake.guild_permissions_of(fake.mod) & MANAGE_MESSAGES  # still theirs server-wide

    fake.set_overwrite(channel, fake.everyone_role_id, deny=VIEW_CHANNEL)
    assert member_permissions(fake, fake.alice, channel) == 0  # a channel they cannot see


@pytest.mark.parametrize("who", ["owner", "administrator"])
async def test_owner_and_administrators_are_above_overwrites(fake: FakeDiscord, who) -> None:
    """Denies do not touch the owner nor a member with Administrator."""
    user = fake.owner
    if who == "administrator":
        role = fake.add_role("Admins", ADMINISTRATOR)
        user = fake.add_user("admin", roles=[role])
    fake.set_overwrite(fake.channel2_id, user, deny=VIEW_CHANNEL | SEND_MESSAGES)
    assert member_permissions(fake, user, fake.channel2_id) == ALL_PERMISSIONS


@pytest.mark.usefixtures("point_discord")
async def test_discord_py_reads_channel_and_server_permissions_apart(fake: FakeDiscord) -> None:
    """``interaction.permissions`` has the overwrite; ``guild_permissions`` has not."""
    fake.set_overwrite(fake.channel2_id, fake.bob, allow=MANAGE_MESSAGES)
    client = discord.Client(intents=discord.Intents(guilds=True))
    async with client:
        await client.login(fake.bot_token)
        client._connection.parse_guild_create(fake.guild_payload())
        guild = client.get_guild(fake.guild_id)
        assert guild is not None
        assert (
            guild.get_channel(fake.channel2_id)
            .overwrites_for(  # type: ignore[union-attr]
                discord.Object(fake.bob.id)
            )
            .manage_messages
        )
        interaction = fake.build_interaction(
            client, "hello", {"name": "x"}, user=fake.bob, channel_id=fake.channel2_id
        )
        assert interaction.permissions.manage_messages
        assert isinstance(interaction.user, discord.Member)
        assert not interaction.user.guild_permissions.manage_messages


async def test_a_member_who_left_is_unknown(fake: FakeDiscord) -> None:
    """After remove_member, GET member is 404 10007 and GUILD_CREATE no longer lists them."""
    path = f"/guilds/{fake.guild_id}/members/{fake.bob.id}"
    status, member = await call(fake, "GET", path)
    assert status == 200 and member["user"]["id"] == str(fake.bob.id)
    fake.remove_member(fake.bob)
    status, error = await call(fake, "GET", path)
    assert (status, error["code"]) == (404, 10007)
    listed = {m["user"]["id"] for m in fake.guild_payload()["members"]}
    assert str(fake.bob.id) not in listed and str(fake.alice.id) in listed
