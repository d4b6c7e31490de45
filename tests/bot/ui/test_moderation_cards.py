"""Moderator cards: filter descriptions, jump links and prompts shown inert."""

from __future__ import annotations

import pytest

from bot.store import JobFilter, PromptRule
from bot.ui.cards import jump_link
from bot.ui.format import shown as shown_line
from bot.ui.moderation import (
    blocked_audit_embed,
    describe_filter,
    job_detail_embed,
    job_summary_embed,
)
from tests.factories import job as _job


def test_filter_description():
    """The logs header names each active filter."""
    assert describe_filter(JobFilter(1)).render("en") == "all jobs"
    both = describe_filter(JobFilter(1, user_id=7, state="failed"))
    assert both.render("en") == "user <@7> · state failed"
    assert both.render("zh-CN") == "成员 <@7> · 状态 失败"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, None),
        ({"message_id": 5}, "https://discord.com/channels/10/20/5"),
        (
            {"delivered_via": "channel", "delivered_channel_id": 21, "delivered_message_id": 6},
            "https://discord.com/channels/10/21/6",
        ),
        (
            {"delivered_via": "dm", "delivered_channel_id": 22, "delivered_message_id": 7},
            "https://discord.com/channels/@me/22/7",
        ),
    ],
)
def test_jump_link(overrides, expected):
    """The link points at the delivered message, else the progress message."""
    assert jump_link(_job(**overrides)) == expected


LINK = "[Free Nitro](https://evil.example)"


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        (LINK, r"\[Free Nitro\](https://evil.example)"),
        ("\\" + LINK, r"\\\[Free Nitro\](https://evil.example)"),
        ("[a] [b](https://x.example)", r"\[a\] \[b\](https://x.example)"),
        ("__under__ ~~gone~~ ||spoiler||", r"\_\_under\_\_ \~\~gone\~\~ \|\|spoiler\|\|"),
        ("# big\n> quoted", "\\# big \\> quoted"),
    ],
)
def test_prompts_shown_are_inert(typed, shown):
    """A prompt's markdown and masked links show as typed, a typed backslash undoing nothing."""
    assert shown_line(typed, 200) == shown


def test_moderation_views_escape_prompts():
    """Moderators' job views and the blocklist audit show a masked link as plain text."""
    shown = r"\[Free Nitro\](https://evil.example)"
    item = _job(prompt=LINK, revised_prompt=LINK)
    detail = job_detail_embed(item, "en")
    assert detail.description == shown
    assert [f.value for f in detail.fields if f.name == "Revised prompt"] == [shown]
    assert job_summary_embed(item, "en").description == shown
    rule = PromptRule(id=1, guild_id=10, pattern="nitro", is_regex=False, added_by=1, added_at=0)
    assert blocked_audit_embed(30, 20, LINK, rule, "en").description == shown
