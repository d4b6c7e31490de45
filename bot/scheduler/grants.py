"""What the budget hands out and reports: request kinds, grants, statistics, poll demand."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

from bot.lemondata.urls import RequestKind


@dataclass(frozen=True)
class Grant:
    """Permission to send one request; hand it back to ``RequestBudget.observe``."""

    kind: RequestKind
    seq: int
    at: float
    final: bool = False
    probe: bool = False  # the one request allowed after a 429's pause
    exempt: bool = False  # not counted (a download from a host without the API key)
    window_count: int = 0  # requests sent in the last window, this one included


@dataclass(frozen=True)
class BudgetStats:
    """What a budget did, for tests and benchmarks."""

    sent: dict[str, int]
    exempt: int
    throttled: int  # 429 answers observed
    probes: int
    waited: int  # grants that had to wait
    total_wait: float
    max_wait: float


class PollDemand(Protocol):
    """What the budget asks the poll planner (``PollPlanner`` implements it)."""

    def likely_due(self) -> int:
        """Count the due polls that would probably find their task ended."""
        ...

    def expected_done(self, until: float) -> float:
        """Return how many tracked tasks are expected to end, unseen, by ``until``."""
        ...

    def polls_wanted(self) -> float:
        """Return how many polls the tracked tasks still want (infinite: unknown)."""
        ...


class NoDemand:
    """The demand of a budget no poll loop is attached to."""

    def likely_due(self) -> int:
        """Count none."""
        return 0

    def expected_done(self, until: float) -> float:
        """Expect none."""
        return 0.0

    def polls_wanted(self) -> float:
        """Unknown: polls are paced."""
        return math.inf
