"""Row types and states of the ledger: what the store hands out, never raw rows.

Also the plain values built from them that cards show and listings take
(:class:`JobFilter`, :class:`QuotaStatus`): a module with no dependency of its own,
which the UI, the cogs and every layer may import (see ``tests/test_layers.py``).

Every type is a frozen dataclass. A job's column lists are derived from these
dataclasses (see :data:`DRAFT_COLUMNS` and :data:`JOB_UPDATABLE`), so a new column is
declared once, here, and in a migration.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

ACTIVE_STATES = ("queued", "submitted", "running")
GENERATING_STATES = ("submitted", "running")
TERMINAL_STATES = ("succeeded", "failed", "timed_out", "cancelled")
JOB_STATES = (*ACTIVE_STATES, *TERMINAL_STATES)
QUOTA_STATES = ("reserved", "settled", "released")
# Columns stored as JSON text.
JSON_COLUMNS = frozenset({"options", "request", "result_urls"})


@dataclass(frozen=True, kw_only=True)
class JobDraft:
    """Everything known about a job before it is stored."""

    guild_id: int
    channel_id: int
    user_id: int
    api_user: str
    application_id: int
    interaction_id: int | None
    interaction_token: str | None
    token_expires_at: float | None
    upload_limit: int
    model: str
    options: dict[str, Any]
    prompt: str
    request: dict[str, Any]
    quota_units: int
    quota_window: str = ""  # set by Admissions (with_quota_window) when it admits
    parent_id: int | None = None  # the job a Reroll, Edit or Remix was made from
    kind: str = "imagine"  # imagine | reroll | edit | remix
    input_count: int = 0  # reference images sent with the request
    locale: str = "en"  # the requester's language (bot.i18n): their cards are in it
    # Money (micro-dollars, bot.billing): the most the request can cost, the budget
    # window it counts against (set by Admissions when a budget applies), and where its
    # cost comes from: "unpriced" until settled when the gateway publishes no price.
    cost_estimate: int = 0
    budget_window: str = ""
    cost_source: str | None = None

    @property
    def images_asked(self) -> int:
        """How many images the request asked for: its ``count`` option, at least 1.

        Read only here, so that the charge for fewer images than asked and the note on
        the result card count alike.
        """
        return max(1, int(self.options.get("count") or 1))


@dataclass(frozen=True, kw_only=True)
class Job(JobDraft):
    """One row of the job ledger: its draft, and everything that happened since."""

    id: int
    message_id: int | None
    state: str
    task_id: str | None
    poll_url: str | None
    quota_state: str
    result_urls: list[str]
    revised_prompt: str | None
    error_code: str | None
    error_message: str | None
    delivery_state: str
    delivered_via: str | None
    delivered_channel_id: int | None
    delivered_message_id: int | None
    created_at: float
    submitted_at: float | None
    finished_at: float | None
    delivered_at: float | None
    updated_at: float
    deleted_by: int | None = None
    deleted_at: float | None = None
    acknowledged_at: float | None = None
    parts_delivered: int = 0
    lease_owner: str | None = None  # the process working on the job, until lease_until
    lease_until: float | None = None
    lease_token: int = 0  # raised at every hand-over; fences a stale owner's writes
    # What a gateway refusal (400) allowed, as JSON: {"kind": "ratios"|..., "values": [...]}
    error_hint: str | None = None
    cost: int | None = None  # micro-dollars once settled (0 for a failed job)

    @property
    def terminal(self) -> bool:
        """Whether the generation has ended (delivery may still be pending)."""
        return self.state in TERMINAL_STATES

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Job:
        """Build a Job from a ``SELECT * FROM jobs`` row, decoding the JSON columns.

        A row with exactly the job's fields is set on a new instance directly: the frozen
        ``__init__`` (one ``object.__setattr__`` per field, 45 of them) cost four fifths
        of reading a job, and every card, dispatch pass and admission reads jobs. Any
        other row goes through ``__init__``, which names a missing or unknown column.
        """
        data = dict(row)
        for column in JSON_COLUMNS:
            data[column] = json.loads(data[column]) if data[column] else []
        if cls is not Job or data.keys() != _JOB_FIELDS:
            return cls(**data)
        job = object.__new__(cls)
        job.__dict__.update(data)
        return job


DRAFT_COLUMNS = tuple(f.name for f in fields(JobDraft))
_JOB_FIELDS = frozenset(f.name for f in fields(Job))
# Columns a state transition may set besides ``state`` (the rest is fixed at insert
# or owned by one dedicated write: quota, delivery, deletion).
JOB_UPDATABLE = frozenset(
    {
        "task_id",
        "poll_url",
        "message_id",
        "result_urls",
        "revised_prompt",
        "error_code",
        "error_message",
        "error_hint",
        "cost",
        "cost_source",
        "submitted_at",
        "finished_at",
    }
)


def encode_column(name: str, value: Any) -> Any:
    """Return ``value`` as stored in column ``name`` (JSON columns as text)."""
    return json.dumps(value) if name in JSON_COLUMNS else value


_DRAFT_JSON_COLUMNS = tuple(c for c in DRAFT_COLUMNS if c in JSON_COLUMNS)


def encode_draft(draft: JobDraft) -> dict[str, Any]:
    """Return a draft's columns as stored, in ``DRAFT_COLUMNS`` order.

    :func:`encode_column` over every draft field, done at once: a burst's admissions
    encode hundreds of drafts, and a lookup per column cost more than the insert.
    """
    values = {name: draft.__dict__[name] for name in DRAFT_COLUMNS}
    for name in _DRAFT_JSON_COLUMNS:
        values[name] = json.dumps(values[name])
    return values


def with_quota_window(draft: JobDraft, window: str, budget_window: str = "") -> JobDraft:
    """Return ``draft`` with its quota (and budget) window set (``replace``, for drafts).

    Admissions set the windows of every request of a burst; ``replace`` runs the frozen
    ``__init__`` again, which cost more than the rest of a request's admission.
    """
    if type(draft) is not JobDraft:
        return replace(draft, quota_window=window, budget_window=budget_window)
    copy = object.__new__(JobDraft)
    copy.__dict__.update(draft.__dict__, quota_window=window, budget_window=budget_window)
    return copy


@dataclass(frozen=True)
class InputImage:
    """A reference image of a request: its bytes, kept with the job."""

    position: int
    filename: str
    content_type: str
    data: bytes | None  # None once retention removed it


JOB_KINDS = ("imagine", "reroll", "edit", "remix")


@dataclass(frozen=True)
class StoredImage:
    """A downloaded image kept until it has been delivered."""

    position: int
    url: str | None
    content_type: str
    data: bytes | None


@dataclass(frozen=True)
class JobFilter:
    """Which jobs a listing shows (None = any)."""

    guild_id: int | None = None
    user_id: int | None = None
    model: str | None = None
    state: str | None = None
    since: float | None = None


@dataclass(frozen=True)
class GuildSettings:
    """A server's own settings; None means "use the bot-wide default"."""

    guild_id: int
    period_limit: int | None = None
    quota_period: str = "day"
    max_running_per_user: int | None = None
    max_running_per_guild: int | None = None
    log_channel_id: int | None = None
    moderator_role_id: int | None = None
    fold_accents: bool = True  # the blocklist ignores accents (stored as 0/1)
    # The gateway's moderation: 'auto' everywhere, or 'low' in age-restricted channels
    # (never in a DM); only models that take ``moderation`` get it.
    strictness: str = "auto"  # auto | low_age_restricted
    output_format: str | None = None  # the default format; None: the bot picks per request
    cost_visible: bool = False  # a member's Details shows their job's cost (stored as 0/1)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> GuildSettings:
        """Build settings from a row (``fold_accents``, ``cost_visible`` are stored as 0/1)."""
        data = dict(row)
        data["fold_accents"] = bool(data["fold_accents"])
        data["cost_visible"] = bool(data["cost_visible"])
        return cls(**data)


