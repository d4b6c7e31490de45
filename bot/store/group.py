"""GroupCommit: the writes that arrive together share one transaction.

Under a burst (30 members pressing ``/imagine`` at once) one transaction per write has
every caller wait in line for the database, behind all the others' round trips: SQLite
has one connection, and on PostgreSQL the locks serialise as well. A group commit
takes every write waiting when a transaction can start and commits them together; the
writes that arrive meanwhile wait for the next one. A write alone is a batch of one,
with no wait for others.

``commit`` receives the batch in arrival order and returns one outcome per item: a
result, or the exception refusing that item (a refusal refuses only its own item). If
``commit`` raises, the batch rolled back as a whole and each of its items is tried
again alone, so that one bad item cannot fail the others.

The committer runs as a task of the bot's background owner (``spawn``: the jobs pass
:class:`bot.background.Background`'s, with ``flush=True``), which lets it finish at
shutdown: a write handed over is committed, or refused, never dropped half-way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

Item = TypeVar("Item")
Result = TypeVar("Result")
Commit = Callable[[Sequence[Item]], Awaitable[Sequence[Result | BaseException]]]
# Starts the committer in the background, and lets it finish at shutdown.
Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[Any]"]
MAX_BATCH = 200  # items per transaction; more wait for the next one


class GroupCommit(Generic[Item, Result]):
    """Batches of concurrent writes, one transaction each."""

    def __init__(
        self,
        commit: Commit[Item, Result],
        *,
        name: str,
        spawn: Spawn,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._commit = commit
        self._spawn = spawn
        self._name = name
        self._max_batch = max_batch
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._committer: asyncio.Task[None] | None = None
        self.batches = 0  # transactions committed (for benchmarks and tests)

    async def submit(self, item: Item) -> Result:
        """Wait for ``item``'s batch to commit; return its result or raise its refusal.

        A caller cancelled before its batch starts leaves nothing behind; one cancelled
        while it commits does not undo the write (its caller must recover it, as for a
        process that died there).
        """
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._committer is None:
            self._committer = self._spawn(self._commit_all(), self._name)
        return await future

    async def _commit_all(self) -> None:
        """Commit batches until nobody waits."""
        try:
            while self._waiting:
                batch = self._waiting[: self._max_batch]
                del self._waiting[: self._max_batch]
                batch = [(item, f) for item, f in batch if not f.done()]  # not cancelled
                if batch:
                    await self._commit_apart(batch)
        finally:
            self._committer = None

    async def _commit_apart(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        """Commit a batch; if it fails as a whole, each item alone."""
        try:
            outcomes = await self._commit([item for item, _ in batch])
        except Exception as exc:
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            log.warning("%s: a batch of %d failed (%r); each alone", self._name, len(batch), exc)
            for entry in batch:
                await self._commit_apart([entry])
            return
        self.batches += 1
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            _settle(future, outcome)


def _settle(future: asyncio.Future[Result], outcome: Result | BaseException) -> None:
    """Hand an item its outcome, unless its caller has gone."""
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
