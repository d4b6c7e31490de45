"""SlidingLog: the requests counted in the last window, for a gateway that says nothing."""

from __future__ import annotations

import bisect
import contextlib

# A request reaches the gateway's counter at most this long after it is sent: it counts
# from then, or from its answer if that came sooner, so that latency cannot carry two
# windows' worth of requests into one of the gateway's windows.
ADMISSION_MARGIN = 2.0


class SlidingLog:
    """Each request of the last ``window`` seconds, at the latest moment it can have counted.

    Fewer than ``limit`` entries in the last window means one more request keeps any
    window of that length (sliding or fixed) within ``limit``.
    """

    def __init__(self, window: float, margin: float = ADMISSION_MARGIN) -> None:
        self.window = window
        self._margin = margin
        self._times: list[float] = []  # sorted
        self._by_seq: dict[int, float] = {}  # requests not answered yet -> their entry

    def __len__(self) -> int:
        return len(self._times)

    def add(self, seq: int, now: float) -> None:
        """Count a request sent now (until its answer, as if counted ``margin`` later)."""
        at = now + self._margin
        bisect.insort(self._times, at)
        self._by_seq[seq] = at

    def answered(self, seq: int, now: float) -> None:
        """Move a request's entry back to ``now``, its answer's time, if that is sooner."""
        at = self._by_seq.pop(seq, None)
        if at is not None and now < at:
            self._drop(at)
            bisect.insort(self._times, now)

    def remove(self, seq: int) -> None:
        """Uncount a request that was never sent."""
        at = self._by_seq.pop(seq, None)
        if at is not None:
            self._drop(at)

    def forget(self, seq: int) -> None:
        """Stop waiting for a request's answer (it keeps its entry)."""
        self._by_seq.pop(seq, None)

    def expire(self, now: float) -> None:
        """Drop the entries older than the window."""
        if self._times and self._times[0] <= now - self.window:
            del self._times[: bisect.bisect_right(self._times, now - self.window)]

    def wait(self, now: float, limit: int) -> float:
        """Return the seconds until fewer than ``limit`` entries are in the window."""
        if len(self._times) < limit:
            return 0.0
        return max(0.0, self._times[len(self._times) - limit] + self.window - now)

    def _drop(self, at: float) -> None:
        with contextlib.suppress(ValueError):
            self._times.remove(at)
