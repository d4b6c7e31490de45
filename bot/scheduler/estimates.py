"""Completion-time estimates: per (model, options) log-normal fits, learned from the ledger.

A task's duration is modelled as log-normal. Each (model, option key) keeps
exponentially weighted sums of its observed log-durations (recent jobs count more, so
the estimate follows the gateway as it speeds up or slows down); the estimate shrinks
towards the model's own pooled fit, which shrinks towards a prior for the model's
family (and a wide one for models never seen). A running task's distribution is that
estimate mixed with a wide hedge (the estimate may be wrong), sharpened by the
``progress`` the gateway reports.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Protocol

from bot.catalog.families import family_of

SQRT2 = math.sqrt(2.0)
SQRT2PI = math.sqrt(2.0 * math.pi)


@dataclass(frozen=True)
class Prior:
    """A prior completion time: its median (seconds) and log-space spread."""

    median: float
    sigma: float


# Per family (bot.catalog.families names). From the gateway's guidance and the
# providers' usual speeds; wide on purpose: a few finished jobs outweigh them.
FAMILY_PRIORS: dict[str, Prior] = {
    "GPT Image 2": Prior(60.0, 0.45),  # slow: about 40-90 s
    "DALL-E 3": Prior(15.0, 0.5),
    "Gemini Pro image": Prior(25.0, 0.5),
    "Gemini Flash image": Prior(9.0, 0.45),  # about 5-15 s
    "Gemini 2.0 Flash (prompt only)": Prior(8.0, 0.45),
    "FLUX": Prior(17.0, 0.45),  # about 10-30 s
}
DEFAULT_PRIOR = Prior(20.0, 0.8)  # a model never seen: median 20 s, wide
# Options that change how long a generation takes (the option key).
TIMING_OPTIONS = ("quality", "resolution", "count")
DECAY = 0.98  # weight of older observations per new one (an effective memory of ~50)
# A prior's median counts as (OBSERVATION_SIGMA / prior sigma)^2 observations (the
# normal-normal rule: a wide prior is soon outweighed), within these bounds; its
# spread as PRIOR_SPREAD_WEIGHT observations.
OBSERVATION_SIGMA = 0.3  # the usual spread of one (model, options)' durations
PRIOR_WEIGHT_BOUNDS = (0.1, 5.0)
PRIOR_SPREAD_WEIGHT = 3.0
MIN_SIGMA, MAX_SIGMA = 0.1, 1.5
OUTLIER_Z = 2.5
MIN_EVIDENCE_TO_CLIP = 5.0
MIN_DURATION, MAX_DURATION = 0.5, 3600.0
# The hedge: this share of the probability follows a wide log-normal around the same
# median, so a task far slower than its estimate is polled less and less often
# instead of ever more often (a log-normal's hazard keeps rising in the tail).
HEDGE_WEIGHT = 0.1
HEDGE_SIGMA = 0.9
# Progress p (0-100) at elapsed e suggests a duration of e * 100 / p, with a log-space
# error of PROGRESS_NOISE / (p / 100): little is learned at 5 %, much at 90 %.
PROGRESS_NOISE = 0.1


class FinishedJob(Protocol):
    """What the ledger knows of a finished job (``bot.store.Job`` has these fields)."""

    @property
    def model(self) -> str: ...
    @property
    def options(self) -> Mapping[str, Any]: ...
    @property
    def state(self) -> str: ...
    @property
    def task_id(self) -> str | None: ...
    @property
    def submitted_at(self) -> float | None: ...
    @property
    def finished_at(self) -> float | None: ...


def option_key(options: Mapping[str, Any]) -> str:
    """Return the options that change how long a generation takes: ``quality=high,count=2``."""
    parts = []
    for name in TIMING_OPTIONS:
        value = options.get(name)
        if value is None or value == "" or (name == "count" and value == 1):
            continue
        parts.append(f"{name}={str(value).lower()}")
    return ",".join(parts)


def _q(z: float) -> float:
    """Return the standard normal survival function at ``z``."""
    return 0.5 * math.erfc(z / SQRT2)


def _phi(z: float) -> float:
    return math.exp(-0.5 * z * z) / SQRT2PI


@dataclass(frozen=True)
class LogNormal:
    """A log-normal duration: ``log(T) ~ Normal(mu, sigma)``."""

    mu: float
    sigma: float

    @classmethod
    def from_median(cls, median: float, sigma: float) -> LogNormal:
        """Build one from its median (seconds) and log-space spread."""
        return cls(math.log(median), sigma)

    @property
    def median(self) -> float:
        """The median duration."""
        return math.exp(self.mu)

    @property
    def mean(self) -> float:
        """The mean duration."""
        return math.exp(self.mu + self.sigma**2 / 2)

    def quantile(self, p: float) -> float:
        """Return the duration below which a share ``p`` of tasks ends."""
        return math.exp(self.mu + self.sigma * NormalDist().inv_cdf(p))

    def z(self, t: float) -> float:
        """Return the standard score of duration ``t``."""
        return (math.log(t) - self.mu) / self.sigma if t > 0 else -math.inf

    def survival(self, t: float) -> float:
        """P(T > t)."""
        return _q(self.z(t)) if t > 0 else 1.0

    def density(self, t: float) -> float:
        """Return the probability density at ``t``."""
        return _phi(self.z(t)) / (self.sigma * t) if t > 0 else 0.0


@dataclass(frozen=True)
class Estimate:
    """A fitted completion-time distribution and the evidence behind it."""

    duration: LogNormal
    evidence: float  # (decayed) number of observed jobs of this key; 0: prior only


@dataclass
class _Sums:
    weight: float = 0.0
    total: float = 0.0
    squares: float = 0.0

    def add(self, x: float, decay: float) -> None:
        self.weight = self.weight * decay + 1.0
        self.total = self.total * decay + x
        self.squares = self.squares * decay + x * x

    def posterior(self, prior: LogNormal) -> LogNormal:
        """Shrink these observations towards ``prior`` (a median and a spread, apart)."""
        if self.weight <= 0:
            return prior
        n = self.weight
        mean = self.total / n
        var = max(0.0, self.squares / n - mean * mean)
        low, high = PRIOR_WEIGHT_BOUNDS
        k = min(high, max(low, (OBSERVATION_SIGMA / prior.sigma) ** 2))
        mu = (k * prior.mu + n * mean) / (k + n)
        # The prior's median and spread are separate beliefs: a median the data contradict
        # moves the fit's median, and widens it only by how far the data sit from it.
        shift = n * (mean - mu) ** 2
        spread = (PRIOR_SPREAD_WEIGHT * prior.sigma**2 + n * var + shift) / (
            PRIOR_SPREAD_WEIGHT + n
        )
        return LogNormal(mu, min(MAX_SIGMA, max(MIN_SIGMA, math.sqrt(spread))))


class DurationModel:
    """Learn completion times per (model, option key); estimate them for new tasks."""

    def __init__(
        self, *, decay: float = DECAY, priors: Mapping[str, Prior] = FAMILY_PRIORS
    ) -> None:
        self._decay = decay
        self._priors = dict(priors)
        self._by_key: dict[tuple[str, str], _Sums] = {}
        self._by_model: dict[str, _Sums] = {}

    def prior(self, model: str) -> LogNormal:
        """Return the prior for ``model``: its family's, or the wide default."""
        prior = self._priors.get(family_of(model).name, DEFAULT_PRIOR)
        return LogNormal.from_median(prior.median, prior.sigma)

    def learn(self, model: str, option_key: str, duration: float) -> None:
        """Record that a ``model`` task with ``option_key`` took ``duration`` seconds."""
        if not math.isfinite(duration) or duration <= 0:
            return
        x = math.log(min(MAX_DURATION, max(MIN_DURATION, duration)))
        # Outliers are the hedge's business: each fit sees them clipped to its own
        # mu +- OUTLIER_Z sigma, so one stuck task cannot widen it for the next fifty.
        fit = self.estimate(model).duration
        pooled = self._by_model.setdefault(model, _Sums())
        pooled.add(_clip(x, fit, pooled.weight), self._decay)
        if option_key:
            fit = self.estimate(model, option_key).duration
            own = self._by_key.setdefault((model, option_key), _Sums())
            own.add(_clip(x, fit, own.weight), self._decay)

    def learn_history(self, jobs: Iterable[FinishedJob]) -> int:
        """Learn from the ledger's succeeded task jobs, oldest first; return how many."""
        usable = [
            job
            for job in jobs
            if job.state == "succeeded"
            and job.task_id
            and job.submitted_at is not None
            and job.finished_at is not None
        ]
        usable.sort(key=lambda job: job.finished_at or 0.0)
        for job in usable:
            assert job.finished_at is not None and job.submitted_at is not None
            self.learn(job.model, option_key(job.options), job.finished_at - job.submitted_at)
        return len(usable)

    def estimate(self, model: str, option_key: str = "") -> Estimate:
        """Return the completion-time estimate for a new ``model`` task."""
        pooled = self._by_model.get(model, _Sums())
        duration = pooled.posterior(self.prior(model))
        evidence = pooled.weight
        if option_key:
            own = self._by_key.get((model, option_key), _Sums())
            duration, evidence = own.posterior(duration), own.weight
        return Estimate(duration, evidence)


