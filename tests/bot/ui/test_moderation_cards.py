"""Moderator cards: filter descriptions and jump links."""

from __future__ import annotations

import pytest

from bot.store import JobFilter
from bot.ui.cards import jump_link
from bot.ui.moderation import describe_filter
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
