"""VirtualClock: simulated time that jumps when every coroutine waits."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.scheduler import LoopClock, VirtualClock, sleep_or_wake


def test_an_hour_of_sleeping_takes_no_real_time():
    """Sleeping a simulated hour returns at once, with the clock an hour later."""
    clock = VirtualClock()
    began = time.perf_counter()
    clock.run(clock.sleep(3600))
    assert clock.now() == pytest.approx(3600)
    assert time.perf_counter() - began < 1


def test_concurrent_sleepers_wake_in_order_at_their_times():
    """Coroutines sleeping concurrently wake at their own simulated times, in order."""
    clock = VirtualClock(start=100.0)
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, seconds: float) -> None:
        await clock.sleep(seconds)
        woke.append((name, clock.now()))

    async def main() -> None:
        await asyncio.gather(sleeper("c", 30), sleeper("a", 10), sleeper("b", 20))

    clock.run(main())
    assert woke == [("a", 110.0), ("b", 120.0), ("c", 130.0)]


def test_loop_clock_and_asyncio_timers_follow_the_simulation():
    """LoopClock and asyncio.wait_for run on simulated time inside VirtualClock.run."""
    clock = VirtualClock()

    async def main() -> float:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.Event().wait(), timeout=45)
        return LoopClock().now()

    assert clock.run(main()) == pytest.approx(45)


def test_a_deadlock_raises_instead_of_hanging():
    """When every coroutine waits and no timer is set, run() raises."""
    with pytest.raises(RuntimeError, match="deadlock"):
        VirtualClock().run(asyncio.Event().wait())


def test_sleep_outside_its_own_loop_is_refused():
    """VirtualClock.sleep on another loop would sleep in real time: it raises instead."""
    clock = VirtualClock()
    with pytest.raises(RuntimeError):
        asyncio.run(clock.sleep(1))


def test_sleep_or_wake_returns_early_when_woken():
    """sleep_or_wake returns True as soon as the event is set, False on timeout."""
    clock = VirtualClock()

    async def main() -> tuple[bool, float, bool, float]:
        event = asyncio.Event()
        asyncio.get_running_loop().call_later(5, event.set)
        woken = await sleep_or_wake(clock, 60, event)
        at = clock.now()
        timed_out = await sleep_or_wake(clock, 10, asyncio.Event())
        return woken, at, timed_out, clock.now()

    assert clock.run(main()) == (True, 5.0, False, 15.0)


def test_advance_moves_the_time_by_hand():
    """Outside run(), advance() moves the simulated time."""
    clock = VirtualClock()
    clock.advance(12.5)
    assert clock.now() == 12.5
