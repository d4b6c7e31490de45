"""Moderation: server rules, moderator actions, the job log, export and retention.

Server rules are checked before a request costs anything; every moderator action is
recorded with its change and posted to the audit channel.

:mod:`~bot.moderation.service` is the one entry point for cogs;
:mod:`~bot.moderation.actions` records each moderator action and posts it;
:mod:`~bot.moderation.blocklist` compiles the blocklist within its limits and normalises
prompts; :mod:`~bot.moderation.matching` matches them off the event loop, under a time
limit;
:mod:`~bot.moderation.members` says who a member is in a server (roles, server-wide
permissions; fetched from Discord for a press outside the server);
:mod:`~bot.moderation.audit` posts to the audit channel;
:mod:`~bot.moderation.export` writes the CSV;
:mod:`~bot.moderation.config` turns the settings a moderator picks (``/imagemod config``,
``quota``, or the dashboard's Settings page) into changes and what they say.
"""

from __future__ import annotations

from bot.moderation.audit import AuditLog
from bot.moderation.members import Members, NotMember, ServerMember, is_moderator
from bot.moderation.service import ModerationService, PromptBlocked

__all__ = [
    "AuditLog",
    "Members",
    "ModerationService",
    "NotMember",
    "PromptBlocked",
    "ServerMember",
    "is_moderator",
]
