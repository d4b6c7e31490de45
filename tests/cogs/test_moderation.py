"""/imagemod and server rules, through the real bot against the fake Discord and the emulator.

Each test asserts what the moderator or member sees (ephemeral replies, embeds, files,
audit posts), what was stored, and what reached the image API.
"""

from __future__ import annotations

import asyncio
import copy
import csv
import datetime as dt
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
import time_machine

from bot.i18n import t
from bot.moderation.export import CSV_COLUMNS
from bot.quota import api_user
from bot.store import JobDraft, JobFilter
from bot.ui.cards import jump_link
from tests.botenv import BotEnv
from tests.factories import insert_job
from tests.fakes.fake_discord import FakeDiscord, FakeInteraction, FakeUser, snowflake

EPHEMERAL = 64
MANAGE_MESSAGES = 1 << 13
NOW = 1_780_000_000.0
MODEL = "gemini-2.5-flash-image"
OTHER_MODEL = "gpt-image-2"
BLOCKED_PROMPT_TEXT = t("refusal.prompt_blocked", "en")


# ---------------------------------------------------------------------- fixtures


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        server.helper_role_id = add_role(server, "Helpers")
        server.artist_role_id = add_role(server, "Artists")
        server.helper = server.add_user("helper", roles=[server.helper_role_id])
        server.artist = server.add_user("artist", roles=[server.artist_role_id])
        yield server


@pytest.fixture
async def env(running_bot, database_url) -> AsyncIterator[BotEnv]:
    async with running_bot(database=database_url) as bot_env:
        await with_moderation(bot_env)
        yield bot_env


def add_role(fake: FakeDiscord, name: str) -> int:
    """Add a role without permissions to the fake guild; return its id."""
    role = copy.deepcopy(fake.roles[fake.everyone_role_id])
    role_id = snowflake()
    role.update(id=str(role_id), name=name, position=1, permissions="0")
    fake.roles[role_id] = role
    return role_id


async def with_moderation(env: BotEnv) -> None:
    """Load /imagemod if bot.client does not yet, and give the bot the guild's roles."""
    if "cogs.moderation" not in env.bot.extensions:
        await env.bot.load_extension("cogs.moderation")
        await env.bot.sync_commands()
    # The in-process bot has no gateway; feed the guild as GUILD_CREATE would (roles).
    env.bot._connection.parse_guild_create(env.fake.guild_payload())


async def answer(env: BotEnv, interaction: FakeInteraction) -> dict[str, Any]:
    """Return the message the bot finally answered with (after a defer, the edit)."""
    kind, _ = await env.fake.wait_for_callback(interaction)
    if kind == 5:
        await env.fake.wait_for(
            lambda: interaction.edits or interaction.followup_ids, what="deferred answer"
        )
        if interaction.followup_ids:
            return interaction.followups[-1]
    original = interaction.original
    assert original is not None
    return original


