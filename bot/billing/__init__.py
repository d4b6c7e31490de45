"""Billing: what each image cost in dollars, and server budgets nobody can overrun.

* :mod:`~bot.billing.prices`: the gateway's prices as integer micro-dollars;
* :mod:`~bot.billing.costs`: a job's worst-case estimate before it is sent, and its
  cost once settled (from the answer's usage, else the price per image delivered);
* :mod:`~bot.billing.budgets`: the budget check made in the admission's transaction,
  beside the unit quota, and the thresholds that alert moderators.

Money is integers (micro-dollars, ``1_000_000`` = $1) from the gateway's decimal text
to the ledger; it is rendered as dollars only in :mod:`bot.ui`.
"""

from __future__ import annotations

from bot.billing.costs import Cost, estimate_cost, settle_cost
from bot.billing.prices import MICROS, Price, micros, price_of

__all__ = ["MICROS", "Cost", "Price", "estimate_cost", "micros", "price_of", "settle_cost"]
