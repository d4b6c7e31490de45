"""Who counts as a moderator."""

from __future__ import annotations

import discord
import pytest

from bot.moderation.service import is_moderator


@pytest.mark.parametrize(
    ("permissions", "roles", "moderator_role", "expected"),
    [
        (discord.Permissions(manage_messages=True), (), None, True),
        (discord.Permissions(administrator=True), (), None, True),
        (discord.Permissions.none(), (5,), 5, True),
        (discord.Permissions.none(), (4,), 5, False),
        (discord.Permissions.none(), (), None, False),
        (discord.Permissions(send_messages=True), (5,), None, False),
    ],
)
def test_is_moderator(permissions, roles, moderator_role, expected):
    """Manage Messages, administrators or the moderator role qualify; nothing else does."""
    assert is_moderator(permissions, roles, moderator_role) is expected