async def mod(
    env: BotEnv,
    name: str,
    options: dict[str, Any] | None = None,
    user: FakeUser | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """Run an /imagemod command (as the moderator by default) and return its ephemeral answer."""
    interaction = env.send(name, options or {}, user=user or env.fake.mod, **kw)
    message = await answer(env, interaction)
    assert message["flags"] & EPHEMERAL, message
    return message


def text_of(message: dict[str, Any]) -> str:
    """The message's content plus every embed's text."""
    parts = [message.get("content") or ""]
    for embed in message.get("embeds", []):
        parts.append(embed.get("title", ""))
        parts.append(embed.get("description", ""))
        parts.extend(f"{f['name']}: {f['value']}" for f in embed.get("fields", []))
    return "\n".join(parts)


def job_ids(message: dict[str, Any]) -> list[int]:
    """Job ids listed by a /imagemod logs page, in order."""
    return [int(e["title"].split()[1]) for e in message["embeds"]]


async def seed(
    env: BotEnv,
    user: FakeUser,
    *,
    created_at: float,
    model: str = MODEL,
    state: str = "succeeded",
    prompt: str = "a lemon",
    urls: tuple[str, ...] = (),
) -> int:
    """Store a finished job directly (never dispatched: it is terminal at once)."""
    guild_id = env.fake.guild_id
    draft = JobDraft(
        guild_id=guild_id,
        channel_id=env.fake.channel_id,
        user_id=user.id,
        api_user=api_user(guild_id, user.id),
        application_id=env.fake.application_id,
        interaction_id=None,
        interaction_token=None,
        token_expires_at=None,
        upload_limit=10_000_000,
        model=model,
        options={"prompt": prompt, "model": model, "ratio": "1:1", "count": 1},
        prompt=prompt,
        request={"model": model, "prompt": prompt},
        quota_units=1,
        quota_window="2026-01-01",
    )
    fields: dict[str, Any] = {"finished_at": created_at + 5}
    if state == "succeeded":
        fields["result_urls"] = list(urls)
    else:
        fields["error_code"] = "task_failed"
    async with env.db.transaction():
        job_id = (await insert_job(env.db, draft, now=created_at)).id
        await env.db.jobs.transition(job_id, ["queued"], state, now=created_at + 5, **fields)
        await env.db.quota.set_quota_state(
            job_id, "settled" if state == "succeeded" else "released"
        )
        await env.db.jobs.mark_delivered(
            job_id, via="none", channel_id=None, message_id=None, delivered=False
        )
    return job_id


async def imagine_done(env: BotEnv, user: FakeUser | None = None, **options: Any):
    """Run /imagine to the end; return the interaction and the settled job."""
    options.setdefault("prompt", "a lemon on a beach")
    interaction = await env.imagine(user=user or env.fake.alice, **options)
    job = await env.settled((await env.job_for(interaction)).id)
    return interaction, job


async def refused_imagine(env: BotEnv, user: FakeUser, prompt: str) -> str:
    """Run /imagine expecting an ephemeral refusal; return its text."""
    interaction = await env.imagine(user=user, prompt=prompt)
    kind, data = interaction.callbacks[0]
    assert kind == 4 and data["flags"] & EPHEMERAL, data
    return data["content"]


async def set_log_channel(env: BotEnv) -> None:
    await mod(env, "imagemod config", {"log_channel": env.fake.channel2_id})
    await env.fake.wait_for_message(env.fake.channel2_id)


def audit_posts(env: BotEnv) -> list[dict[str, Any]]:
    return [m["embeds"][0] for m in env.fake.channel_messages(env.fake.channel2_id)]


async def wait_for_audit(env: BotEnv, title: str, count: int = 1) -> list[dict[str, Any]]:
    def found() -> list[dict[str, Any]]:
        posts = [e for e in audit_posts(env) if e.get("title", "").startswith(title)]
        return posts if len(posts) >= count else []

    return await env.fake.wait_for(found, what=f"audit post {title!r}")


# ---------------------------------------------------------------------- permissions


async def test_group_registered_for_manage_messages(env):
    """/imagemod is synced guild-only with default_member_permissions = Manage Messages."""
    (group,) = [c for c in env.fake.global_commands if c["name"] == "imagemod"]
    assert str(group["default_member_permissions"]) == str(MANAGE_MESSAGES) == "8192"
    assert group.get("contexts") == [0] or group.get("dm_permission") is False
    names = {o["name"]: o for o in group["options"]}
    assert set(names) >= {
        "logs",
        "job",
        "export",
        "config",
        "block",
        "unblock",
        "blocked",
        "delete",
        "blocklist",
        "quota",
    }
    assert {o["name"] for o in names["quota"]["options"]} == {
        "user",
        "role",
        "clear-user",
        "clear-role",
        "default",
        "show",
    }
    assert {o["name"] for o in names["blocklist"]["options"]} == {"add", "remove", "list"}
    for sub in group["options"]:
        for option in sub.get("options", []):
            assert option.get("description"), (sub["name"], option["name"])


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("imagemod logs", {}),
        ("imagemod block", {"user": "bob"}),
        ("imagemod config", {"log_channel": "channel2"}),
        ("imagemod blocklist add", {"pattern": "lemon"}),
        ("imagemod quota user", {"user": "alice", "unlimited": True}),
    ],
)
async def test_non_moderator_refused_and_nothing_changes(env, name, options):
    """A member without Manage Messages (admins can override the default) is refused."""
    fake = env.fake
    values = {"bob": fake.bob, "alice": fake.alice, "channel2": fake.channel2_id}
    resolved = {k: values.get(v, v) if isinstance(v, str) else v for k, v in options.items()}
    message = await mod(env, name, resolved, user=fake.alice)
    assert message["content"] == "Only moderators can use /imagemod."
    assert not message["embeds"]
    guild = fake.guild_id
    assert await env.db.actions.latest(guild) == []
    assert await env.db.guilds.blocked_users(guild) == []
    assert await env.db.guilds.prompt_rules(guild) == []
    assert await env.db.guilds.quota_rules(guild) == []
    assert (await env.db.guilds.settings(guild)).log_channel_id is None


