"""Who counts as a moderator; a moderator's write and its log entry are one transaction."""

from __future__ import annotations

from typing import Any, cast

import discord
import pytest

from bot.moderation.audit import AuditLog
from bot.moderation.members import is_moderator
from bot.moderation.service import ModerationService
from bot.store import Store


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


class _Audit:
    """Stands in for the audit channel: records what would have been posted."""

    def __init__(self) -> None:
        self.posted: list[int] = []

    def post_soon(self, guild_id: int, build: object) -> None:
        self.posted.append(guild_id)


async def _block(service: ModerationService) -> None:
    await service.block(1, 7, "spam", moderator_id=9)


async def _add_rule(service: ModerationService) -> None:
    await service.add_rule(1, "forbidden", False, moderator_id=9)


async def _blocked(db: Store) -> bool:
    return await db.guilds.blocked_user(1, 7) is not None


async def _ruled(db: Store) -> bool:
    return bool(await db.guilds.prompt_rules(1))


@pytest.mark.parametrize(("act", "changed"), [(_block, _blocked), (_add_rule, _ruled)])
async def test_a_moderator_write_and_its_log_entry_are_one_transaction(
    db: Store, monkeypatch: pytest.MonkeyPatch, act, changed
):
    """The log entry failing (after its row is written) undoes the change too: no half."""
    audit = _Audit()
    service = ModerationService(db, cast(AuditLog, audit))
    record = db.actions.record

    async def record_then_fail(*args: Any, **kwargs: Any) -> Any:
        await record(*args, **kwargs)
        raise RuntimeError("the log broke")

    monkeypatch.setattr(db.actions, "record", record_then_fail)
    with pytest.raises(RuntimeError, match="the log broke"):
        await act(service)
    assert not await changed(db)
    assert await db.actions.latest(1) == []
    assert audit.posted == []

    monkeypatch.undo()  # the same action, the log working: both are kept
    await act(service)
    assert await changed(db)
    assert [a.moderator_id for a in await db.actions.latest(1)] == [9]
    assert audit.posted == [1]
