"""The gateway request scheduler: one request budget per API key, and when to poll what.

Pure policy on an injected :class:`Clock`; it sends nothing itself. The client calls
``grant = await budget.acquire(kind)`` before every gateway request and
``budget.observe(status, headers, grant)`` after it (``status`` None when no answer
came); the poll loop (:class:`PollLoop`, or any loop built on the same calls) asks the
planner when the next poll is due, acquires a grant, asks the planner which task to
poll with it, and reports the answer with ``planner.polled(job_id, done=...,
progress=...)``. All times are the clock's (monotonic); ``clock_time`` converts the
ledger's wall-clock timestamps.

The budget (:class:`RequestBudget`)
    One per API key, shared by creates, polls, downloads and the model list.
    *What it believes.* The gateway's ``X-RateLimit-Remaining`` until
    ``X-RateLimit-Reset`` when it sends them: the lowest Remaining of the window minus
    every request still in flight (an answer may not count those yet). Without headers,
    at most ``limit`` requests in any ``window`` seconds, ``limit`` being
    ``LEMONDATA_RPM`` (default 60) a minute: a sliding log, which also keeps any fixed
    window of the same length, each request counted from its answer (or from 2 s
    after it was sent, if none came yet) so that latency cannot push two windows'
    worth into one. ``X-RateLimit-Limit`` replaces the configured limit as soon as it
    is seen, so a key allowed 1,000 a minute uses them. ``X-RateLimit-Reset`` is
    seconds until the reset below 1e9, else a Unix time (in milliseconds above 1e12);
    once a reset passes, one request opens the new window and its answer tells the rest.
    *A 429* pauses every request until ``Retry-After`` (else the Reset header, else
    window / limit doubling per consecutive 429, capped); then exactly one probe goes
    per Retry-After window until one is answered with something else. A 429 the budget
    did not expect (it believed there was room) that names no limit lowers the limit,
    for ten minutes, to what the gateway let through in the window. Nothing fails:
    ``acquire`` waits as long as it takes. Downloads from the CDN, which never carry the
    API key, are exempt by default (``exempt_downloads``).
    *Order when requests wait.* Final polls first (one last look at a task at its
    deadline decides between delivering and timing out; there are few). Then a poll
    that would probably find its task ended (the planner's ``likely_due``): it finishes
    a job with one request, the least remaining work of any waiting request. Then
    creates, downloads and the model list: a second's wait delays a user's image by a
    second, where an ordinary poll's wait delays a delivery only if the task has ended,
    by P(done) < 1 second. Creates leave room in the window for polls: for those
    likely now and, when the gateway announces its window, for the tasks expected to
    end before it resets (``expected_done``), at most half the window. And at least one
    grant in ``POLL_SHARE`` (4) goes to a waiting poll, so running tasks are never
    starved by a flood of creates. Ordinary polls are paced: what is left of the window
    spread evenly over the time to its reset (two at a time), so a tight window is not
    spent in one burst that leaves later completions unseen until the next one; unless
    the window holds every poll the tracked tasks still want (``polls_wanted``), when
    the limit does not bind and no poll waits.

The planner (:class:`PollPlanner`)
    *What is learned.* Each (model, option key) duration is log-normal, fitted from
    finished jobs with exponentially decaying weights (recent jobs count more), shrunk
    towards the model's pooled fit, itself shrunk towards a prior for the model's family
    (GPT Image 2 ~60 s, Gemini Flash ~9 s, FLUX ~17 s, ...; an unknown model 20 s, wide);
    a prior counts as fewer observations the wider it is; the prior's median and
    spread are separate beliefs, so a prior median the data contradict moves the fit's
    median without widening it. Outliers are clipped to 2.5
    sigma before they enter a fit (they are the hedge's business, below). The bot feeds
    it the ledger's succeeded task jobs at start (``learn_history``: duration =
    finished_at - submitted_at), so estimates survive restarts, and the planner learns
    every task it sees end (the likeliest moment between its last two polls).
    A running task's distribution mixes that estimate (90 %) with a wide hedge around
    the same median (10 %), so a task far slower than expected is polled less and less
    often rather than ever more often, and is sharpened by ``progress``: p % at elapsed
    e suggests e * 100 / p, with an error shrinking as p grows (a Bayesian update).
    *Where polls go.* At the rate sqrt(hazard / (2 * price)), which minimises the
    expected delay from completion to detection plus ``price`` per poll: none while the
    task cannot have ended yet, densest around its likeliest completion, sparser in the
    tail. *How many* (:mod:`bot.scheduler.allowance`): each task may spend what polling
    every 5 s would (its allowance, expected from its estimate), so its price is the
    one whose schedule expects that many polls: a slow model's polls are cheap, a fast
    one's dear (``allowance_interval=None``: every task at ``price``, 0.25 s). After a
    poll finds the task running, the next comes when that rate's integral reaches one,
    and at least ``MIN_GAP`` (0.5 s) later.
    *Tight budget.* When several polls are due and one grant is free, final polls go
    first, then tasks past their starvation bound, then the task most likely to have
    ended since its last poll (among the ``CANDIDATES`` most overdue).
    *No starvation.* Every task is planned a poll at most max(2 x its expected duration,
    30 s) after its last one, and a final poll at its deadline; given grants at a rate
    of at least (tracked tasks / that bound), every task is polled within it, and once
    more at or after its deadline. There is no randomness: the same inputs give the same
    schedule.

Several processes (:mod:`bot.scheduler.shared`)
    On PostgreSQL, :class:`SharedBudget` wraps each process's budget and takes a place
    for every request in one row per API key (``BudgetStore.take``) before it goes: the
    gateway's Remaining/Reset, written back from every answer, bound the places while
    it sends them; without them, a sliding log of the requests of every process. The
    newest announced (limit, window) pair wins in every process, a restarted one
    included.

Where it is used: the client takes ``grant=`` on ``get_task`` so the poll loop's grant
pays for that request (retries acquire their own); the poller reports ``learn=False``
for failed or lost tasks, so only real completions teach the planner; ``LEMONDATA_RPM``
(``Settings.lemondata_rpm``) is the limit until the gateway announces one.
"""

from bot.lemondata.urls import RequestKind
from bot.scheduler.budget import DEFAULT_RPM, RequestBudget, Slot
from bot.scheduler.clock import Clock, LoopClock, VirtualClock, clock_time, sleep_or_wake
from bot.scheduler.estimates import (
    CompletionTime,
    DurationModel,
    Estimate,
    FinishedJob,
    LogNormal,
    Prior,
    option_key,
)
from bot.scheduler.grants import BudgetStats, Grant, PollDemand
from bot.scheduler.headers import RateHeaders, parse_rate_headers
from bot.scheduler.loop import PollLoop, PollResult
from bot.scheduler.planner import Due, PollPick, PollPlanner

__all__ = [
    "DEFAULT_RPM",
    "BudgetStats",
    "Clock",
    "CompletionTime",
    "Due",
    "DurationModel",
    "Estimate",
    "FinishedJob",
    "Grant",
    "LogNormal",
    "LoopClock",
    "PollDemand",
    "PollLoop",
    "PollPick",
    "PollPlanner",
    "PollResult",
    "Prior",
    "RateHeaders",
    "RequestBudget",
    "RequestKind",
    "Slot",
    "VirtualClock",
    "clock_time",
    "option_key",
    "parse_rate_headers",
    "sleep_or_wake",
]