async def test_moderator_role_qualifies_without_manage_messages(env):
    """Members of the configured moderator role may moderate; before that they may not."""
    fake = env.fake
    refused = await mod(env, "imagemod blocked", user=fake.helper)
    assert refused["content"] == "Only moderators can use /imagemod."

    done = await mod(env, "imagemod config", {"moderator_role": fake.helper_role_id})
    assert f"<@&{fake.helper_role_id}>" in done["content"]
    assert (await env.db.guilds.settings(fake.guild_id)).moderator_role_id == fake.helper_role_id

    allowed = await mod(env, "imagemod blocked", user=fake.helper)
    assert allowed["embeds"][0]["title"] == "Blocked members (0)"
    blocked = await mod(env, "imagemod block", {"user": fake.bob}, user=fake.helper)
    assert "can no longer generate images" in blocked["content"]
    assert (
        await env.db.guilds.blocked_user(fake.guild_id, fake.bob.id)
    ).blocked_by == fake.helper.id


async def test_owner_is_a_moderator(env):
    """The server owner (every permission) may moderate without any role."""
    message = await mod(env, "imagemod blocklist list", user=env.fake.owner)
    assert message["embeds"][0]["title"] == "Prompt blocklist (0)"


# ---------------------------------------------------------------------- blocking


async def test_blocked_user_refused_then_unblocked(env):
    """A blocked member's /imagine is refused with nothing reserved or sent; unblock works."""
    fake = env.fake
    done = await mod(env, "imagemod block", {"user": fake.alice, "reason": "spam"})
    assert done["content"] == f"<@{fake.alice.id}> can no longer generate images here."
    block = await env.db.guilds.blocked_user(fake.guild_id, fake.alice.id)
    assert (block.reason, block.blocked_by) == ("spam", fake.mod.id)

    text = await refused_imagine(env, fake.alice, "a lemon")
    assert text == "You're blocked from generating images on this server."
    assert env.lemondata.creates() == []
    assert await env.db.jobs.search(JobFilter()) == []
    assert (await env.bot.quota.status(fake.guild_id, fake.alice.id)).used == 0

    listing = await mod(env, "imagemod blocked")
    assert f"<@{fake.alice.id}>" in listing["embeds"][0]["description"]
    assert "spam" in listing["embeds"][0]["description"]

    done = await mod(env, "imagemod unblock", {"user": fake.alice})
    assert done["content"] == f"<@{fake.alice.id}> can generate images again."
    again = await mod(env, "imagemod unblock", {"user": fake.alice})
    assert again["content"] == f"<@{fake.alice.id}> is not blocked."

    _, job = await imagine_done(env)
    assert job.state == "succeeded"
    actions = [
        (a.action, a.moderator_id, a.target) for a in await env.db.actions.latest(fake.guild_id)
    ]
    assert actions == [
        ("unblock", fake.mod.id, f"user:{fake.alice.id}"),
        ("block", fake.mod.id, f"user:{fake.alice.id}"),
    ]


# ---------------------------------------------------------------------- blocklist


@pytest.mark.parametrize(
    ("pattern", "regex", "blocked", "allowed"),
    [
        ("lemon", False, "A LEMON tree at dawn", "fresh lemonade"),
        (r"b[a4]n+ana", True, "a b4nnnana split", "a banna"),
    ],
)
async def test_blocklist_refuses_without_revealing(env, pattern, regex, blocked, allowed):
    """A prompt matching a word or regex is refused by "a rule of this server", unsent."""
    fake = env.fake
    done = await mod(env, "imagemod blocklist add", {"pattern": pattern, "regex": regex})
    (rule,) = await env.db.guilds.prompt_rules(fake.guild_id)
    assert done["content"].startswith(f"Added blocklist entry #{rule.id}")
    assert rule.is_regex is regex

    text = await refused_imagine(env, fake.alice, blocked)
    assert text == BLOCKED_PROMPT_TEXT
    assert "blocked by a rule of this server" in text
    assert pattern not in text
    assert env.lemondata.creates() == []
    assert await env.db.jobs.search(JobFilter()) == []

    _, job = await imagine_done(env, prompt=allowed)
    assert job.state == "succeeded"
    assert [c["prompt"] for c in env.lemondata.creates()] == [allowed]


