"""Matching a server's blocklist off the event loop, one prompt per server at a time.

RE2 releases the GIL while it searches, so a search in a thread leaves the event loop
free: other servers' interactions are answered while it runs. Three bounds keep one
server from slowing the rest:

- **A small pool.** Matches (and compiling a server's entries) run in
  :data:`MATCH_THREADS` threads shared by every server, never on the event loop.
- **One match per server at a time.** A server's next prompt waits for its previous
  match to end, so one server holds at most one of the threads, whatever its members
  send.
- **A time limit that fails safe.** A check that has not answered within
  :data:`MATCH_TIMEOUT_SECONDS` (waiting for the server's previous match included) is
  given up: the prompt is refused (:class:`MatchTimedOut`), the server and the entry
  it was on are logged (never the prompt), and the thread stops before the next entry
  (a search RE2 has begun cannot be interrupted; the limit per entry bounds it).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bot.errors import NotAllowed
from bot.moderation.blocklist import Progress, rule_set
from bot.store import PromptRule

log = logging.getLogger(__name__)
T = TypeVar("T")

MATCH_THREADS = 4
# Well under Discord's 3 s for the first answer (a prompt without images is checked
# before it), and 2.5-4 times what the most expensive rule set allowed took on a
# crafted prompt (bench/README.md).
MATCH_TIMEOUT_SECONDS = 1.0

_POOL = ThreadPoolExecutor(MATCH_THREADS, thread_name_prefix="blocklist")


class MatchTimedOut(NotAllowed):
    """A blocklist check ran out of time: the prompt is refused, saying so.

    ``stage`` is where it was: ``waiting`` for the server's previous match, ``starting``
    (waiting for a thread, compiling), in the ``words``, or on the ``regex`` ``rule``.
    """

    def __init__(self, stage: str, rule: PromptRule | None = None) -> None:
        super().__init__("refusal.blocklist_timeout")
        self.stage = stage
        self.rule = rule


def _match(
    rules: tuple[PromptRule, ...], fold_accents: bool, prompt: str, progress: Progress
) -> PromptRule | None:
    return rule_set(rules, fold_accents).first_match(prompt, progress)


class RuleMatcher:
    """Runs blocklist matches in the pool, one per server at a time, under a time limit."""

    def __init__(self, timeout: float = MATCH_TIMEOUT_SECONDS) -> None:
        self.timeout = timeout
        self._running: dict[int, asyncio.Future[Any]] = {}

    def running(self, guild_id: int) -> bool:
        """Whether a match of this server is running in the pool now."""
        return guild_id in self._running

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in the pool (compiling entries: too slow for the event loop)."""
        return await asyncio.get_running_loop().run_in_executor(_POOL, fn, *args)

    async def first_match(
        self, guild_id: int, rules: Sequence[PromptRule], fold_accents: bool, prompt: str
    ) -> PromptRule | None:
        """Return an entry of ``rules`` that matches ``prompt``, or None.

        Raises :class:`MatchTimedOut` past the time limit, and what the match raises
        (:class:`~bot.moderation.blocklist.PromptTooLong`).
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while (previous := self._running.get(guild_id)) is not None:
            await asyncio.wait([previous], timeout=max(0.0, deadline - loop.time()))
            if not previous.done():
                raise self._timed_out(guild_id, MatchTimedOut("waiting"))
        progress = Progress()
        future = loop.run_in_executor(_POOL, _match, tuple(rules), fold_accents, prompt, progress)
        self._running[guild_id] = future
        future.add_done_callback(functools.partial(self._finished, guild_id))
        try:
            await asyncio.wait([future], timeout=max(0.0, deadline - loop.time()))
        finally:
            if not future.done():
                progress.stop.set()  # the thread stops before the next entry
        if not future.done():
            raise self._timed_out(guild_id, MatchTimedOut(progress.stage, progress.rule))
        found: PromptRule | None = future.result()
        return found

    def _timed_out(self, guild_id: int, error: MatchTimedOut) -> MatchTimedOut:
        """Log which server's check gave up, and where (never the prompt); return ``error``."""
        if error.rule is not None:
            log.warning(
                "guild %s: blocklist check gave up after %g s at entry %s; the prompt was refused",
                guild_id,
                self.timeout,
                error.rule.id,
            )
        else:
            log.warning(
                "guild %s: blocklist check gave up after %g s (%s); the prompt was refused",
                guild_id,
                self.timeout,
                error.stage,
            )
        return error

    def _finished(self, guild_id: int, future: asyncio.Future[Any]) -> None:
        if self._running.get(guild_id) is future:
            del self._running[guild_id]
        if not future.cancelled():
            future.exception()  # retrieved: a match given up may still have raised
