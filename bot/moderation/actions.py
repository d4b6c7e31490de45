"""ModeratorActions: a moderator's change, its entry in the moderator log, its audit post.

Every moderator write of :class:`~bot.moderation.service.ModerationService` goes
through :meth:`ModeratorActions.act`: the change and its log entry are one transaction,
then the action is posted to the server's audit channel. What an action did is a
:class:`~bot.i18n.Text`, read by the moderator in their language and by the audit
channel in the server's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.i18n import Text
from bot.moderation.audit import AuditLog
from bot.store import Store
from bot.ui.moderation import action_audit_embed

log = logging.getLogger(__name__)

T = TypeVar("T")


class ModeratorActions:
    """Record and announce moderator actions."""

    def __init__(self, store: Store, audit: AuditLog) -> None:
        self._store = store
        self.audit = audit

    async def act(
        self,
        guild_id: int,
        moderator_id: int,
        action: str,
        text: Text | Callable[[T], Text],
        change: Callable[[], Awaitable[T]],
        *,
        target: str | Callable[[T], str] | None = None,
        detail: str | None = None,
        thumbnail: str | None = None,
        post: bool = True,
        via: str | None = None,
    ) -> T:
        """Make ``change`` and record it in the moderator log, in one transaction.

        If ``change`` raises (say InvalidRequest: nothing to undo), nothing is recorded.
        Then, unless ``post`` is False, the action is posted to the audit channel.
        ``text`` and ``target`` may be derived from what ``change`` returned. ``via``
        says where the moderator acted: None for Discord, "web" for the dashboard.
        """
        async with self._store.transaction():
            result = await change()
            if callable(target):
                target = target(result)
            await self._store.actions.record(
                guild_id, moderator_id, action, target, detail, via=via
            )
        log.info(
            "guild %s: moderator %s: %s %s%s",
            guild_id,
            moderator_id,
            action,
            target or "",
            f" (via {via})" if via else "",
        )
        if post:
            said = text(result) if callable(text) else text
            self.audit.post_soon(
                guild_id,
                lambda lang: action_audit_embed(
                    moderator_id, said, lang, thumbnail=thumbnail, via=via
                ),
            )
        return result