async def test_blocklist_checked_before_quota(env):
    """With no quota left, a blocklisted prompt still gets the blocklist refusal."""
    fake = env.fake
    await mod(env, "imagemod quota user", {"user": fake.alice, "limit": 0})
    await mod(env, "imagemod blocklist add", {"pattern": "storm"})

    assert await refused_imagine(env, fake.alice, "a storm at sea") == BLOCKED_PROMPT_TEXT
    other = await refused_imagine(env, fake.alice, "a calm sea")
    assert other == "Image generation is turned off for you on this server."
    assert env.lemondata.creates() == []
    assert await env.db.jobs.search(JobFilter()) == []


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("(unclosed", "can't be used: missing )"),
        (r"(\w)\1", "Back-references and look-arounds are not supported"),
        ("a(?=b)", "Back-references and look-arounds are not supported"),
    ],
)
async def test_bad_regex_refused_at_add(env, pattern, reason):
    """A regex RE2 cannot compile is refused when added, with its reason; nothing is stored."""
    message = await mod(env, "imagemod blocklist add", {"pattern": pattern, "regex": True})
    assert reason in message["content"]
    assert await env.db.guilds.prompt_rules(env.fake.guild_id) == []
    assert await env.db.actions.latest(env.fake.guild_id) == []


async def test_blocklist_list_and_remove(env):
    """Entries are listed with their number and kind, and removed by number."""
    await mod(env, "imagemod blocklist add", {"pattern": "storm"})
    await mod(env, "imagemod blocklist add", {"pattern": "dark.*sky", "regex": True})
    rules = await env.db.guilds.prompt_rules(env.fake.guild_id)
    listing = (await mod(env, "imagemod blocklist list"))["embeds"][0]
    assert listing["title"] == "Prompt blocklist (2)"
    assert f"`#{rules[0].id}` word `storm`" in listing["description"]
    assert f"`#{rules[1].id}` regex `dark.*sky`" in listing["description"]

    done = await mod(env, "imagemod blocklist remove", {"entry": rules[0].id})
    assert done["content"] == f"Removed blocklist entry #{rules[0].id}."
    missing = await mod(env, "imagemod blocklist remove", {"entry": rules[0].id})
    assert missing["content"] == f"There is no blocklist entry #{rules[0].id} in this server."
    assert [r.pattern for r in await env.db.guilds.prompt_rules(env.fake.guild_id)] == ["dark.*sky"]


# ---------------------------------------------------------------------- review


async def seed_history(env: BotEnv) -> dict[str, int]:
    """Five jobs: alice and bob, two models, two states, spread over ten days."""
    fake = env.fake
    now = dt.datetime.now(dt.UTC).timestamp()
    day = 86400
    return {
        "alice_old": await seed(env, fake.alice, created_at=now - 10 * day),
        "bob_gpt": await seed(env, fake.bob, created_at=now - 5 * day, model=OTHER_MODEL),
        "alice_failed": await seed(env, fake.alice, created_at=now - 2 * day, state="failed"),
        "bob_recent": await seed(env, fake.bob, created_at=now - 3600),
        "alice_recent": await seed(
            env, fake.alice, created_at=now - 60, urls=("https://cdn.example/a.png",)
        ),
    }


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({}, ["alice_recent", "bob_recent", "alice_failed", "bob_gpt", "alice_old"]),
        ({"user": "alice"}, ["alice_recent", "alice_failed", "alice_old"]),
        ({"model": OTHER_MODEL}, ["bob_gpt"]),
        ({"state": "failed"}, ["alice_failed"]),
        ({"since": "3d"}, ["alice_recent", "bob_recent", "alice_failed"]),
        ({"since": "2h", "user": "bob"}, ["bob_recent"]),
    ],
)
async def test_logs_filters_newest_first(env, options, expected):
    """Each filter narrows the list; jobs come newest first, one embed each."""
    ids = await seed_history(env)
    if "user" in options:
        options = {**options, "user": getattr(env.fake, options["user"])}
    message = await mod(env, "imagemod logs", options)
    assert job_ids(message) == [ids[name] for name in expected]
    assert message["content"].startswith("**Jobs**")


