"""The process entry point's helpers that need no gateway."""

from __future__ import annotations

import asyncio
import gc
from typing import Any, cast

from bot.__main__ import freeze_when_ready


class _Readiness:
    def __init__(self) -> None:
        self.ready = asyncio.Event()

    async def wait_until_ready(self) -> None:
        await self.ready.wait()


async def test_objects_are_frozen_out_of_full_collections_once_ready() -> None:
    gc.unfreeze()
    bot = _Readiness()
    task = asyncio.create_task(freeze_when_ready(cast(Any, bot)))
    try:
        await asyncio.sleep(0)
        assert gc.get_freeze_count() == 0, "froze before the bot was ready"
        bot.ready.set()
        await task
        assert gc.get_freeze_count() > 0
    finally:
        task.cancel()
        gc.unfreeze()
