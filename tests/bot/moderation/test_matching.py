"""The blocklist matched off the event loop: one match per server, a time limit that fails safe."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot.moderation.blocklist import rule_set
from bot.moderation.matching import MatchTimedOut, RuleMatcher
from bot.store import PromptRule
from tests.factories import costly_prompt, costly_rules

SLOW = 1  # the server holding the most expensive rule set allowed
OTHER = 2


def slow_rules() -> list[PromptRule]:
    return [PromptRule(i, SLOW, p, True, 1, 0.0) for i, p in enumerate(costly_rules(), 1)]


async def started(matcher: RuleMatcher, guild_id: int) -> None:
    """Let the task just created run up to its wait: its match is in the pool then."""
    await asyncio.sleep(0)
    assert matcher.running(guild_id)


async def test_a_slow_server_holds_up_neither_the_loop_nor_another_server():
    """While one server's costly match runs in a thread, another server's is answered."""
    matcher = RuleMatcher(timeout=30.0)
    storm = PromptRule(100, OTHER, "storm", False, 1, 0.0)
    slow = asyncio.create_task(matcher.first_match(SLOW, slow_rules(), True, costly_prompt()))
    await started(matcher, SLOW)

    assert await matcher.first_match(OTHER, [storm], True, "a storm at sea") == storm
    assert await matcher.first_match(OTHER, [storm], True, "a calm sea") is None
    assert matcher.running(SLOW)  # both answered while the slow one still ran
    assert not slow.done()
    assert await slow is None


async def test_a_server_s_next_prompt_waits_for_its_previous_match(caplog):
    """One match per server at a time: its next prompt waits, within the time limit."""
    matcher = RuleMatcher(timeout=30.0)
    storm = PromptRule(100, SLOW, "storm", False, 1, 0.0)
    slow = asyncio.create_task(matcher.first_match(SLOW, slow_rules(), True, costly_prompt()))
    await started(matcher, SLOW)

    matcher.timeout = 0.01  # the next check of the same server gives up while it waits
    with (
        caplog.at_level(logging.WARNING, "bot.moderation.matching"),
        pytest.raises(MatchTimedOut) as waited,
    ):
        await matcher.first_match(SLOW, [storm], True, "a storm")
    assert (waited.value.stage, waited.value.rule) == ("waiting", None)
    assert f"guild {SLOW}: blocklist check gave up after 0.01 s (waiting)" in caplog.text
    assert matcher.running(SLOW)
    await slow
    assert await matcher.first_match(SLOW, [storm], True, "a storm") == storm  # its turn now


async def test_a_match_past_its_time_limit_refuses_and_logs_the_entry(caplog):
    """Past the limit the prompt is refused (fail safe) and the entry it was on is logged."""
    matcher = RuleMatcher(timeout=0.05)  # the costly set takes a few tenths of a second
    rules = slow_rules()
    prompt = costly_prompt()
    rule_set(tuple(rules), True)  # compiled already (cached), as after a first check
    with (
        caplog.at_level(logging.WARNING, "bot.moderation.matching"),
        pytest.raises(MatchTimedOut) as timed_out,
    ):
        await matcher.first_match(SLOW, rules, True, prompt)
    error = timed_out.value
    assert error.text.key == "refusal.blocklist_timeout"
    assert error.stage == "regex" and error.rule in rules
    assert f"guild {SLOW}: blocklist check gave up after 0.05 s at entry {error.rule.id}" in (
        caplog.text
    )
    assert prompt not in caplog.text and "😀" not in caplog.text  # never the prompt
