"""Database outages: waiting them out in the background, refusing requests meanwhile.

When the database goes away (PostgreSQL crashed or restarts; a SQLite file locked by
another program), an engine runs each statement, and begins each transaction, through
:meth:`Outage.run`: the attempt is repeated, with back-off, until the database answers
or the caller's patience runs out. A job in flight therefore waits for the database
instead of failing, and carries on where it was once it is back. The patience is
:data:`BACKGROUND_PATIENCE_SECONDS` by default; a member's request runs under
:func:`impatient`, which tries once and raises :class:`DatabaseUnavailable` at once, so
the member is told within Discord's three seconds (nothing reserved, nothing sent).

A transaction that loses its connection half-way cannot be repeated by the engine (the
body has run): it raises :class:`DatabaseUnavailable` like any storage failure.

One warning is logged when an outage starts, and one line when the database answers
again, however many requests met it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from bot.errors import StorageError

log = logging.getLogger(__name__)

T = TypeVar("T")

# How long background work (jobs, leases, polls) waits for the database to come back.
BACKGROUND_PATIENCE_SECONDS = 300.0
FIRST_RETRY_SECONDS = 0.1
MAX_RETRY_SECONDS = 2.0
# An impatient caller is refused without trying while an outage is this fresh.
RECENT_FAILURE_SECONDS = 5.0
_patience: ContextVar[float] = ContextVar("database_patience", default=BACKGROUND_PATIENCE_SECONDS)


class DatabaseUnavailable(StorageError):
    """The database could not be reached within the caller's patience."""


@contextmanager
def impatient() -> Iterator[None]:
    """Try the database once in the body (and in tasks it starts): an outage raises at once."""
    reset = _patience.set(0.0)
    try:
        yield
    finally:
        _patience.reset(reset)


class Outage:
    """Whether the database answers, and the retries that wait for it when it does not."""

    def __init__(self, engine: str, is_outage: Callable[[BaseException], bool]) -> None:
        self._engine = engine
        self._is_outage = is_outage
        self.since: float | None = None  # monotonic start of the current outage
        self._failed_at = 0.0  # monotonic time of the latest failed attempt
        self.outages = 0  # outages seen so far (for tests)

    def is_outage(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the database is unreachable (not that it refused a statement)."""
        return self._is_outage(exc)

    def down(self, exc: BaseException) -> None:
        """Note a failed attempt; the first of an outage is logged."""
        self._failed_at = time.monotonic()
        if self.since is None:
            self.since = time.monotonic()
            self.outages += 1
            log.warning(
                "database unreachable (%s: %s); jobs wait for it, new requests are refused",
                self._engine,
                type(exc).__name__,
            )

    def up(self) -> None:
        """Note an answer; the first after an outage is logged."""
        if self.since is not None:
            log.warning(
                "database reachable again after %.1fs (%s)",
                time.monotonic() - self.since,
                self._engine,
            )
            self.since = None

    def lost(self, exc: BaseException) -> BaseException:
        """Return what to raise for ``exc`` raised inside a transaction body."""
        if not self._is_outage(exc):
            return exc
        self.down(exc)
        return DatabaseUnavailable(f"the database connection was lost: {type(exc).__name__}")

    async def run(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Return ``attempt()``, repeated while the database is unreachable, within patience."""
        patience = _patience.get()
        deadline = time.monotonic() + patience
        recent = time.monotonic() - self._failed_at < RECENT_FAILURE_SECONDS
        if not patience and self.since is not None and recent:
            raise DatabaseUnavailable("the database is unreachable")
        delay = FIRST_RETRY_SECONDS
        while True:
            try:
                result = await attempt()
            except Exception as exc:
                if not self._is_outage(exc):
                    raise
                self.down(exc)
                if time.monotonic() + delay > deadline:
                    raise DatabaseUnavailable(
                        f"the database is unreachable: {type(exc).__name__}"
                    ) from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_RETRY_SECONDS)
                continue
            self.up()
            return result
