"""Details: the full prompt and the revised prompt whole, within Discord's embed limits."""

from __future__ import annotations

from typing import Any

import discord

from bot.store import Job
from bot.ui.details import MESSAGE_EMBED_TOTAL, details_messages
from tests.factories import MODEL
from tests.factories import job as _factory_job

PROMPT = ("a lemon on a table " * 300)[:4000]


def _job(**overrides: Any) -> Job:
    prompt = overrides.get("prompt", "p")
    return _factory_job(options={"prompt": prompt, "model": MODEL}, **overrides)


def _texts(messages: list[list[discord.Embed]]) -> list[list[tuple[str | None, str | None]]]:
    return [[(e.title, e.description) for e in embeds] for embeds in messages]


def _within_limits(messages: list[list[discord.Embed]]) -> None:
    for embeds in messages:
        assert 1 <= len(embeds) <= 10
        assert sum(len(e) for e in embeds) <= MESSAGE_EMBED_TOTAL
        assert all(len(e.description or "") <= 4096 for e in embeds)
        assert all(len(f.value or "") <= 1024 for e in embeds for f in e.fields)


def test_a_short_revised_prompt_shares_the_message_in_a_second_embed() -> None:
    job = _job(prompt=PROMPT, revised_prompt="r" * 1200)
    messages = details_messages(job, "en-US")
    _within_limits(messages)
    [[details, revised]] = messages
    assert details.description == PROMPT
    assert (revised.title, revised.description) == ("Revised prompt", "r" * 1200)
    assert "Revised prompt" not in [f.name for f in details.fields]


def test_a_long_revised_prompt_follows_whole_in_more_messages() -> None:
    revised = " ".join(f"word{n}" for n in range(2000))  # 16,889 characters
    messages = details_messages(_job(prompt=PROMPT, revised_prompt=revised), "en-US")
    _within_limits(messages)
    assert messages[0][0].description == PROMPT
    parts = [e for embeds in messages for e in embeds][1:]
    assert [p.title for p in parts] == [f"Revised prompt ({n}/5)" for n in range(1, 6)]
    assert all(len(p.description or "") <= 4096 for p in parts)
    assert " ".join(p.description or "" for p in parts) == revised


def test_no_revised_prompt_one_embed_with_the_prompt_as_typed() -> None:
    prompt = "line one\n\nline two"
    assert _texts(details_messages(_job(prompt=prompt), "zh-CN")) == [[("任务 1 · 详情", prompt)]]
