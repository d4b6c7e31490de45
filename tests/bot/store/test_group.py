"""GroupCommit: concurrent writes share transactions; one item's failure stays its own."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence

import pytest

from bot.background import Background
from bot.store.group import GroupCommit, Spawn


def flushed(background: Background) -> Spawn:
    """Spawn committers as the jobs do: on the background owner, finished at close."""
    return functools.partial(background.spawn, flush=True)


class Recorder:
    """A commit that records its batches; items named 'refuse' or 'boom' misbehave."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def commit(self, items: Sequence[str]) -> list[str | BaseException]:
        self.batches.append(list(items))
        if "boom" in items:
            raise RuntimeError("the transaction failed")
        return [ValueError(i) if i == "refuse" else i.upper() for i in items]


async def test_items_waiting_together_share_a_batch_in_arrival_order(background):
    recorder = Recorder()
    group = GroupCommit(recorder.commit, name="test", spawn=flushed(background))
    results = await asyncio.gather(*(group.submit(f"w{i}") for i in range(50)))
    assert results == [f"W{i}" for i in range(50)]
    assert recorder.batches == [[f"w{i}" for i in range(50)]]  # one transaction
    assert group.batches == 1
    await group.submit("later")  # alone: no wait for others
    assert recorder.batches[-1] == ["later"]


async def test_a_batch_never_exceeds_its_size(background):
    recorder = Recorder()
    group = GroupCommit(recorder.commit, name="test", spawn=flushed(background), max_batch=10)
    await asyncio.gather(*(group.submit(f"w{i}") for i in range(35)))
    assert max(len(b) for b in recorder.batches) == 10


async def test_a_refusal_refuses_only_its_item(background):
    recorder = Recorder()
    group = GroupCommit(recorder.commit, name="test", spawn=flushed(background))
    results = await asyncio.gather(
        *(group.submit(i) for i in ["a", "refuse", "b"]), return_exceptions=True
    )
    assert results[0] == "A" and results[2] == "B" and isinstance(results[1], ValueError)


async def test_a_failed_batch_is_retried_item_by_item(background):
    recorder = Recorder()
    group = GroupCommit(recorder.commit, name="test", spawn=flushed(background))
    results = await asyncio.gather(
        *(group.submit(i) for i in ["a", "boom", "b"]), return_exceptions=True
    )
    assert results[0] == "A" and results[2] == "B"
    assert isinstance(results[1], RuntimeError)
    assert recorder.batches == [["a", "boom", "b"], ["a"], ["boom"], ["b"]]


async def test_a_caller_gone_before_its_batch_is_left_out(background):
    recorder = Recorder()
    group = GroupCommit(recorder.commit, name="test", spawn=flushed(background))
    kept = asyncio.create_task(group.submit("kept"))
    gone = asyncio.create_task(group.submit("gone"))
    await asyncio.sleep(0)  # both are waiting; the committer has not run yet
    gone.cancel()
    assert await kept == "KEPT"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert recorder.batches == [["kept"]]


async def test_a_shutdown_lets_the_committer_finish_its_writes():
    """Background.close waits for a batch being committed and for the one waiting behind it."""
    background = Background()
    entered, release = asyncio.Event(), asyncio.Event()
    committed: list[str] = []

    async def commit(items: Sequence[str]) -> list[str | BaseException]:
        entered.set()
        await release.wait()
        committed.extend(items)
        return [i.upper() for i in items]

    group = GroupCommit(commit, name="test", spawn=flushed(background))
    async with asyncio.timeout(10):
        first = asyncio.create_task(group.submit("a"))
        await entered.wait()  # the committer is inside its transaction
        second = asyncio.create_task(group.submit("b"))
        await asyncio.sleep(0)  # one turn: "b" waits for the next batch
        closing = asyncio.create_task(background.close())
        await asyncio.sleep(0)  # one turn: close has cancelled what it cancels
        release.set()
        await closing
        assert committed == ["a", "b"]
        assert (await first, await second) == ("A", "B")
        assert len(background) == 0
