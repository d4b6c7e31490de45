"""The storage boundary: row types, the repositories, and the engines under them.

The rest of the bot talks to a :class:`Store` only: ``store.jobs`` (the ledger),
``store.images`` (its result images),
``store.quota`` (its quota units), ``store.queue`` (how many jobs generate or wait),
``store.guilds`` (server settings and rules), ``store.spend`` (dollar budgets and what
they saw spent), ``store.actions`` (the moderator log),
``store.state`` (the bot's own keys), ``store.web`` (the dashboard's sessions,
thumbnails and gallery reads), ``store.transaction()`` to make several
writes one, and ``store.lock(key)`` to serialise a read-check-write across processes.
Cogs never touch the store; services do.

:meth:`Store.open` picks the engine from its argument: a SQLite file (a path or a
``sqlite:///`` URL) or PostgreSQL (a ``postgresql://`` URL).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from bot.store.actions import ActionLog
from bot.store.budget import BudgetStore
from bot.store.database import Database
from bot.store.engines import open_database
from bot.store.guilds import GuildStore
from bot.store.images import ImageStore
from bot.store.jobs import JobStore, LeaseLost
from bot.store.queue import QueueStore
from bot.store.quota import QuotaStore
from bot.store.rows import (
    ACTIVE_STATES,
    GENERATING_STATES,
    JOB_KINDS,
    JOB_STATES,
    TERMINAL_STATES,
    BlockedUser,
    Budget,
    BudgetStanding,
    DailySpend,
    GalleryFilter,
    GuildSettings,
    InputImage,
    Job,
    JobDraft,
    JobFilter,
    ModAction,
    PromptRule,
    QuotaRule,
    QuotaStatus,
    SpendRow,
    StoredImage,
    UsageReport,
    WebSession,
)
from bot.store.spend import SpendStore
from bot.store.state import StateStore
from bot.store.web import WebStore

__all__ = [
    "ACTIVE_STATES",
    "GENERATING_STATES",
    "JOB_KINDS",
    "JOB_STATES",
    "TERMINAL_STATES",
    "ActionLog",
    "BlockedUser",
    "Budget",
    "BudgetStanding",
    "DailySpend",
    "GalleryFilter",
    "GuildSettings",
    "GuildStore",
    "ImageStore",
    "InputImage",
    "Job",
    "JobDraft",
    "JobFilter",
    "JobStore",
    "LeaseLost",
    "ModAction",
    "PromptRule",
    "QueueStore",
    "QuotaRule",
    "QuotaStatus",
    "QuotaStore",
    "SpendRow",
    "StateStore",
    "Store",
    "StoredImage",
    "UsageReport",
    "WebSession",
    "WebStore",
]


class Store:
    """Every repository of the bot over one database engine."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.jobs = JobStore(db)
        self.images = ImageStore(db, self.jobs)
        self.quota = QuotaStore(db)
        self.queue = QueueStore(db)
        self.guilds = GuildStore(db)
        self.spend = SpendStore(db)
        self.actions = ActionLog(db)
        self.state = StateStore(db)
        self.budget = BudgetStore(db)
        self.web = WebStore(db)

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Make the writes of the body one transaction (nested calls join it)."""
        return self.db.transaction()

    async def lock(self, *keys: str) -> None:
        """Serialise the open transaction with every other one locking one of ``keys``."""
        await self.db.lock(*keys)

    @classmethod
    @asynccontextmanager
    async def open(cls, url_or_path: Path | str) -> AsyncIterator[Store]:
        """Open and migrate the database (SQLite path or URL, PostgreSQL URL); close on exit."""
        async with open_database(url_or_path) as db:
            yield cls(db)
