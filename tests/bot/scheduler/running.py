"""A poll loop running as the bot runs it: on a Background, which close() stops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.background import Background
from bot.scheduler import PollLoop, PollPlanner
from bot.scheduler.loop import PollBudget, PollFn


@asynccontextmanager
async def poll_loop(
    planner: PollPlanner, budget: PollBudget, poll: PollFn, **options: Any
) -> AsyncIterator[asyncio.Task[Any]]:
    """Run a PollLoop (its polls spawned on a Background) in the body; yield its task.

    On exit the Background is closed: the loop and any poll in flight are cancelled.
    """
    background = Background()
    loop = PollLoop(planner, budget, poll, spawn=background.spawn, **options)
    try:
        yield background.spawn(loop.run(), "poller")
    finally:
        await background.close()
