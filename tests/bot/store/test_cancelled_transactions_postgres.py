"""PostgreSQL: a task cancelled inside a transaction gives its connection back clean.

At shutdown the bot cancels its work. A task cancelled while its BEGIN was in flight, or
cancelled again while rolling back, handed the pool a connection still inside a
transaction: asyncpg reset it with "Resetting connection with an active transaction" in
the log (an ERROR, which failed a three-process test on a busy machine). Narrow tests:
asyncpg's own ``Transaction.start`` and ``rollback`` are held at the moment that matters.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asyncpg.transaction import Transaction

from bot.store import Store

pytestmark = pytest.mark.postgres


def complaints(loop: asyncio.AbstractEventLoop) -> list[str]:
    """Collect what reaches the loop's exception handler (where asyncpg complains)."""
    seen: list[str] = []
    loop.set_exception_handler(lambda _, context: seen.append(str(context.get("message"))))
    return seen


async def test_a_task_cancelled_as_its_begin_ran_leaves_no_transaction_open(
    postgres_url, monkeypatch
):
    seen = complaints(asyncio.get_running_loop())
    began, start = asyncio.Event(), Transaction.start
    hold = {"on": True}

    async def start_then_hang(self: Transaction) -> None:
        await start(self)  # BEGIN ran on the server
        if hold["on"]:
            began.set()
            await asyncio.Event().wait()  # cancelled before the caller hears back

    monkeypatch.setattr(Transaction, "start", start_then_hang)
    async with Store.open(postgres_url) as store:

        async def stuck() -> None:
            async with store.db.transaction():
                raise AssertionError("the body never runs")

        task = asyncio.create_task(stuck())
        await began.wait()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        hold["on"] = False
        for _ in range(4):  # every pooled connection works again
            await store.state.set("after", "fine")
        assert await store.state.get("after") == "fine"
    assert not [m for m in seen if "active transaction" in m], seen


async def test_a_task_cancelled_again_in_its_rollback_leaves_no_transaction_open(
    postgres_url, monkeypatch
):
    seen = complaints(asyncio.get_running_loop())
    rolling, gate, rollback = asyncio.Event(), asyncio.Event(), Transaction.rollback

    async def held_rollback(self: Transaction) -> Any:
        rolling.set()
        await gate.wait()  # the second cancellation lands here
        return await rollback(self)

    monkeypatch.setattr(Transaction, "rollback", held_rollback)
    async with Store.open(postgres_url) as store:
        inside = asyncio.Event()

        async def body() -> None:
            async with store.db.transaction():
                await store.db.execute(
                    "INSERT INTO bot_state (key, value) VALUES ('inside', 'never kept')"
                )
                inside.set()
                await asyncio.Event().wait()

        task = asyncio.create_task(body())
        await inside.wait()
        task.cancel()
        await rolling.wait()
        task.cancel()  # again, half-way through the rollback
        gate.set()
        await asyncio.gather(task, return_exceptions=True)
        for _ in range(4):
            await store.state.set("after", "fine")
        assert await store.state.get("inside") is None
        assert await store.state.get("after") == "fine"
    assert not [m for m in seen if "active transaction" in m], seen
