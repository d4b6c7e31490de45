"""LemonBot's composition: what close leaves behind."""

from __future__ import annotations

import asyncio


def catalog_tasks() -> list[asyncio.Task[object]]:
    return [
        task
        for task in asyncio.all_tasks()
        if task.get_name() == "catalog-refresh" and not task.done()
    ]


async def test_close_leaves_no_catalog_refresh_running(running_bot, lemondata):
    """A model-list refresh hanging on the gateway is cancelled by close, like every task."""
    lemondata.models_gate = asyncio.Event()  # the gateway stops answering the list
    try:
        async with running_bot() as env:
            await lemondata.wait_for(lambda: lemondata.models_gated >= 1)
            assert catalog_tasks(), "the first model-list fetch is in flight"
            await env.bot.close()
            assert catalog_tasks() == []
            assert len(env.bot.background) == 0
    finally:
        lemondata.models_gate.set()
