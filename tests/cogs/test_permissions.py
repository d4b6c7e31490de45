"""Who may moderate, and who may press a result's buttons: the server's rules, not a channel's.

Through the real bot against the fake Discord, whose interactions carry the member's
permissions in that channel (its overwrites included) as Discord's do. Bob is given
Manage Messages in channel2 only, as a "join to create" voice channel would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.i18n import t
from bot.store import Job, JobFilter
from tests.botenv import BotEnv
from tests.fakes.fake_discord import MANAGE_MESSAGES, FakeDiscord, FakeInteraction, FakeUser

EPHEMERAL = 64
NOT_MODERATOR = t("refusal.not_moderator", "en")


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        # Before the bot connects: its GUILD_CREATE has the overwrite and the roles.
        server.set_overwrite(server.channel2_id, server.bob, allow=MANAGE_MESSAGES)
        server.helper_role_id = server.add_role("Helpers")
        server.managers_role_id = server.add_role("Managers", MANAGE_MESSAGES)
        yield server


@pytest.fixture
async def env(running_bot, database_url) -> AsyncIterator[BotEnv]:
    async with running_bot(database=database_url, max_running_jobs_per_guild=1) as bot_env:
        yield bot_env


def refresh_guild(env: BotEnv) -> None:
    """Hand the bot the guild again (roles changed), as the gateway's GUILD_UPDATE would."""
    env.bot._connection.parse_guild_create(env.fake.guild_payload())


async def private_text(env: BotEnv, interaction: FakeInteraction) -> str:
    """The bot's private answer to an interaction (a reply, or a follow-up after a defer)."""
    kind, data = await env.fake.wait_for_callback(interaction)
    if kind == 4:
        assert data.get("flags", 0) & EPHEMERAL, data
        return str(data["content"])
    (followup,) = await env.fake.wait_for_followups(interaction)
    assert followup["flags"] & EPHEMERAL, followup
    return str(followup["content"])


async def mod_answer(env: BotEnv, name: str, options: dict[str, Any], user: FakeUser, **kw):
    """Run an /imagemod command; return its (ephemeral) answer once it is final."""
    interaction = env.send(name, options, user=user, **kw)
    kind, data = await env.fake.wait_for_callback(interaction)
    if kind == 5:  # deferred: the answer is the edit or a follow-up
        await env.fake.wait_for(
            lambda: interaction.edits or interaction.followup_ids, what="the deferred answer"
        )
        data = interaction.followups[-1] if interaction.followup_ids else interaction.original
    assert data["flags"] & EPHEMERAL, data
    return data


async def finished_job(env: BotEnv, user: FakeUser, channel_id: int) -> FakeInteraction:
    """Run /imagine in ``channel_id`` to its delivered result."""
    interaction = env.send("imagine", {"prompt": "a lemon"}, user=user, channel_id=channel_id)
    await env.fake.wait_for_callback(interaction)
    await env.settled((await env.job_for(interaction)).id)
    return interaction


async def waiting_card(env: BotEnv, user: FakeUser, channel_id: int) -> FakeInteraction:
    """Fill the server's one running slot, then ask as ``user`` in ``channel_id``."""
    env.lemondata.hold_tasks = True
    env.send("imagine", {"prompt": "first", "model": "gpt-image-2"}, user=env.fake.alice)
    await env.lemondata.wait_for(lambda: len(env.lemondata.tasks) == 1)
    card = env.send(
        "imagine", {"prompt": "second", "model": "gpt-image-2"}, user=user, channel_id=channel_id
    )
    await env.fake.wait_for_callback(card)
    return card