GUILD_SETTING_FIELDS = frozenset(f.name for f in fields(GuildSettings)) - {"guild_id"}


@dataclass(frozen=True)
class Budget:
    """A server's dollar budget per period (micro-dollars), and its per-member cap."""

    guild_id: int
    amount: int
    period: str  # day | week | month
    member_cap: int | None
    allow_unpriced: bool
    set_by: int
    set_at: float

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Budget:
        """Build a budget from a row (``allow_unpriced`` is stored as 0/1)."""
        data = dict(row)
        data["allow_unpriced"] = bool(data["allow_unpriced"])
        return cls(**data)


@dataclass(frozen=True)
class BudgetStanding:
    """A server's budget now: what is spent (settled, and reserved by jobs in flight)."""

    budget: Budget
    window: str
    settled: int
    reserved: int
    resets_at: int

    @property
    def left(self) -> int:
        """What is left to reserve, in micro-dollars (never below zero)."""
        return max(0, self.budget.amount - self.settled - self.reserved)


@dataclass(frozen=True)
class SpendRow:
    """One settled job's cost (micro-dollars): when, by whom, with which model."""

    created_at: float
    user_id: int
    model: str
    cost: int
    images: int = 0  # the images it delivered


@dataclass(frozen=True)
class DailySpend:
    """One day's settled spend of one member with one model (micro-dollars, images)."""

    day: str  # ISO date (UTC)
    user_id: int
    model: str
    cost: int
    images: int


