"""The blocklist's bounds and normalising, through the real bot against the fakes.

What a moderator is told when an entry is too costly, how stored entries over the limits
are shown, what a member is told when the check runs out of time (privately, nothing
reserved, nothing sent), that one server's slow check holds up no other server, and that
the obvious spellings of a word are caught unless the server keeps accents apart.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.i18n import t
from bot.moderation.blocklist import MAX_GUILD_PROGRAM_SIZE, MAX_RULE_PROGRAM_SIZE, compile_rule
from bot.store import JobFilter
from tests.botenv import BotEnv
from tests.cogs.test_moderation import (
    BLOCKED_PROMPT_TEXT,
    EPHEMERAL,
    imagine_done,
    mod,
    refused_imagine,
    with_moderation,
)
from tests.factories import costly_prompt, costly_rules

TIMED_OUT_TEXT = t("refusal.blocklist_timeout", "en")
HUGE = "(?s).{999}(?s).{900}~"  # 13,298 instructions: about 0.1 s a search


@pytest.fixture
async def env(running_bot, database_url) -> AsyncIterator[BotEnv]:
    async with running_bot(database=database_url) as bot_env:
        await with_moderation(bot_env)
        yield bot_env


async def fill_with_costly_rules(env: BotEnv) -> None:
    """Give the default server the most expensive regexes its budget allows."""
    for pattern in costly_rules():
        await env.bot.moderation.add_rule(env.fake.guild_id, pattern, True, env.fake.mod.id)


async def nothing_happened(env: BotEnv) -> None:
    """No job stored, no quota used, nothing sent to the image API."""
    assert await env.db.jobs.search(JobFilter()) == []
    assert env.lemondata.creates() == []
    status = await env.bot.quota.status(env.fake.guild_id, env.fake.alice.id)
    assert status.used == 0


# ---------------------------------------------------------------------- adding


async def test_an_entry_whose_program_is_too_large_is_refused_naming_the_limit(env):
    """The issue's pattern is refused privately, with its size and the limit; nothing kept."""
    message = await mod(env, "imagemod blocklist add", {"pattern": HUGE, "regex": True})
    assert "13,298 instructions" in message["content"]
    assert f"at most {MAX_RULE_PROGRAM_SIZE:,}" in message["content"]
    assert await env.db.guilds.prompt_rules(env.fake.guild_id) == []
    assert await env.db.actions.latest(env.fake.guild_id) == []


async def test_an_entry_over_the_server_s_budget_is_refused(env):
    """Once the server's entries fill its budget, another costly one is refused."""
    await fill_with_costly_rules(env)
    stored = await env.db.guilds.prompt_rules(env.fake.guild_id)
    message = await mod(env, "imagemod blocklist add", {"pattern": r"\p{L}+x", "regex": True})
    assert f"the most allowed is {MAX_GUILD_PROGRAM_SIZE:,}" in message["content"]
    assert await env.db.guilds.prompt_rules(env.fake.guild_id) == stored
    done = await mod(env, "imagemod blocklist add", {"pattern": "storm"})  # a word still fits
    assert done["content"].startswith("Added blocklist entry")


async def test_stored_entries_over_the_limits_are_flagged_and_skipped(env, caplog):
    """Entries stored before the limits: flagged in the list, logged, not applied."""
    guild = env.fake.guild_id
    huge = await env.db.guilds.add_prompt_rule(guild, HUGE, True, env.fake.mod.id)
    word = await env.db.guilds.add_prompt_rule(guild, "storm", False, env.fake.mod.id)
    with caplog.at_level(logging.WARNING, "bot.moderation.blocklist"):
        listing = (await mod(env, "imagemod blocklist list"))["embeds"][0]
    lines = listing["description"].splitlines()
    assert lines[0].startswith(f"`#{huge.id}` regex")
    assert lines[0].endswith(
        f"⚠ not applied: 13,298 instructions, over the limit of {MAX_RULE_PROGRAM_SIZE:,} per entry"
    )
    assert lines[1] == f"`#{word.id}` word `storm`"
    used = compile_rule("storm", False).cost  # only the word is applied
    assert listing["footer"]["text"] == (
        f"Applied entries use {used} of {MAX_GUILD_PROGRAM_SIZE:,} instructions."
    )
    assert f"guild {guild}: blocklist entry {huge.id} is not applied" in caplog.text

    _, job = await imagine_done(env, prompt="~" * 2000)  # what the huge entry would refuse
    assert job.state == "succeeded"
    assert await refused_imagine(env, env.fake.alice, "a storm") == BLOCKED_PROMPT_TEXT


