"""Admissions: the requests that arrive together are admitted in one transaction.

Admitting a request checks the server's queue room and the member's quota and writes
the job row, atomically. One transaction per request would have every acknowledgement
wait in line for the database (SQLite has one connection; on PostgreSQL the member's
lock serialises as well). So it is a group commit (:mod:`bot.store.group`): a request
that arrives while a transaction is running waits for the next one, which admits every
request waiting by then, together:

1. the advisory locks of each server's queue, budget and each member's quota in the
   batch, in one call (one fixed order, so two processes never deadlock);
2. one query for the units the members used, one for the servers' queues and, for the
   servers with a dollar budget, one for what they spent (:mod:`bot.billing.budgets`);
3. each request in arrival order, against tallies that count the ones admitted before
   it (as running if it runs at once, else as waiting; a refusal refuses only its own
   request);
4. one multi-row insert of the admitted jobs.

A request alone is a batch of one, with no wait for others; a batch that fails as a
whole is tried again request by request. A caller cancelled while its batch commits
leaves a job that is never acknowledged, which the runner abandons like any
unacknowledged job (quota released).
"""

from __future__ import annotations

import functools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

from bot.background import Background
from bot.billing.budgets import check_budget, member_cap
from bot.errors import Refusal
from bot.jobs import queue_policy
from bot.quota import QuotaService, check_fits, window_of, window_reset
from bot.store import InputImage, Job, JobDraft, Store
from bot.store.group import MAX_BATCH, GroupCommit
from bot.store.rows import with_quota_window

log = logging.getLogger(__name__)

CapsOf = Callable[[int], Awaitable[queue_policy.Caps]]


@dataclass(frozen=True)
class Accepted:
    """An accepted job, and its place in the server's queue if it has to wait."""

    job: Job
    position: int | None


@dataclass(frozen=True, eq=False)
class _Request:
    draft: JobDraft
    role_ids: Collection[int]
    inputs: Sequence[InputImage]


class _Tallies:
    """What the batch's transaction reads, plus the requests it admitted so far."""

    def __init__(
        self,
        used: dict[tuple[int, int, str], int],
        loads: dict[tuple[int, int], tuple[int, int]],
        spent: dict[tuple[int, int, str], int],
    ) -> None:
        self.used = Counter(used)  # units per (guild, user, window)
        # micro-dollars per (guild, user, budget window) and per (guild, budget window)
        self.member_spent = Counter(spent)
        self.guild_spent: Counter[tuple[int, str]] = Counter()
        for (guild_id, _, window), amount in spent.items():
            self.guild_spent[(guild_id, window)] += amount
        self.generating: Counter[tuple[int, ...]] = Counter()  # per (guild, user) and (guild,)
        self.queued: Counter[tuple[int, ...]] = Counter()
        for (guild_id, user_id), (generating, queued) in loads.items():
            for key in ((guild_id, user_id), (guild_id,)):
                self.generating[key] += generating
                self.queued[key] += queued

    def load(self, guild_id: int, user_id: int) -> queue_policy.Load:
        """Return the queue's load that a new request of this member sees."""
        return queue_policy.Load(
            running_user=self.generating[(guild_id, user_id)],
            running_guild=self.generating[(guild_id,)],
            queued_user=self.queued[(guild_id, user_id)],
            queued_guild=self.queued[(guild_id,)],
        )

    def admit(self, draft: JobDraft, place: int | None) -> None:
        """Count an admitted request: its units, and a job that runs now or waits."""
        self.used[(draft.guild_id, draft.user_id, draft.quota_window)] += draft.quota_units
        if draft.budget_window:
            self.member_spent[(draft.guild_id, draft.user_id, draft.budget_window)] += (
                draft.cost_estimate
            )
            self.guild_spent[(draft.guild_id, draft.budget_window)] += draft.cost_estimate
        counts = self.generating if place is None else self.queued
        counts[(draft.guild_id, draft.user_id)] += 1
        counts[(draft.guild_id,)] += 1


