"""BudgetStore: the API key's request log shared by every process, on both engines.

(The first two tests replace the fixed-window tests that lived in test_leases.py: the
window is now a sliding log counted until each request's answer.)
"""

from __future__ import annotations

import asyncio
import time

from bot.store.budget import Announcement

CONFIGURED = Announcement(limit=7, window=60.0)


async def test_places_are_exact_under_concurrent_takers(db):
    """Many takers at once get exactly the limit of places; the rest are told to wait."""
    now = time.time()
    places = await asyncio.gather(
        *(db.budget.take("k", announced=CONFIGURED, now=now, lost_after=30) for _ in range(20))
    )
    granted = [p for p in places if p.entry is not None]
    assert len(granted) == 7
    assert len({p.entry for p in granted}) == 7
    assert all(p.wait > 0 for p in places if p.entry is None)
    await db.budget.pause("k", now + 100)
    later = await db.budget.take("k", announced=CONFIGURED, now=now + 200, lost_after=30)
    assert later.entry is not None  # every place was lost (never answered) by then
    paused = await db.budget.take("k", announced=CONFIGURED, now=now + 50, lost_after=30)
    assert paused.entry is None and paused.wait > 45


async def test_a_place_counts_until_a_window_after_its_answer(db):
    """A slow answer keeps its place counted: latency cannot squeeze two windows into one."""
    pair = Announcement(limit=2, window=2.0, at=1.0)
    now = time.time()
    first = await db.budget.take("k", announced=pair, now=now, lost_after=30)
    second = await db.budget.take("k", announced=pair, now=now, lost_after=30)
    assert first.entry and second.entry
    # Ten seconds later, neither answered yet: still counted (it may still be arriving).
    assert (await db.budget.take("k", announced=pair, now=now + 10, lost_after=30)).entry is None
    await db.budget.answered("k", first.entry, at=now + 10)
    await db.budget.answered("k", second.entry, at=now + 10)
    waiting = await db.budget.take("k", announced=pair, now=now + 11, lost_after=30)
    assert waiting.entry is None and 0.9 < waiting.wait <= 1.0
    assert (await db.budget.take("k", announced=pair, now=now + 12.01, lost_after=30)).entry


async def test_the_newest_announced_pair_wins_and_a_stale_one_never_returns(db):
    """60 per 60 s, then 6 per 5 s: a process still holding the old pair reads the new one."""
    now = time.time()
    old = Announcement(limit=60, window=60.0, at=now - 100)
    new = Announcement(limit=6, window=5.0, at=now - 10)
    assert (await db.budget.take("k", announced=old, now=now, lost_after=30)).announced == old
    taken = await db.budget.take("k", announced=new, now=now, lost_after=30)
    assert taken.announced == new
    # A restarted process knows only the configured pair; a stale one its old pair.
    for stale in (CONFIGURED, old):
        place = await db.budget.take("k", announced=stale, now=now, lost_after=30)
        assert place.announced == new
    # Four places were taken (one per take above); at 6 per 5 s two more go, then a wait.
    for _ in range(2):
        assert (await db.budget.take("k", announced=old, now=now, lost_after=30)).entry
    assert (await db.budget.take("k", announced=old, now=now, lost_after=30)).entry is None


async def test_a_limit_seen_without_its_window_is_shared_until_a_pair_is_known(db):
    """The limit alone replaces the configured one, but never an announced pair."""
    now = time.time()
    place = await db.budget.take("k", announced=CONFIGURED, now=now, lost_after=30, limit_only=3)
    assert place.announced.limit == 3
    pair = Announcement(limit=10, window=2.0, at=now)
    await db.budget.take("k", announced=pair, now=now, lost_after=30)
    place = await db.budget.take("k", announced=CONFIGURED, now=now, lost_after=30, limit_only=3)
    assert place.announced == pair


async def test_the_gateways_remaining_bounds_what_goes_before_its_reset(db):
    """Remaining 1 until the reset: one more place, then a wait until that reset."""
    pair = Announcement(limit=100, window=60.0, at=1.0)
    now = time.time()
    first = await db.budget.take("k", announced=pair, now=now, lost_after=30)
    assert first.entry is not None
    await db.budget.answered("k", first.entry, at=now + 0.1, remaining=1, reset=now + 20)
    assert (await db.budget.take("k", announced=pair, now=now + 0.2, lost_after=30)).entry
    waiting = await db.budget.take("k", announced=pair, now=now + 0.3, lost_after=30)
    assert waiting.entry is None and 19 < waiting.wait < 19.8
    # A late answer of the same window with a higher Remaining does not raise it.
    await db.budget.answered("k", first.entry, at=now + 0.4, remaining=50, reset=now + 20)
    assert (await db.budget.take("k", announced=pair, now=now + 0.5, lost_after=30)).entry is None
    # After the reset one place opens the next window; the others wait for its answer.
    opener = await db.budget.take("k", announced=pair, now=now + 20.1, lost_after=30)
    assert opener.entry is not None
    held = await db.budget.take("k", announced=pair, now=now + 20.2, lost_after=30)
    assert held.entry is None and 0 < held.wait <= 0.02
    # Its answer tells the new window's figures, which replace the old ones.
    await db.budget.answered("k", opener.entry, at=now + 21, remaining=98, reset=now + 80)
    assert (await db.budget.take("k", announced=pair, now=now + 21.1, lost_after=30)).entry
