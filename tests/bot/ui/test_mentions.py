"""mention(): the one spelling of a Discord mention of a member, a channel or a role."""

from __future__ import annotations

import pytest

from bot.ui.format import mention


@pytest.mark.parametrize(
    ("target", "kind", "expected"),
    [
        (42, "user", "<@42>"),
        (7, "channel", "<#7>"),
        (9, "role", "<@&9>"),
        (None, "user", "–"),
    ],
)
def test_mention(target, kind, expected):
    assert mention(target, kind) == expected


def test_a_member_is_the_default():
    assert mention(1234) == "<@1234>"
