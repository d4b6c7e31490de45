"""GroupCommit: concurrent writes share transactions; one item's failure stays its own."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from bot.store.group import GroupCommit


class Recorder:
    """A commit that records its batches; items named 'refuse' or 'boom' misbehave."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def commit(self, items: Sequence[str]) -> list[str | BaseException]:
        self.batches.append(list(items))
        if "boom" in items:
            raise RuntimeError("the transaction failed")
        return [ValueError(i) if i == "refuse" else i.upper() for i in items]


async def test_items_waiting_together_share_a_batch_in_arrival_order():
    recorder = Recorder()
    group = GroupCommit(recorder.commit, name="test")
    results = await asyncio.gather(*(group.submit(f"w{i}") for i in range(50)))
    assert results == [f"W{i}" for i in range(50)]
    assert recorder.batches == [[f"w{i}" for i in range(50)]]  # one transaction
    assert group.batches == 1
    await group.submit("later")  # alone: no wait for others
    assert recorder.batches[-1] == ["later"]


async def test_a_batch_never_exceeds_its_size():
    recorder = Recorder()
    group = GroupCommit(recorder.commit, name="test", max_batch=10)
    await asyncio.gather(*(group.submit(f"w{i}") for i in range(35)))
    assert max(len(b) for b in recorder.batches) == 10


async def test_a_refusal_refuses_only_its_item():
    recorder = Recorder()
    group = GroupCommit(recorder.commit, name="test")
    results = await asyncio.gather(
        *(group.submit(i) for i in ["a", "refuse", "b"]), return_exceptions=True
    )
    assert results[0] == "A" and results[2] == "B" and isinstance(results[1], ValueError)


async def test_a_failed_batch_is_retried_item_by_item():
    recorder = Recorder()
    group = GroupCommit(recorder.commit, name="test")
    results = await asyncio.gather(
        *(group.submit(i) for i in ["a", "boom", "b"]), return_exceptions=True
    )
    assert results[0] == "A" and results[2] == "B"
    assert isinstance(results[1], RuntimeError)
    assert recorder.batches == [["a", "boom", "b"], ["a"], ["boom"], ["b"]]


async def test_a_caller_gone_before_its_batch_is_left_out():
    recorder = Recorder()
    group = GroupCommit(recorder.commit, name="test")
    kept = asyncio.create_task(group.submit("kept"))
    gone = asyncio.create_task(group.submit("gone"))
    await asyncio.sleep(0)  # both are waiting; the committer has not run yet
    gone.cancel()
    assert await kept == "KEPT"
    with pytest.raises(asyncio.CancelledError):
        await gone
    assert recorder.batches == [["kept"]]