class Admissions:
    """Group commit of accepted requests: queue room, quota and the job row."""

    def __init__(
        self,
        store: Store,
        quota: QuotaService,
        *,
        background: Background,
        caps: CapsOf | None = None,
        max_batch: int = MAX_BATCH,
    ) -> None:
        """``caps``: the server's queue limits; None admits without a queue check.

        The group commit runs on ``background``, which lets it finish at shutdown.
        """
        self._store = store
        self._quota = quota
        self._caps = caps
        self._group: GroupCommit[_Request, Accepted] = GroupCommit(
            self._commit,
            name="admissions",
            spawn=functools.partial(background.spawn, flush=True),
            max_batch=max_batch,
        )

    @property
    def batches(self) -> int:
        """Transactions committed so far (for benchmarks and tests)."""
        return self._group.batches

    async def admit(
        self,
        draft: JobDraft,
        role_ids: Collection[int] = (),
        inputs: Sequence[InputImage] = (),
    ) -> Accepted:
        """Reserve the draft's units and store its job, or raise the Refusal refusing it.

        Raises QuotaExceeded when the units do not fit the member's quota, QueueFull when
        the request would have to wait in a full queue; nothing is stored then.
        """
        return await self._group.submit(_Request(draft, role_ids, inputs))

    async def _commit(self, batch: Sequence[_Request]) -> list[Accepted | Refusal]:
        """One transaction: lock, read once, decide each request in order, insert."""
        now = time.time()
        guilds = sorted({r.draft.guild_id for r in batch})
        members = {(r.draft.guild_id, r.draft.user_id) for r in batch}
        caps = {g: await self._caps(g) for g in guilds} if self._caps else {}
        budgets = {g: b for g in guilds if (b := await self._store.spend.budget(g)) is not None}
        role_caps = {g: await self._store.spend.role_caps(g) for g in budgets}
        drafts, periods, limits = [], [], []
        for request in batch:  # the servers' rules come from memory (they are cached)
            draft = request.draft
            limit, settings = await self._quota.limit_for(
                draft.guild_id, draft.user_id, request.role_ids
            )
            budget = budgets.get(draft.guild_id)
            drafts.append(
                with_quota_window(
                    draft,
                    window_of(now, settings.quota_period),
                    window_of(now, budget.period) if budget else "",
                )
            )
            periods.append(settings.quota_period)
            limits.append(limit)
        decisions: list[int | Refusal | None] = []  # a queue place (None: runs now), or why not
        async with self._store.transaction():
            keys = [f"quota:{g}:{u}" for g, u in members]
            keys += [f"admission:{g}" for g in caps]  # the queue's room
            keys += [f"budget:{g}" for g in budgets]  # the server's dollars
            await self._store.lock(*keys)
            tallies = _Tallies(
                await self._store.quota.quota_used_by(members, {d.quota_window for d in drafts}),
                await self._store.queue.loads(guilds) if caps else {},
                await self._store.spend.spent(budgets, {d.budget_window for d in drafts})
                if budgets
                else {},
            )
            for draft, request, period, limit in zip(drafts, batch, periods, limits, strict=True):
                try:
                    place = (
                        queue_policy.admission(
                            caps[draft.guild_id], tallies.load(draft.guild_id, draft.user_id)
                        )
                        if caps
                        else None
                    )
                    used = tallies.used[(draft.guild_id, draft.user_id, draft.quota_window)]
                    check_fits(used, limit, draft.quota_units, now, period)
                    if (budget := budgets.get(draft.guild_id)) is not None:
                        check_budget(
                            budget,
                            draft,
                            cap=member_cap(budget, role_caps[draft.guild_id], request.role_ids),
                            guild_spent=tallies.guild_spent[(draft.guild_id, draft.budget_window)],
                            member_spent=tallies.member_spent[
                                (draft.guild_id, draft.user_id, draft.budget_window)
                            ],
                            resets_at=window_reset(now, budget.period),
                        )
                except Refusal as refusal:
                    decisions.append(refusal)
                    continue
                tallies.admit(draft, place)
                decisions.append(place)
            chosen = [
                (draft, request.inputs)
                for draft, request, decision in zip(drafts, batch, decisions, strict=True)
                if not isinstance(decision, Refusal)
            ]
            jobs = iter(await self._store.jobs.insert_many(chosen, now=now) if chosen else [])
        return [d if isinstance(d, Refusal) else Accepted(next(jobs), d) for d in decisions]
