"""Completion-time estimates: priors, learning from the ledger, progress, the hazard."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from bot.catalog.families import FAMILIES
from bot.scheduler import CompletionTime, DurationModel, LogNormal, option_key
from bot.scheduler.estimates import DEFAULT_PRIOR, FAMILY_PRIORS


@dataclass
class LedgerJob:
    model: str
    duration: float
    state: str = "succeeded"
    task_id: str | None = "task"
    options: dict[str, Any] = field(default_factory=dict)
    submitted_at: float | None = 1_700_000_000.0
    finished_at: float | None = None

    def __post_init__(self) -> None:
        if self.finished_at is None and self.submitted_at is not None:
            self.finished_at = self.submitted_at + self.duration


@pytest.mark.parametrize(
    ("options", "key"),
    [
        (
            {"quality": "HIGH", "resolution": "2k", "ratio": "16:9", "count": 1},
            "quality=high,resolution=2k",
        ),
        ({"count": 3}, "count=3"),
        ({"quality": None, "prompt": "a cat"}, ""),
    ],
)
def test_option_key_keeps_the_options_that_change_the_duration(options, key):
    """Quality, resolution and image count make the key; ratio and prompt do not."""
    assert option_key(options) == key


def test_every_catalog_family_has_a_prior():
    """A family added to the catalog without a prior would silently get the wide default."""
    assert {family.name for family in FAMILIES} == set(FAMILY_PRIORS)


def test_priors_rank_the_families_by_speed():
    """Before any history: GPT Image 2 slowest, Gemini Flash fastest, unknown models 20 s."""
    model = DurationModel()
    gpt, flux, flash = (
        model.estimate(name).duration.median for name in ("gpt-image-2", "flux-pro", "nano-banana")
    )
    assert flash < flux < gpt
    assert model.estimate("some-new-model").duration.median == pytest.approx(DEFAULT_PRIOR.median)
    assert model.estimate("some-new-model").evidence == 0


def test_learning_moves_the_estimate_to_what_was_observed():
    """After twenty 90 s jobs of an unknown model, its estimate is about 90 s and narrow."""
    model = DurationModel()
    for _ in range(20):
        model.learn("mystery", "", 90.0)
    estimate = model.estimate("mystery")
    assert estimate.duration.median == pytest.approx(90.0, rel=0.1)
    assert estimate.duration.sigma < DEFAULT_PRIOR.sigma / 2
    assert estimate.evidence > 10


def test_estimates_per_option_key_fall_back_to_the_model():
    """High quality learns its own duration; an unseen option key starts from the model's."""
    model = DurationModel()
    for _ in range(15):
        model.learn("gpt-image-2", "quality=low", 15.0)
        model.learn("gpt-image-2", "quality=high", 80.0)
    low = model.estimate("gpt-image-2", "quality=low").duration.median
    high = model.estimate("gpt-image-2", "quality=high").duration.median
    unseen = model.estimate("gpt-image-2", "quality=medium").duration.median
    assert low == pytest.approx(15, rel=0.15) and high == pytest.approx(80, rel=0.15)
    assert low < unseen < high


def test_estimates_come_from_the_ledger():
    """learn_history uses succeeded task jobs only (duration = finished - submitted)."""
    model = DurationModel()
    jobs = [LedgerJob("mystery", 40.0, options={"quality": "high"}) for _ in range(10)]
    jobs += [LedgerJob("mystery", 2.0, state="failed") for _ in range(10)]  # refusals: fast
    jobs += [LedgerJob("mystery", 3.0, task_id=None) for _ in range(10)]  # inline answers
    jobs += [LedgerJob("mystery", 5.0, submitted_at=None)]
    assert model.learn_history(jobs) == 10
    assert model.estimate("mystery", "quality=high").duration.median == pytest.approx(40, rel=0.1)


def test_one_outlier_does_not_widen_a_settled_estimate():
    """A stuck job among fifty steady ones barely moves the fit (the hedge covers it)."""
    model = DurationModel()
    for _ in range(50):
        model.learn("flux-pro", "", 16.0)
    before = model.estimate("flux-pro").duration
    model.learn("flux-pro", "", 600.0)
    after = model.estimate("flux-pro").duration
    assert after.median == pytest.approx(before.median, rel=0.05)
    assert after.sigma < 0.2


def test_progress_sharpens_the_completion_time():
    """80 % after 8 s says about 10 s, whatever the prior (60 s) said."""
    task = CompletionTime.from_estimate(LogNormal.from_median(60.0, 0.45))
    sharpened = task.with_progress(8.0, 80)
    assert sharpened.main.median == pytest.approx(10.0, rel=0.15)
    assert sharpened.main.sigma < task.main.sigma
    assert task.with_progress(8.0, 0) is task  # no information


def test_polls_are_densest_near_the_expected_completion():
    """Gaps between planned polls are short around the median, long far from it."""
    task = CompletionTime.from_estimate(LogNormal.from_median(40.0, 0.25))

    def gap(at: float) -> float:
        return task.next_poll(at, price=0.25, longest=80.0) - at

    assert gap(38.0) < gap(10.0)
    assert gap(38.0) < gap(140.0)  # the hedge: far past the estimate, polls thin out
    assert task.next_poll(0.0, price=0.25, longest=80.0) > 20.0  # nothing early


def test_done_between_is_a_conditional_probability():
    """P(done by b | running at a) grows with b and stays within [0, 1]."""
    task = CompletionTime.from_estimate(LogNormal.from_median(20.0, 0.3))
    values = [task.done_between(10.0, end) for end in (10.0, 15.0, 20.0, 30.0, 200.0)]
    assert values[0] == 0.0
    assert values == sorted(values)
    assert 0.99 < values[-1] <= 1.0