# ---------------------------------------------------------------------- checking


async def test_a_check_past_its_time_limit_is_refused_privately(env, caplog):
    """Fail safe: the member is told why, privately; nothing reserved or sent; entry logged."""
    await fill_with_costly_rules(env)
    env.bot.moderation.matcher.timeout = 0.05  # the costly set takes a few tenths of a second
    with caplog.at_level(logging.WARNING, "bot.moderation.matching"):
        text = await refused_imagine(env, env.fake.alice, costly_prompt())
    assert text == TIMED_OUT_TEXT
    assert "took too long" in text
    await nothing_happened(env)
    assert f"guild {env.fake.guild_id}: blocklist check gave up after 0.05 s" in caplog.text
    assert "😀" not in caplog.text  # never the prompt


async def test_a_prompt_that_normalising_makes_too_long_is_refused(env):
    """U+FDFA is one character but 18 once normalised: 600 of them are too long to match."""
    await mod(env, "imagemod blocklist add", {"pattern": "storm"})
    text = await refused_imagine(env, env.fake.alice, "\ufdfa" * 600)
    assert text == t("refusal.prompt_unmatchable", "en")
    await nothing_happened(env)
    _, job = await imagine_done(env, prompt="\ufdfa" * 10)  # a few are fine
    assert job.state == "succeeded"


async def test_one_server_s_slow_check_holds_up_no_other_server(env):
    """While one server's costly check runs in its thread, another's /imagine is answered."""
    fake = env.fake
    await fill_with_costly_rules(env)
    other = fake.add_guild("Limes", members=[fake.bob])
    await env.bot.moderation.add_rule(other.id, "storm", False, fake.owner.id)

    slow = env.send("imagine", {"prompt": costly_prompt()}, user=fake.alice)
    quick = env.send(
        "imagine", {"prompt": "a lemon"}, user=fake.bob, channel_id=other.channel_ids[0]
    )
    await fake.wait_for_callback(quick)
    assert env.bot.moderation.matcher.running(fake.guild_id)  # the slow check still runs
    assert slow.callbacks == []
    kind, data = quick.callbacks[0]
    assert kind == 4 and not data.get("flags", 0) & EPHEMERAL  # the public progress card
    assert (await env.job_for(quick)).guild_id == other.id

    kind, _ = await fake.wait_for_callback(slow)  # then the slow one gets its answer too
    assert kind == 4


# ---------------------------------------------------------------------- normalising


@pytest.mark.parametrize("prompt", ["a nu\u200bde figure", "a ｎｕｄｅ figure", "a nüde figure"])
async def test_the_obvious_spellings_of_a_word_are_refused(env, prompt):
    """``nude`` catches a zero-width space, full-width letters and an accent."""
    await mod(env, "imagemod blocklist add", {"pattern": "nude"})
    assert await refused_imagine(env, env.fake.alice, prompt) == BLOCKED_PROMPT_TEXT
    await nothing_happened(env)


async def test_a_server_can_keep_accents_apart(env):
    """``fold_accents:False`` makes ``nüde`` another word; format characters still go."""
    fake = env.fake
    await mod(env, "imagemod blocklist add", {"pattern": "nude"})
    shown = (await mod(env, "imagemod config"))["embeds"][0]
    fields = {f["name"]: f["value"] for f in shown["fields"]}
    assert fields["Blocklist accents"] == "ignored (nüde counts as nude)"

    done = await mod(env, "imagemod config", {"fold_accents": False})
    assert "made the blocklist tell accented letters apart" in done["content"]
    assert (await env.db.guilds.settings(fake.guild_id)).fold_accents is False
    fields = {f["name"]: f["value"] for f in done["embeds"][0]["fields"]}
    assert fields["Blocklist accents"] == "kept (nüde is not nude)"
    _, job = await imagine_done(env, prompt="a nüde figure")
    assert job.state == "succeeded"
    assert await refused_imagine(env, fake.alice, "a nu\u200bde figure") == BLOCKED_PROMPT_TEXT

    await mod(env, "imagemod config", {"fold_accents": True})
    assert (await env.db.guilds.settings(fake.guild_id)).fold_accents is True
    assert await refused_imagine(env, fake.alice, "a nüde figure") == BLOCKED_PROMPT_TEXT
