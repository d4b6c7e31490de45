"""BillingService: servers' dollar budgets as moderators set them, and the alerts.

Setting or clearing a budget is a moderator action like any other (recorded and posted
through :class:`~bot.moderation.actions.ModeratorActions`). After each finished job the
service looks at what its server settled in the budget window and announces each of
50 %, 80 % and 100 % once per window in the audit channel, whichever process settled the
job that reached it (``SpendStore.claim_alert`` is one conditional insert).
"""

from __future__ import annotations

import functools
import logging
import time

from bot.billing.budgets import reached
from bot.billing.usage import usage_report
from bot.i18n import Dollars, Text
from bot.moderation.actions import ModeratorActions
from bot.moderation.audit import AuditLog
from bot.quota import window_of, window_reset, window_start
from bot.store import Budget, BudgetStanding, Job, Store, UsageReport
from bot.ui.budgets import alert_embed
from bot.ui.format import mention

log = logging.getLogger(__name__)


class BillingService:
    """Dollar budgets: set, clear, read, and their threshold alerts."""

    def __init__(self, store: Store, audit: AuditLog) -> None:
        self._store = store
        self._audit = audit
        self._actions = ModeratorActions(store, audit)

    async def set_budget(
        self,
        guild_id: int,
        moderator_id: int,
        *,
        amount: int,
        period: str,
        member_cap: int | None = None,
        allow_unpriced: bool = False,
        via: str | None = None,
    ) -> Budget:
        """Set the server's budget (micro-dollars per period); recorded as a moderator action.

        ``via="web"`` (here and in the other budget actions) records that it was done from
        the dashboard.
        """
        text = Text.of(
            "action.budget_set",
            amount=Dollars(amount, exact=True),
            period=Text(f"budget_per.{period}"),
            cap=Text.of("action.budget_cap", amount=Dollars(member_cap, exact=True))
            if member_cap is not None
            else "",
        )
        return await self._actions.act(
            guild_id,
            moderator_id,
            "budget",
            text,
            lambda: self._store.spend.set_budget(
                guild_id,
                amount=amount,
                period=period,
                member_cap=member_cap,
                allow_unpriced=allow_unpriced,
                set_by=moderator_id,
            ),
            detail=", ".join(
                f"{k}={v}"
                for k, v in {
                    "amount": amount,
                    "period": period,
                    "member_cap": member_cap,
                    "allow_unpriced": allow_unpriced,
                }.items()
            ),
            via=via,
        )

    async def clear_budget(
        self, guild_id: int, moderator_id: int, *, via: str | None = None
    ) -> bool:
        """Remove the server's budget; False when it had none (nothing is recorded then)."""
        if await self._store.spend.budget(guild_id) is None:
            return False
        return await self._actions.act(
            guild_id,
            moderator_id,
            "budget",
            Text("action.budget_cleared"),
            lambda: self._store.spend.clear_budget(guild_id),
            detail="cleared",
            via=via,
        )

    async def set_role_cap(
        self, guild_id: int, moderator_id: int, role_id: int, cap: int, *, via: str | None = None
    ) -> None:
        """Give a role its own dollar cap per member; recorded as a moderator action."""
        text = Text.of(
            "action.budget_role_cap", role=mention(role_id, "role"), amount=Dollars(cap, exact=True)
        )
        await self._actions.act(
            guild_id,
            moderator_id,
            "budget",
            text,
            lambda: self._store.spend.set_role_cap(guild_id, role_id, cap, moderator_id),
            target=str(role_id),
            detail=f"cap={cap}",
            via=via,
        )

    async def clear_role_cap(
        self, guild_id: int, moderator_id: int, role_id: int, *, via: str | None = None
    ) -> bool:
        """Remove a role's dollar cap; False when it had none."""
        if role_id not in await self._store.spend.role_caps(guild_id):
            return False
        return await self._actions.act(
            guild_id,
            moderator_id,
            "budget",
            Text.of("action.budget_role_cap_cleared", role=mention(role_id, "role")),
            lambda: self._store.spend.clear_role_cap(guild_id, role_id),
            target=str(role_id),
            via=via,
        )

    async def role_caps(self, guild_id: int) -> dict[int, int]:
        """Return the server's dollar caps per member by role (role id -> micro-dollars)."""
        return dict(await self._store.spend.role_caps(guild_id))

    async def standing(self, guild_id: int, now: float | None = None) -> BudgetStanding | None:
        """Return the server's budget and its spend in the current window, or None."""
        budget = await self._store.spend.budget(guild_id)
        if budget is None:
            return None
        now = time.time() if now is None else now
        window = window_of(now, budget.period)
        spent = await self._store.spend.guild_spent(guild_id, window)
        settled = await self._store.spend.settled(guild_id, window)
        return BudgetStanding(
            budget, window, settled, spent - settled, window_reset(now, budget.period)
        )

    async def period_spend(self, guild_id: int) -> tuple[str, int, BudgetStanding | None]:
        """Return this period (the budget's, else the month), its settled spend, the standing."""
        standing = await self.standing(guild_id)
        if standing is not None:
            return standing.budget.period, standing.settled, standing
        now = time.time()
        since, until = window_start(now, "month"), window_reset(now, "month")
        return "month", await self._store.spend.total(guild_id, since, until), None

    async def usage(self, guild_id: int, period: str | None = None) -> UsageReport:
        """Return what the server spent in the current window of ``period``.

        By default the budget's period, else the month.
        """
        budget = await self._store.spend.budget(guild_id)
        period = period or (budget.period if budget else "month")
        now = time.time()
        since, until = window_start(now, period), window_reset(now, period)
        rows = await self._store.spend.costs(guild_id, since, until)
        same = budget is not None and budget.period == period
        standing = await self.standing(guild_id, now) if same else None
        return usage_report(
            rows,
            period,
            now,
            standing.budget.amount if standing else None,
            standing.left if standing else None,
        )

    async def member_standing(
        self, guild_id: int, user_id: int
    ) -> tuple[BudgetStanding, int] | None:
        """Return the server's budget now and what ``user_id`` spent of it, or None."""
        standing = await self.standing(guild_id)
        if standing is None:
            return None
        spent = await self._store.spend.spent([guild_id], [standing.window])
        return standing, spent.get((guild_id, user_id, standing.window), 0)

    async def job_finished(self, job: Job) -> None:
        """Announce the thresholds the server's settled spend has reached (each once)."""
        if not job.budget_window or not job.cost:
            return
        budget = await self._store.spend.budget(job.guild_id)
        if budget is None:
            return
        settled = await self._store.spend.settled(job.guild_id, job.budget_window)
        for threshold in reached(budget.amount, settled):
            if await self._store.spend.claim_alert(job.guild_id, job.budget_window, threshold):
                log.info("guild %s: budget %s%% reached", job.guild_id, threshold)
                build = functools.partial(alert_embed, budget, settled, threshold)
                await self._audit.post(job.guild_id, build)
