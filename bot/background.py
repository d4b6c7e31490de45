"""Background: the one owner of the bot's background tasks and of their shutdown grace.

Every service spawns its background work here instead of keeping a task set of its
own: job steps, the poll loop and its polls, model-list refreshes, audit posts, and the
group commits of the store's batched writes. A task spawned with ``grace=True`` (a
create or a delivery in flight) gets the shutdown grace period to finish; one spawned
with ``flush=True`` (a group commit: writes its callers are waiting on) is always let
finish, after the others; the rest (polls, throttled progress edits, audit posts, model
refreshes) are cancelled at once, since everything they do is resumable from the store.
A task that dies with an exception is logged, never lost silently. (Below the services,
the request budget's wake-up timers and the shared budget's answer records are its own:
the bot flushes those after closing this, see :meth:`bot.client.LemonBot.close`.)
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Background:
    """Spawn, track and stop background tasks."""

    def __init__(self) -> None:
        self._tasks: dict[asyncio.Task[Any], bool] = {}  # task -> gets the grace period
        self._flushing: set[asyncio.Task[Any]] = set()  # finish, whatever the grace
        self.closing = False

    def __len__(self) -> int:
        return len(self._tasks) + len(self._flushing)

    def spawn(
        self,
        coro: Coroutine[Any, Any, Any],
        name: str,
        *,
        grace: bool = False,
        flush: bool = False,
    ) -> asyncio.Task[Any]:
        """Run ``coro`` in the background.

        ``grace`` lets it finish within the shutdown grace period; ``flush`` lets it
        finish at any shutdown (keep it short: :meth:`close` waits for it).
        """
        task = asyncio.get_running_loop().create_task(coro, name=name)
        if flush:
            self._flushing.add(task)
        else:
            self._tasks[task] = grace
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.pop(task, None)
        self._flushing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background %s crashed", task.get_name(), exc_info=task.exception())

    async def wait_idle(self, prefix: str = "") -> None:
        """Wait until no task whose name starts with ``prefix`` is left (for tests)."""
        while tasks := [
            t for t in [*self._tasks, *self._flushing] if t.get_name().startswith(prefix)
        ]:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self, grace: float = 0.0) -> None:
        """Cancel what has no grace; give the rest up to ``grace`` seconds, then cancel it.

        Last, wait for the flushed tasks (and those they spawn meanwhile): the writes a
        cancelled task had handed over land, or fail, before the bot lets go of the store.
        """
        self.closing = True
        graced = [t for t, g in self._tasks.items() if g and not t.done()]
        for task in [t for t, g in self._tasks.items() if not g]:
            task.cancel()
        if graced and grace > 0:
            log.info("waiting up to %.0fs for %d jobs in flight", grace, len(graced))
            await asyncio.wait(graced, timeout=grace)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        while self._flushing:
            await asyncio.gather(*self._flushing, return_exceptions=True)