def _clip(x: float, fit: LogNormal, evidence: float) -> float:
    """Clip a log-duration to ``fit``'s mu +- OUTLIER_Z sigma, once the fit has evidence."""
    if evidence < MIN_EVIDENCE_TO_CLIP:
        return x
    bound = OUTLIER_Z * fit.sigma
    return min(fit.mu + bound, max(fit.mu - bound, x))


@dataclass(frozen=True)
class CompletionTime:
    """One running task's completion time: its estimate mixed with a wide hedge."""

    main: LogNormal
    hedge: LogNormal
    hedge_weight: float = HEDGE_WEIGHT

    @classmethod
    def from_estimate(cls, duration: LogNormal) -> CompletionTime:
        """Hedge an estimate with a wide log-normal around the same median."""
        wide = LogNormal(duration.mu, max(HEDGE_SIGMA, 2 * duration.sigma))
        return cls(duration, wide, HEDGE_WEIGHT)

    def with_progress(self, elapsed: float, progress: int) -> CompletionTime:
        """Sharpen the main part with a progress report (0-100) made at ``elapsed``."""
        if not 0 < progress <= 100 or elapsed <= 0:
            return self
        share = progress / 100
        observed = math.log(elapsed / share)
        noise = PROGRESS_NOISE / share
        precision = 1 / self.main.sigma**2 + 1 / noise**2
        mu = (self.main.mu / self.main.sigma**2 + observed / noise**2) / precision
        sigma = max(MIN_SIGMA / 2, math.sqrt(1 / precision))
        return CompletionTime(LogNormal(mu, sigma), self.hedge, self.hedge_weight)

    @property
    def mean(self) -> float:
        """The mean of the main part (the estimate without the hedge)."""
        return self.main.mean

    def survival(self, t: float) -> float:
        """P(T > t)."""
        w = self.hedge_weight
        return (1 - w) * self.main.survival(t) + w * self.hedge.survival(t)

    def hazard(self, t: float) -> float:
        """Return the rate of completion at ``t`` among tasks still running then."""
        if t <= 0:
            return 0.0
        w = self.hedge_weight
        survival = self.survival(t)
        density = (1 - w) * self.main.density(t) + w * self.hedge.density(t)
        if survival > 1e-300:
            return density / survival
        return max(self.hedge.z(t), 1.0) / (self.hedge.sigma * t)  # the tail's asymptote

    def done_between(self, start: float, end: float) -> float:
        """P(T <= end | T > start): the chance a task running at ``start`` ended by ``end``."""
        alive = self.survival(start)
        if alive <= 0:
            return 1.0
        return max(0.0, 1.0 - self.survival(end) / alive)

    def median_between(self, start: float, end: float) -> float:
        """Return the median completion time of a task known to end in ``(start, end]``."""
        if end <= start:
            return end
        target = (self.survival(start) + self.survival(end)) / 2
        low, high = max(start, 1e-3), end
        for _ in range(40):
            middle = math.sqrt(low * high)
            if self.survival(middle) > target:
                low = middle
            else:
                high = middle
        return math.sqrt(low * high)

    def next_poll(self, start: float, price: float, longest: float) -> float:
        """Return when, after a poll at ``start`` found it running, to poll next.

        Polls are placed at a rate of ``sqrt(hazard / (2 * price))`` (the rate that
        minimises expected detection delay plus ``price`` seconds per poll spent), so
        the next poll comes when that rate's integral from ``start`` reaches one. The
        answer is at most ``start + longest``.
        """
        rate_scale = 1.0 / (2.0 * max(price, 1e-6))
        floor = math.exp(
            min(self.main.mu - 6 * self.main.sigma, self.hedge.mu - 5 * self.hedge.sigma)
        )
        u = math.log(max(start, floor))
        u_end = math.log(start + longest)
        accumulated = 0.0
        while u < u_end:
            near_main = abs((u - self.main.mu) / self.main.sigma) < 5
            step = min(0.15 * (self.main.sigma if near_main else self.hedge.sigma), u_end - u)
            t = math.exp(u + step / 2)
            density = math.sqrt(self.hazard(t) * rate_scale) * t  # per unit of log-time
            gained = density * step
            if accumulated + gained >= 1.0:
                return max(start, math.exp(u + (1.0 - accumulated) / density))
            accumulated += gained
            u += step
        return start + longest
