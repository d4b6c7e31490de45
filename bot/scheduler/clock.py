"""Clocks for the scheduler: the event loop's own time, and a simulated one.

Everything in :mod:`bot.scheduler` reads time through a :class:`Clock`, so the same
code runs on the real event loop and on a :class:`VirtualClock`, whose loop jumps
straight to the next timer whenever every coroutine is waiting: an hour of traffic
is simulated in a fraction of a second, deterministically.

Tests elsewhere move time with time-machine; the scheduler cannot use it, because
time-machine moves the wall clock (``time.time``, ``datetime``) but not
``time.monotonic`` nor the event loop's clock, which are what the scheduler waits on.
"""

from __future__ import annotations

import asyncio
import contextlib
import selectors
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class Clock(Protocol):
    """A monotonic time source that can wait."""

    def now(self) -> float:
        """Return the current time in seconds (monotonic, arbitrary origin)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class LoopClock:
    """The running event loop's clock (``loop.time()``, ``asyncio.sleep``)."""

    def now(self) -> float:
        """Return the running loop's time."""
        return asyncio.get_running_loop().time()

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` on the running loop."""
        await asyncio.sleep(max(0.0, seconds))


class VirtualClock:
    """Simulated time: coroutines run on a private loop whose time jumps when it is idle.

    ``run(main())`` runs ``main`` on a selector loop whose ``time()`` is this clock and
    whose selector, instead of blocking for ``timeout`` seconds, adds ``timeout`` to the
    clock. Every asyncio timer (``asyncio.sleep``, ``wait_for``, ``asyncio.timeout``)
    therefore runs in simulated time too. When nothing is ready and no timer is set,
    nothing can ever happen again: that deadlock raises ``RuntimeError`` instead of
    hanging. Outside ``run``, :meth:`advance` moves the time by hand.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._loop: asyncio.AbstractEventLoop | None = None

    def now(self) -> float:
        """Return the simulated time."""
        return self._now

    def advance(self, seconds: float) -> None:
        """Move the time forward by hand (only while no simulation runs)."""
        if self._loop is not None:
            raise RuntimeError("the simulated loop owns the time while it runs")
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of simulated time (only on this clock's own loop)."""
        if self._loop is None or asyncio.get_running_loop() is not self._loop:
            raise RuntimeError("VirtualClock.sleep must run inside VirtualClock.run()")
        await asyncio.sleep(max(0.0, seconds))

    def run(self, main: Coroutine[Any, Any, T]) -> T:
        """Run ``main`` to completion in simulated time and return its result."""
        if self._loop is not None:
            main.close()
            raise RuntimeError("this VirtualClock is already running a simulation")
        loop = _VirtualLoop(self)
        self._loop = loop
        try:
            return loop.run_until_complete(main)
        finally:
            try:
                _cancel_all(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                self._loop = None
                loop.close()

    def _advance_idle(self, seconds: float) -> None:
        self._now += seconds


class _IdleJumpSelector(selectors.DefaultSelector):
    """A selector that never blocks: waiting ``timeout`` moves the virtual clock."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        if timeout is None:
            raise RuntimeError("simulation deadlock: every coroutine waits and no timer is set")
        if timeout > 0:
            self._clock._advance_idle(timeout)
        return super().select(0)


class _VirtualLoop(asyncio.SelectorEventLoop):
    """A selector loop whose time is a VirtualClock."""

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__(_IdleJumpSelector(clock))
        self._virtual_clock = clock

    def time(self) -> float:
        return self._virtual_clock.now()


def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))


async def sleep_or_wake(clock: Clock, seconds: float, wake: asyncio.Event) -> bool:
    """Wait until ``seconds`` have passed or ``wake`` is set; return True if woken."""
    if wake.is_set():
        return True
    if seconds <= 0:
        return False
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    waiter = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait((sleeper, waiter), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for future in (sleeper, waiter):
            if not future.done():
                future.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await future
    return wake.is_set()


def clock_time(clock: Clock, wall_time: float, wall: Callable[[], float] = time.time) -> float:
    """Convert a wall-clock timestamp (say a ledger column) into ``clock`` time."""
    return clock.now() - (wall() - wall_time)