# ---------------------------------------------------------------------- moderator rights


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("imagemod logs", {}),
        ("imagemod job", {"job_id": 1}),
        ("imagemod export", {}),
        ("imagemod delete", {"job_id": 1}),
        ("imagemod block", {"user": "alice"}),
        ("imagemod config", {"log_channel": "channel2"}),
        ("imagemod blocklist add", {"pattern": "lemon"}),
        ("imagemod quota user", {"user": "bob", "unlimited": True}),
    ],
)
async def test_manage_messages_in_one_channel_is_not_a_moderator(env, name, options):
    """Every /imagemod command is refused privately there, and changes nothing."""
    fake = env.fake
    values = {"alice": fake.alice, "bob": fake.bob, "channel2": fake.channel2_id}
    options = {k: values.get(v, v) if isinstance(v, str) else v for k, v in options.items()}
    message = await mod_answer(env, name, options, fake.bob, channel_id=fake.channel2_id)
    assert message["content"] == NOT_MODERATOR
    assert not message.get("embeds") and not message.get("attachments")
    guild = fake.guild_id
    assert await env.db.actions.latest(guild) == []
    assert await env.db.guilds.blocked_users(guild) == []
    assert await env.db.guilds.prompt_rules(guild) == []
    assert await env.db.guilds.quota_rules(guild) == []
    assert (await env.db.guilds.settings(guild)).log_channel_id is None


async def test_manage_messages_in_one_channel_cannot_delete_or_cancel_anothers_job(env):
    """Delete on a result and Cancel on a waiting card, in that channel: refused privately."""
    fake = env.fake
    result = await finished_job(env, fake.alice, fake.channel2_id)
    job = await env.job_for(result)
    delete = env.click(result, "Delete", fake.bob)
    assert "Only the member who asked" in await private_text(env, delete)
    assert (await env.db.jobs.get(job.id)).deleted_at is None
    assert not fake.requests_to("DELETE", r"^/channels/\d+/messages/\d+$")

    card = await waiting_card(env, fake.alice, fake.channel2_id)
    cancel = env.click(card, "Cancel", fake.bob)
    assert "Only the member who asked" in await private_text(env, cancel)
    assert (await env.job_for(card)).state == "queued"


async def test_a_server_wide_grant_or_the_moderator_role_makes_a_moderator(env):
    """The same member moderates once a role gives Manage Messages, or is the mod role."""
    fake = env.fake
    result = await finished_job(env, fake.alice, fake.channel2_id)
    fake.bob.roles.append(fake.managers_role_id)
    refresh_guild(env)
    blocked = await mod_answer(env, "imagemod block", {"user": fake.alice}, fake.bob)
    assert "can no longer generate images" in blocked["content"]
    await mod_answer(env, "imagemod unblock", {"user": fake.alice}, fake.bob)
    delete = env.click(result, "Delete", fake.bob)
    await env.fake.wait_for_edits(delete)
    assert (await env.job_for(result)).deleted_by == fake.bob.id

    helper = fake.add_user("helper", roles=[fake.helper_role_id])
    refresh_guild(env)
    refused = await mod_answer(env, "imagemod blocked", {}, helper)
    assert refused["content"] == NOT_MODERATOR
    await mod_answer(env, "imagemod config", {"moderator_role": fake.helper_role_id}, fake.owner)
    listed = await mod_answer(env, "imagemod blocked", {}, helper)
    assert listed["embeds"][0]["title"] == "Blocked members (0)"
    card = await waiting_card(env, fake.alice, fake.channel_id)
    cancel = env.click(card, "Cancel", helper)
    await fake.wait_for_callback(cancel)
    assert (await env.settled((await env.job_for(card)).id)).state == "cancelled"


# ---------------------------------------------------------------------- presses by DM


async def dm_result(env: BotEnv, user: FakeUser) -> dict[str, Any]:
    """A result delivered by DM: the token expired and the channel refuses the bot."""
    env.lemondata.hold_tasks = True
    interaction = await env.imagine(user=user, prompt="a city", model="gpt-image-2")
    job = await env.wait_for_job(
        (await env.job_for(interaction)).id, lambda j: j.task_id is not None
    )
    env.fake.expire_token(interaction)
    env.fake.forbid_channel(env.fake.channel_id)
    env.lemondata.complete_task(job.task_id)
    assert (await env.settled(job.id)).delivered_via == "dm"
    (dm,) = env.fake.dms(user)
    return dm


def pressed(env: BotEnv, message: dict[str, Any], label: str, user: FakeUser, **kw: Any):
    """Press a button on a message, with the payload's keywords (``locale``)."""
    payload = env.fake.component_payload(message, label=label, user=user, **kw)
    assert "guild_id" not in payload  # a press in the DM: no server, no roles
    env.bot._connection.parse_interaction_create(payload)
    return env.fake.get_interaction(int(payload["id"]))