async def test_logs_entry_shows_user_model_thumbnail_and_link(env):
    """An entry has the requester, model, relative time, thumbnail and jump link."""
    interaction, job = await imagine_done(env)
    message = await mod(env, "imagemod logs")
    (embed,) = message["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert fields["User"] == f"<@{env.fake.alice.id}>"
    assert fields["Model"] == f"`{MODEL}`"
    assert fields["When"] == f"<t:{int(job.created_at)}:R>"
    link = (
        f"https://discord.com/channels/{env.fake.guild_id}/{env.fake.channel_id}/"
        f"{interaction.original_id}"
    )
    assert fields["Message"] == f"[Jump]({link})"
    assert embed["url"] == link
    assert embed["thumbnail"]["url"] == job.result_urls[0]
    assert embed["description"] == "a lemon on a beach"


async def test_logs_without_matches_and_bad_since(env):
    """No match says so; a malformed `since` is refused with the accepted forms."""
    empty = await mod(env, "imagemod logs", {"state": "running"})
    assert "no jobs match" in empty["content"]
    assert not empty["components"]
    bad = await mod(env, "imagemod logs", {"since": "last tuesday"})
    assert "30m, 24h, 7d or 2w" in bad["content"]


def click(env: BotEnv, shown: FakeInteraction, label: str, user: FakeUser) -> FakeInteraction:
    """Press a button of the message ``shown`` answered with."""
    return env.click(shown, label, user)


def buttons(message: dict[str, Any]) -> dict[str, bool]:
    """Button label -> disabled."""
    return {
        c["label"]: bool(c.get("disabled"))
        for row in message["components"]
        for c in row["components"]
    }


async def test_logs_pages_with_buttons(env):
    """Seven jobs: page one shows five, Next shows the older two, Previous goes back."""
    now = dt.datetime.now(dt.UTC).timestamp()
    ids = [await seed(env, env.fake.bob, created_at=now - 100 + i) for i in range(7)]
    newest_first = list(reversed(ids))

    shown = env.send("imagemod logs", {}, user=env.fake.mod)
    first = await answer(env, shown)
    assert job_ids(first) == newest_first[:5]
    assert buttons(first) == {"Previous": True, "Next": False}

    # The UPDATE_MESSAGE callback carries the new page (the fake does not apply type-7
    # edits to the stored message, so the callback data is what is asserted).
    press = click(env, shown, "Next", env.fake.mod)
    kind, second = await env.fake.wait_for_callback(press)
    assert kind == 7
    assert job_ids(second) == newest_first[5:]
    assert "6–7" in second["content"]
    assert buttons(second) == {"Previous": False, "Next": True}

    back = click(env, shown, "Previous", env.fake.mod)
    kind, third = await env.fake.wait_for_callback(back)
    assert kind == 7
    assert job_ids(third) == newest_first[:5]
    assert buttons(third) == {"Previous": True, "Next": False}

    stranger = click(env, shown, "Next", env.fake.owner)
    kind, data = await env.fake.wait_for_callback(stranger)
    assert kind == 4 and data["flags"] & EPHEMERAL
    assert data["content"] == "These buttons belong to the moderator who ran the command."


async def test_job_detail(env):
    """/imagemod job shows the full record: prompt, options, quota, timings, link, URLs."""
    interaction, job = await imagine_done(env, ratio="16:9")
    message = await mod(env, "imagemod job", {"job_id": job.id})
    (embed,) = message["embeds"]
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert embed["title"] == f"Job {job.id} · Done"
    assert embed["description"] == "a lemon on a beach"
    assert fields["Requester"] == f"<@{env.fake.alice.id}> (`{env.fake.alice.id}`)"
    assert '"ratio": "16:9"' in fields["Options"] and "a lemon" not in fields["Options"]
    assert fields["Quota"].startswith(f"{job.quota_units} units, settled")
    assert "finished after" in fields["Timings"]
    assert str(interaction.original_id) in fields["Delivery"]
    assert fields["Image URLs"] == f"<{job.result_urls[0]}>"
    assert embed["thumbnail"]["url"] == job.result_urls[0]

    missing = await mod(env, "imagemod job", {"job_id": job.id + 100})
    assert missing["content"] == f"There is no job {job.id + 100} in this server."


async def test_export_csv(env):
    """The export attaches a CSV of the filtered rows, with every documented column."""
    ids = await seed_history(env)
    _, job = await imagine_done(env)

    message = await mod(env, "imagemod export", {"user": env.fake.alice, "since": "3d"})
    (attachment,) = env.fake.message_files(message)
    assert attachment.filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(attachment.data.decode("utf-8"))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [int(r["id"]) for r in rows] == [job.id, ids["alice_recent"], ids["alice_failed"]]
    assert message["content"].startswith("3 jobs")

    live = rows[0]
    assert live["user_id"] == str(env.fake.alice.id)
    assert live["prompt"] == "a lemon on a beach"
    assert live["state"] == "succeeded" and live["model"] == MODEL
    assert live["quota_units"] == str(job.quota_units) and live["quota_state"] == "settled"
    assert live["delivered_via"] == "edit"
    assert live["jump_link"] == jump_link(job)
    assert live["result_urls"] == " ".join(job.result_urls)
    assert live["created_at"] == dt.datetime.fromtimestamp(job.created_at, dt.UTC).isoformat()
    assert "prompt" not in live["options"] and '"count": 1' in live["options"]
    assert rows[2]["error_code"] == "task_failed"


# ---------------------------------------------------------------------- audit channel


async def test_audit_channel_gets_every_kind_of_event(env):
    """Finished jobs, blocked prompts, deletions and moderator actions are posted there."""
    fake = env.fake
    await set_log_channel(env)
    (config_post,) = audit_posts(env)
    assert config_post["title"] == "Moderator action"
    assert f"<#{fake.channel2_id}>" in config_post["description"]

    _, job = await imagine_done(env)
    (finished,) = await wait_for_audit(env, f"Job {job.id}")
    assert finished["thumbnail"]["url"] == job.result_urls[0]
    assert finished["description"] == "a lemon on a beach"
    assert {f["name"]: f["value"] for f in finished["fields"]}["User"] == f"<@{fake.alice.id}>"

    await mod(env, "imagemod blocklist add", {"pattern": "storm"})
    await refused_imagine(env, fake.bob, "a storm at sea")
    (blocked,) = await wait_for_audit(env, "Prompt blocked")
    blocked_fields = {f["name"]: f["value"] for f in blocked["fields"]}
    assert blocked_fields["User"] == f"<@{fake.bob.id}>"
    assert "storm" in blocked_fields["Rule"] and blocked["description"] == "a storm at sea"

    await mod(env, "imagemod delete", {"job_id": job.id})
    posts = await wait_for_audit(env, "Moderator action", count=3)
    deletion = posts[-1]
    assert deletion["description"] == (
        f"<@{fake.mod.id}> deleted the image of job {job.id} by <@{fake.alice.id}>."
    )
    assert deletion["thumbnail"]["url"] == job.result_urls[0]
    assert "added blocklist entry" in posts[1]["description"]
    recorded = [a.action for a in await env.db.actions.latest(fake.guild_id)]
    assert recorded == ["delete", "prompt_blocked", "blocklist_add", "config"]


async def test_audit_channel_failure_does_not_break_commands(env):
    """A log channel the bot may not post in is reported at config time; commands still work."""
    fake = env.fake
    fake.forbid_channel(fake.channel2_id)
    message = await mod(env, "imagemod config", {"log_channel": fake.channel2_id})
    assert "I couldn't post in" in message["content"]
    done = await mod(env, "imagemod block", {"user": fake.bob})
    assert "can no longer generate images" in done["content"]
    await env.bot.audit.wait_idle()
    assert fake.channel_messages(fake.channel2_id) == []


async def test_config_show_and_reset(env):
    """Without options config shows the settings; reset puts one back to the default."""
    fake = env.fake
    shown = (await mod(env, "imagemod config"))["embeds"][0]
    fields = {f["name"]: f["value"] for f in shown["fields"]}
    assert fields["Audit channel"] == "not set"
    assert fields["Default quota"] == "25 units per day"
    assert fields["Running jobs"] == "2 per member, 8 per server"

    await mod(
        env,
        "imagemod config",
        {"log_channel": fake.channel2_id, "max_running_per_user": 1, "max_running_per_server": 3},
    )
    settings = await env.db.guilds.settings(fake.guild_id)
    assert (settings.log_channel_id, settings.max_running_per_user) == (fake.channel2_id, 1)
    assert settings.max_running_per_guild == 3

    done = await mod(env, "imagemod config", {"reset": "log_channel"})
    assert "turned the audit channel off" in done["content"]
    assert (await env.db.guilds.settings(fake.guild_id)).log_channel_id is None
    (last,) = await env.fake.wait_for(
        lambda: [e for e in audit_posts(env) if "turned the audit channel off" in e["description"]]
    )
    assert last["description"].startswith(f"<@{fake.mod.id}>")


# ---------------------------------------------------------------------- delete


async def test_delete_removes_message_and_records_who(env):
    """Delete removes the delivered message from Discord and stores the moderator."""
    _, job = await imagine_done(env)
    message = await mod(env, "imagemod delete", {"job_id": job.id})
    assert message["content"] == f"Deleted the image of job {job.id}."
    assert job.delivered_message_id in env.fake.deleted_messages
    assert env.fake.requests_to(
        "DELETE", rf"^/channels/{env.fake.channel_id}/messages/{job.delivered_message_id}$"
    )
    stored = await env.db.jobs.get(job.id)
    assert stored.deleted_by == env.fake.mod.id and stored.deleted_at is not None
    (action,) = await env.db.actions.latest(env.fake.guild_id)
    assert (action.action, action.moderator_id, action.target) == (
        "delete",
        env.fake.mod.id,
        f"job:{job.id}",
    )

    again = await mod(env, "imagemod delete", {"job_id": job.id})
    assert again["content"] == f"Job {job.id}'s image was already deleted by <@{env.fake.mod.id}>."
    logs = await mod(env, "imagemod logs")
    fields = {f["name"]: f["value"] for f in logs["embeds"][0]["fields"]}
    assert fields["Deleted"] == f"by <@{env.fake.mod.id}>"


async def test_delete_of_a_channel_reply_also_removes_the_progress_card(env):
    """A result posted as a channel reply is deleted with its progress card (the prompt)."""
    env.lemondata.hold_tasks = True
    interaction = await env.imagine(prompt="a city", model=OTHER_MODEL)
    job = await env.wait_for_job(
        (await env.job_for(interaction)).id, lambda j: j.task_id is not None
    )
    env.fake.expire_token(interaction)
    env.lemondata.complete_task(job.task_id)
    job = await env.settled(job.id)
    assert job.delivered_via == "channel" and job.message_id != job.delivered_message_id

    message = await mod(env, "imagemod delete", {"job_id": job.id})
    assert message["content"] == f"Deleted the image of job {job.id}."
    assert {job.delivered_message_id, job.message_id} <= set(env.fake.deleted_messages)


async def test_delete_of_a_message_already_gone_is_still_recorded(env):
    """If the message was removed by hand, the deletion is still recorded."""
    _, job = await imagine_done(env)
    await env.bot.http.delete_message(job.delivered_channel_id, job.delivered_message_id)
    message = await mod(env, "imagemod delete", {"job_id": job.id})
    assert message["content"] == f"Job {job.id}'s message was already gone; recorded as deleted."
    assert (await env.db.jobs.get(job.id)).deleted_by == env.fake.mod.id
    (action,) = await env.db.actions.latest(env.fake.guild_id)
    assert action.detail == "message already gone"


async def test_delete_needs_a_delivered_message(env):
    """A job that never posted a message cannot be deleted; nothing is recorded."""
    job_id = await seed(env, env.fake.bob, created_at=NOW)
    message = await mod(env, "imagemod delete", {"job_id": job_id})
    assert message["content"] == f"Job {job_id} has no posted message to delete."
    assert await env.db.actions.latest(env.fake.guild_id) == []


# ---------------------------------------------------------------------- quotas


async def test_quota_user_override_and_clear(env):
    """A user limit of 0 refuses /imagine; clearing it restores the default."""
    fake = env.fake
    done = await mod(env, "imagemod quota user", {"user": fake.alice, "limit": 0})
    assert done["content"] == f"Done: set the quota of <@{fake.alice.id}> to 0 units."
    text = await refused_imagine(env, fake.alice, "a lemon")
    assert text == "Image generation is turned off for you on this server."
    assert env.lemondata.creates() == []

    await mod(env, "imagemod quota clear-user", {"user": fake.alice})
    assert await env.db.guilds.quota_rules(fake.guild_id) == []
    _, job = await imagine_done(env)
    assert job.state == "succeeded"
    missing = await mod(env, "imagemod quota clear-user", {"user": fake.alice})
    assert missing["content"] == f"<@{fake.alice.id}> has no quota of their own."


async def test_quota_default_and_unlimited_role(env):
    """Server default 1/week stops a second image; an unlimited role goes beyond it."""
    fake = env.fake
    done = await mod(env, "imagemod quota default", {"limit": 1, "period": "week"})
    assert done["content"] == "Done: set the default quota to 1 unit per week."
    await imagine_done(env, user=fake.alice)
    text = await refused_imagine(env, fake.alice, "another lemon")
    assert "You've used all 1 of your images for this week" in text

    await mod(env, "imagemod quota role", {"role": fake.artist_role_id, "unlimited": True})
    for _ in range(2):
        _, job = await imagine_done(env, user=fake.artist)
        assert job.state == "succeeded"
    assert len(env.lemondata.creates()) == 3

    shown = (await mod(env, "imagemod quota show", {"user": fake.artist}))["embeds"][0]
    fields = {f["name"]: f["value"] for f in shown["fields"]}
    assert fields["Server default"] == "1 unit per week"
    assert fields["Role limits (the most generous applies)"] == (
        f"<@&{fake.artist_role_id}>: unlimited"
    )
    assert fields["Member"].startswith(f"<@{fake.artist.id}>: limit unlimited, 2 used this week")

    await mod(env, "imagemod quota clear-role", {"role": fake.artist_role_id})
    assert "You've used all 1" in await refused_imagine(env, fake.artist, "one more")

    reset = await mod(env, "imagemod quota default", {"reset": True})
    assert (
        reset["content"] == "Done: set the default quota to 25 units per week (the bot's default)."
    )


async def test_quota_rule_needs_limit_or_unlimited(env):
    """A quota rule with neither (or both) a limit and unlimited is refused."""
    neither = await mod(env, "imagemod quota user", {"user": env.fake.bob})
    both = await mod(
        env, "imagemod quota user", {"user": env.fake.bob, "limit": 3, "unlimited": True}
    )
    for message in (neither, both):
        assert message["content"] == "Give either a `limit` or `unlimited: True`."
    assert await env.db.guilds.quota_rules(env.fake.guild_id) == []


# ---------------------------------------------------------------------- retention


async def test_retention_redacts_old_rows_but_keeps_counts(env):
    """Past LOG_RETENTION_DAYS a job loses prompt and URLs; its row, units and state stay."""
    _, old = await imagine_done(env, prompt="an old secret")
    recent = await seed(env, env.fake.bob, created_at=old.created_at + 80 * 86400)
    with time_machine.travel(old.created_at + 91 * 86400, tick=False):
        redacted = await env.bot.moderation.apply_retention(90)
    assert redacted == 1

    stored = await env.db.jobs.get(old.id)
    assert (stored.prompt, stored.result_urls, stored.revised_prompt) == ("", [], None)
    assert stored.request["prompt"] == "" and stored.options["prompt"] == ""
    assert (stored.state, stored.quota_units, stored.quota_state) == (
        old.state,
        old.quota_units,
        "settled",
    )
    assert await env.db.images.load_images(old.id) == []
    assert (await env.db.jobs.get(recent)).prompt == "a lemon"
    assert len(await env.db.jobs.search(JobFilter(guild_id=env.fake.guild_id))) == 2

    detail = (await mod(env, "imagemod job", {"job_id": old.id}))["embeds"][0]
    assert detail["description"] == "*(removed by log retention)*"
    assert "thumbnail" not in detail
    assert await env.bot.moderation.apply_retention(0) == 0


async def test_retention_runs_daily_while_the_cog_is_loaded(env):
    """The retention loop starts with the cog and stops when it is unloaded."""
    cog = env.bot.get_cog("Moderation")
    assert cog.retention.is_running()
    assert cog.retention.hours == 24
    task = cog.retention.get_task()
    await env.bot.unload_extension("cogs.moderation")
    await asyncio.gather(task, return_exceptions=True)
    assert task.cancelled() and not cog.retention.is_running()


@pytest.mark.parametrize("command", ["imagemod logs", "imagemod export"])
async def test_a_huge_filter_is_echoed_shortened(env, command):
    """A 3,000-character model filter is echoed cut down: the reply stays within limits."""
    message = await mod(env, command, {"model": "m" * 3000})
    assert len(message["content"]) <= 2000
    assert "mmm…" in message["content"] and "m" * 200 not in message["content"]
    assert env.fake.violations == []


async def test_moderators_read_imagemod_in_their_language(env):
    """A zh-CN moderator reads /imagemod's replies in Chinese, the CSV's header row too."""
    await with_moderation(env)
    empty = await mod(env, "imagemod logs", {"state": "running"}, locale="zh-CN")
    assert "没有" in empty["content"] and "no jobs" not in empty["content"], empty["content"]
    bad = await mod(env, "imagemod logs", {"since": "last tuesday"}, locale="zh-CN")
    assert "30m" in bad["content"] and "accepted" not in bad["content"], bad["content"]
    await imagine_done(env)
    exported = await mod(env, "imagemod export", {}, locale="zh-CN")
    assert "个任务" in exported["content"], exported["content"]
    (attachment,) = env.fake.message_files(exported)
    header = next(csv.reader(io.StringIO(attachment.data.decode("utf-8"))))
    assert header[:3] == ["编号", "创建时间", "用户编号"] and len(header) == len(CSV_COLUMNS)
