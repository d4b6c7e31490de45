"""Dollar budgets: the check made in the admission's transaction, and the alerts.

A server's budget (``/imagemod budget set``) holds per day, week or month. A request
reserves its estimate (:func:`~bot.billing.costs.estimate_cost`) against the server's
budget and, when one is set, the member's cap, in the same transaction as its unit
quota (:mod:`bot.jobs.admission`), under the server's budget lock: what is spent is
read from the ledger there, so two processes never both take the last cents.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from decimal import Decimal

from bot.billing.prices import MICROS
from bot.errors import BudgetExceeded
from bot.i18n import Dollars, Text
from bot.store import Budget, JobDraft
from bot.ui.format import timestamp

THRESHOLDS = (50, 80, 100)  # per cent of a budget: the audit channel hears each once
# What a moderator may type as a budget or a cap (/imagemod budget, the dashboard).
MIN_DOLLARS = 0.01  # a budget or a member cap; a role's cap may be 0
MAX_DOLLARS = 1_000_000.0  # a budget above a million dollars a period is a typo


def typed_micros(dollars: float | Decimal) -> int:
    """Return a dollar amount typed by a moderator as micro-dollars."""
    return int(Decimal(str(dollars)) * MICROS)


def _period(budget: Budget, window: str) -> Text:
    """``December``, ``this week`` or ``today``: the window a budget refusal speaks of."""
    if budget.period == "month" and len(window) == 7:
        return Text(f"month.{int(window[5:7])}")
    return Text(f"budget_period.{budget.period}")


def member_cap(
    budget: Budget, role_caps: Mapping[int, int], role_ids: Collection[int]
) -> int | None:
    """Return a member's dollar cap: the most generous of their roles' caps, else the budget's."""
    caps = [cap for role, cap in role_caps.items() if role in role_ids]
    return max(caps) if caps else budget.member_cap


def check_budget(
    budget: Budget,
    draft: JobDraft,
    *,
    guild_spent: int,
    member_spent: int,
    resets_at: float,
    cap: int | None = None,
) -> None:
    """Raise BudgetExceeded unless ``draft``'s estimate fits what is left of the budget.

    ``cap``: the member's dollar cap (:func:`member_cap`). A model without a known price
    cannot be budgeted: it is refused while a budget is set, unless the moderators allow
    unpriced models.
    """
    model = f"`{draft.model}`"
    if draft.cost_source == "unpriced":
        if budget.allow_unpriced:
            return
        raise BudgetExceeded(Text.of("refusal.budget_unpriced", model=model))
    cost, reset = draft.cost_estimate, timestamp(resets_at, "D")
    period = _period(budget, draft.budget_window)
    if guild_spent + cost > budget.amount:
        raise BudgetExceeded(
            Text.of(
                "refusal.budget_server",
                period=period,
                amount=Dollars(budget.amount, exact=True),
                left=Dollars(max(0, budget.amount - guild_spent)),
                cost=Dollars(cost, up=True),
                reset=reset,
            )
        )
    if cap is not None and member_spent + cost > cap:
        raise BudgetExceeded(
            Text.of(
                "refusal.budget_member",
                period=period,
                amount=Dollars(cap, exact=True),
                left=Dollars(max(0, cap - member_spent)),
                cost=Dollars(cost, up=True),
                reset=reset,
            )
        )


def reached(amount: int, settled: int) -> list[int]:
    """Return the thresholds (per cent of ``amount``) that settled spend has reached.

    Each is announced once per window (``SpendStore.claim_alert``): asking for all of
    them, not only those one job crossed, misses none when jobs settle together.
    """
    return [t for t in THRESHOLDS if settled * 100 >= t * amount and settled > 0]
