"""A transaction whose task is cancelled while its BEGIN is in flight leaves none open.

aiosqlite runs each statement in its own thread: a task cancelled while awaiting the
``BEGIN IMMEDIATE`` stops waiting, but the statement still runs. Seen at shutdown (the
bot cancels its work): the next transaction then failed with "cannot start a
transaction within a transaction".
"""

from __future__ import annotations

import asyncio

from bot.store import Store


async def test_a_cancelled_begin_leaves_no_transaction_open(tmp_path):
    async with Store.open(tmp_path / "bot.db") as store:
        db = store.db
        held = asyncio.Event()
        begin = db._begin

        async def begin_then_hang() -> None:
            await begin()  # the BEGIN ran on the connection
            held.set()
            await asyncio.Event().wait()  # the caller is cancelled before it hears back

        db._begin = begin_then_hang  # type: ignore[method-assign]

        async def stuck() -> None:
            async with db.transaction():
                raise AssertionError("the body never runs")

        task = asyncio.create_task(stuck())
        await held.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        db._begin = begin  # type: ignore[method-assign]
        await store.state.set("after", "fine")  # a transaction of its own
        assert await store.state.get("after") == "fine"
