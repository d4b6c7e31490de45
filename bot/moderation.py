"""Moderation: blocked users and the per-server prompt blocklist.

:meth:`Moderation.check_request` runs in ``JobService.accept`` before any quota is
reserved or any request is sent. A blocked prompt is refused saying that a server
rule blocked it, without revealing the rule.

Blocklist entries are words (matched case-insensitively as whole words) or regular
expressions (``re.search``, case-insensitive). Regular expressions are compiled when
added, so a broken one is refused then, and are limited in length.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from bot.db import Database, PromptRule
from bot.errors import InvalidRequest, NotAllowed

log = logging.getLogger(__name__)

MAX_PATTERN_LENGTH = 200
BLOCKED_PROMPT_TEXT = "Your prompt was blocked by a rule of this server."


class PromptBlocked(NotAllowed):
    """The prompt matched the server's blocklist; the message does not reveal the rule."""

    def __init__(self, rule: PromptRule) -> None:
        super().__init__(BLOCKED_PROMPT_TEXT)
        self.rule = rule


def compile_rule(pattern: str, is_regex: bool) -> re.Pattern[str]:
    """Compile a blocklist entry; raise InvalidRequest when it is not usable."""
    pattern = pattern.strip()
    if not pattern:
        raise InvalidRequest("The pattern is empty.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidRequest(f"Patterns are limited to {MAX_PATTERN_LENGTH} characters.")
    if not is_regex:
        return re.compile(rf"(?<!\w){re.escape(pattern)}(?!\w)", re.IGNORECASE)
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise InvalidRequest(f"That regular expression does not compile: {exc}.") from None


def first_match(rules: Sequence[PromptRule], prompt: str) -> PromptRule | None:
    """Return the first rule that matches ``prompt``, or None."""
    for rule in rules:
        if compile_rule(rule.pattern, rule.is_regex).search(prompt):
            return rule
    return None


class Moderation:
    """Server rules applied to requests before they cost anything."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def check_request(self, guild_id: int, user_id: int, prompt: str) -> None:
        """Raise NotAllowed if the user is blocked or the prompt hits the blocklist."""
        block = await self._db.blocked_user(guild_id, user_id)
        if block is not None:
            raise NotAllowed("You're blocked from generating images on this server.")
        rule = first_match(await self._db.prompt_rules(guild_id), prompt)
        if rule is not None:
            log.info("guild %s: prompt of user %s blocked by rule %s", guild_id, user_id, rule.id)
            raise PromptBlocked(rule)
