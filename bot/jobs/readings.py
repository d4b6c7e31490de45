"""One member's reference readings, one at a time.

A request's reference images (its attachments, a Remix's message images, an Edit's
result image) are read within one READ_SECONDS (:mod:`bot.jobs.references`). A member's
second request arriving meanwhile waits for the first one's images, as a member who
presses two Remixes in a row expects both to be made; a third, while both are pending,
is refused privately, so that no member can queue up readings that outlive their
interactions or take every reference slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.errors import InvalidRequest

# One member's readings at once: one running and one waiting its turn.
MAX_PENDING_READINGS = 2


@dataclass
class _Member:
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    pending: int = 0  # readings running or waiting


class Readings:
    """At most one reading of reference images per member at a time.

    A member's second request waits until the first one's images are read (within
    READ_SECONDS); a third, while both are pending, is refused privately.
    """

    def __init__(self) -> None:
        self._members: dict[int, _Member] = {}

    def check(self, member_id: int) -> None:
        """Raise InvalidRequest when the member has as many readings pending as allowed."""
        if self.pending(member_id) >= MAX_PENDING_READINGS:
            raise InvalidRequest("refusal.references_busy")

    @asynccontextmanager
    async def turn(self, member_id: int) -> AsyncIterator[None]:
        """Hold the member's turn to read images; raise InvalidRequest when too many wait."""
        self.check(member_id)
        member = self._members.setdefault(member_id, _Member())
        member.pending += 1
        try:
            async with member.turn:
                yield
        finally:
            member.pending -= 1
            if not member.pending:
                del self._members[member_id]

    def pending(self, member_id: int) -> int:
        """How many of the member's readings are running or waiting."""
        member = self._members.get(member_id)
        return member.pending if member else 0
