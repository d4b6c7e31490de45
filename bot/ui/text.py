"""The job states and failure codes members read about; their texts are in the catalogue.

A state's label is ``state.<state>``, a failure's explanation ``failure.<code>`` (its
``{detail}`` is optional). :data:`FAILURE_TEXT` and :data:`REFUND_NOTE` are the English
templates, for logs and tests.
"""

from __future__ import annotations

from bot.i18n import ENGLISH, messages, t

# error_code (stored on the job) -> what the user is told: failure.<code>.
FAILURE_CODES = (
    "content_policy",
    "insufficient_balance",
    "auth",
    "rate_limited",
    "unavailable",
    "bad_request",
    "task_failed",
    "timeout",
    "interrupted",
    "expired",
    "malformed",
    "not_delivered",
    "cancelled",
)
FAILURE_TEXT = {code: str(messages(ENGLISH).template(f"failure.{code}")) for code in FAILURE_CODES}
REFUND_NOTE = t("failure.refund_note", ENGLISH)
PERIODS = ("day", "week", "month")


def period_key(period: str) -> str:
    """Return the catalogue key of a quota window's noun (``today``, ``this week``)."""
    return f"period.{period if period in PERIODS else 'day'}"