async def all_jobs(env: BotEnv) -> list[Job]:
    return await env.db.jobs.search(JobFilter(), limit=100)


@pytest.mark.parametrize("label", ["Reroll", "Edit"])
async def test_a_press_by_dm_from_a_member_who_left_is_refused(env, label):
    """Reroll or Edit by DM after leaving the server: refused privately, in their language."""
    fake = env.fake
    dm = await dm_result(env, fake.bob)
    used = (await env.bot.quota.status(fake.guild_id, fake.bob.id)).used
    fake.remove_member(fake.bob)  # left, kicked or banned: Discord answers 10007
    press = pressed(env, dm, label, fake.bob, locale="zh-CN")
    assert await private_text(env, press) == t("refusal.not_a_member", "zh-CN")
    assert press.modal is None  # Edit: no form to fill in
    assert fake.requests_to("GET", rf"^/guilds/{fake.guild_id}/members/{fake.bob.id}$")
    assert len(await all_jobs(env)) == 1 and len(env.lemondata.creates()) == 1
    assert (await env.bot.quota.status(fake.guild_id, fake.bob.id)).used == used


async def test_an_edit_form_sent_after_leaving_is_refused(env):
    """The form opened while a member; submitted after leaving: refused, nothing made."""
    fake = env.fake
    dm = await dm_result(env, fake.bob)
    press = pressed(env, dm, "Edit", fake.bob)
    await fake.wait_for_callback(press)
    assert press.modal is not None
    fake.remove_member(fake.bob)
    form = fake.modal_submit_payload(press, {"prompt": "make it night"}, user=fake.bob)
    env.bot._connection.parse_interaction_create(form)
    submitted = fake.get_interaction(int(form["id"]))
    assert await private_text(env, submitted) == t("refusal.not_a_member", "en")
    assert len(await all_jobs(env)) == 1 and len(env.lemondata.creates()) == 1


async def test_a_press_by_dm_takes_the_members_roles_now(env):
    """Bob used his quota (2 units), then got a role with 10: his Reroll by DM is made."""
    fake = env.fake
    artists = fake.add_role("Artists")
    refresh_guild(env)
    await mod_answer(env, "imagemod quota role", {"role": artists, "limit": 10}, fake.owner)
    await mod_answer(env, "imagemod quota default", {"limit": 2}, fake.owner)
    dm = await dm_result(env, fake.bob)
    refused = pressed(env, dm, "Reroll", fake.bob)
    assert "You've used all 2 of your images" in await private_text(env, refused)

    (first,) = await all_jobs(env)
    fake.bob.roles.append(artists)  # the gateway would not tell this bot: it has no members
    env.lemondata.hold_tasks = False
    press = pressed(env, dm, "Reroll", fake.bob)
    kind, data = await fake.wait_for_callback(press)
    assert kind == 4 and not data.get("flags", 0) & EPHEMERAL, data  # the public card
    reroll = await env.settled((await env.job_for(press)).id)
    assert (reroll.kind, reroll.parent_id, reroll.state) == ("reroll", first.id, "succeeded")
    assert (await env.bot.quota.status(fake.guild_id, fake.bob.id, [artists])).used == 4


async def test_a_press_by_dm_is_refused_while_discord_cannot_say(env):
    """The member lookup fails (connection dropped): refused, asked to retry, nothing made."""
    fake = env.fake
    dm = await dm_result(env, fake.bob)
    for _ in range(2):  # aiohttp sends an idempotent request again once by itself
        fake.drop_next("GET", rf"^/guilds/{fake.guild_id}/members/{fake.bob.id}$")
    press = pressed(env, dm, "Reroll", fake.bob)
    assert await private_text(env, press) == t("refusal.membership_unknown", "en")
    assert len(await all_jobs(env)) == 1 and len(env.lemondata.creates()) == 1


async def test_a_blocked_member_is_told_at_an_edit_press_by_dm(env):
    """Blocked after the result: Edit by DM is refused at once, with no form to fill in."""
    fake = env.fake
    dm = await dm_result(env, fake.bob)
    await mod_answer(env, "imagemod block", {"user": fake.bob}, fake.owner)
    press = pressed(env, dm, "Edit", fake.bob)
    assert await private_text(env, press) == t("refusal.member_blocked", "en")
    assert press.modal is None