@dataclass(frozen=True)
class UsageReport:
    """What a server spent in one window: in all, per member, per model and per day."""

    period: str
    since: int
    until: int
    total: int
    jobs: int
    by_member: list[tuple[int, int]]  # (user id, micro-dollars), most first
    by_model: list[tuple[str, int]]
    by_day: list[tuple[str, int]]  # (ISO date, micro-dollars), every day of the window
    images_by_day: list[tuple[str, int]]  # (ISO date, images delivered)
    budget: int | None = None  # the server's budget amount, when one is set
    left: int | None = None  # what is left of it now (settled and reserved spend deducted)
    # Per (day, member, model): what the dashboard's charts split by member or model.
    daily: list[DailySpend] = field(default_factory=list)


@dataclass(frozen=True)
class QuotaRule:
    """A role's or a user's quota; ``limit_units`` None means unlimited."""

    guild_id: int
    kind: str
    target_id: int
    limit_units: int | None
    set_by: int
    set_at: float


@dataclass(frozen=True)
class QuotaStatus:
    """A member's standing in the current quota window (worked out by QuotaService)."""

    used: int
    limit: int | None
    resets_at: int
    period: str

    @property
    def remaining(self) -> int | None:
        """Units left in this window (None when unlimited)."""
        return None if self.limit is None else max(0, self.limit - self.used)


@dataclass(frozen=True)
class BlockedUser:
    """A user who may not use /imagine in a server."""

    guild_id: int
    user_id: int
    reason: str | None
    blocked_by: int
    blocked_at: float


@dataclass(frozen=True)
class PromptRule:
    """A blocked word or regular expression of a server."""

    id: int
    guild_id: int
    pattern: str
    is_regex: bool
    added_by: int
    added_at: float

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> PromptRule:
        """Build a rule from a row (``is_regex`` is stored as 0/1)."""
        data = dict(row)
        data["is_regex"] = bool(data["is_regex"])
        return cls(**data)


@dataclass(frozen=True)
class ModAction:
    """One entry of the moderator action log."""

    id: int
    guild_id: int
    moderator_id: int | None
    action: str
    target: str | None
    detail: str | None
    created_at: float
    via: str | None = None  # None: from Discord; "web": from the dashboard


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser of the dashboard (the cookie holds the id; the row its hash)."""

    id_hash: str
    user_id: int
    username: str
    locale: str
    guild_ids: tuple[int, ...]  # the servers the user is in (Discord's OAuth2 answer)
    moderated_ids: tuple[int, ...]  # those the bot's view says they moderate, as of:
    checked_at: float
    created_at: float
    expires_at: float
    revoked_at: float | None = None


@dataclass(frozen=True)
class GalleryFilter:
    """Which jobs a gallery shows, newest first (None = any)."""

    guild_ids: tuple[int, ...] | None = None  # None: every server (with user_id only)
    user_id: int | None = None
    model: str | None = None
    state: str | None = None
    text: str | None = None  # in the prompt, case-insensitive
    since: float | None = None  # created at or after (a timestamp)
    until: float | None = None  # created before
    with_inputs: bool = False  # only jobs made from reference images
    before_id: int | None = None  # paging: only jobs older than this one


def columns_of(row_type: type) -> str:
    """Return the comma-separated column list of a row dataclass, for a SELECT."""
    return ", ".join(f.name for f in fields(row_type))
