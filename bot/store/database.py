"""The engine boundary: what a database engine must offer the store's repositories.

The repositories (:mod:`bot.store.jobs`, :mod:`bot.store.guilds`, ...) hold every SQL
statement of the bot, written once with ``?`` placeholders. An engine implements
:class:`Database` for one kind of database: :mod:`bot.store.sqlite` is the embedded
default, :mod:`bot.store.postgres` the shared one. An engine translates placeholders if
it must, and owns transactions and migrations (numbered, append-only files, the same
numbers with the same meaning per engine: see :func:`migrations`).
Where the engines' SQL truly differs, the engine hands the repositories its fragment
(:meth:`Database.blank_json_key`).

Hand-written SQL rather than SQLAlchemy Core: the statements exist once already, the
engines differ in that one fragment, and aiosqlite and asyncpg are the whole stack, with
no query layer to learn, configure or type between the repositories and the engines.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Any, Protocol

Row = Mapping[str, Any]
MIGRATION_NAME = re.compile(r"^V(\d+)__[\w-]+\.sql$")
COMMON = "common"  # the folder of migrations both engines run as they are


class Database(Protocol):
    """One database engine, as the repositories use it."""

    engine: str  # "sqlite" or "postgres"
    # Appended to a subquery that picks rows to claim: rows another transaction holds
    # are skipped (" FOR UPDATE SKIP LOCKED" on PostgreSQL; SQLite serialises anyway).
    skip_locked: str

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Run the body as one transaction; a call inside an open one joins it."""
        ...

    async def lock(self, *keys: str) -> None:
        """Serialise the rest of the open transaction with every other one locking a key.

        Call it inside a transaction, before the reads that a decision depends on (a
        quota reservation reads what was used, then inserts): two transactions that lock
        the same key, in this process or any other, then run one after the other; the
        locks are released when the transaction ends. Several keys at once are taken in
        one fixed order, so that transactions locking some of the same never deadlock;
        take all of a transaction's keys in one call. Raises RuntimeError outside one.
        SQLite's transactions are already serialised, so there it only checks that.
        """
        ...

    def blank_json_key(self, column: str, key: str) -> str:
        """Return SQL for the JSON object text of ``column`` with its ``key`` set to ''."""
        ...

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return every row."""
        ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query and return its first row, or None."""
        ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement and return the number of rows it changed."""
        ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""
        ...


def migrations(engine: str, root: Traversable | None = None) -> list[tuple[int, str, str]]:
    """Return ``(version, name, sql)`` of every migration ``engine`` runs, in order.

    A migration is a file ``V<n>__<what>.sql`` under ``bot/store/migrations/``: in
    ``common/`` when both engines run the same text, else in each engine's folder
    (``sqlite/``, ``postgres/``) in that engine's spelling. Every number is in exactly one
    of the two places for an engine, and the numbers run 1..n. An engine records what it
    applied by number (SQLite's ``user_version``, PostgreSQL's ``schema_migrations``,
    with the file name), not by folder, so a file may move to ``common/`` once both
    spellings agree without any database applying it again. ``root`` replaces the
    package's ``migrations`` folder (tests use it to build a database of an older layout).
    """
    found = []
    root = root or resources.files("bot.store") / "migrations"
    for folder in (root / COMMON, root / engine):
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            match = MIGRATION_NAME.match(entry.name)
            if match:
                found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    twice = sorted({v for v in versions if versions.count(v) > 1})
    if twice:
        raise RuntimeError(f"migrations {twice} are both in {COMMON}/ and in {engine}/")
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migration numbers must run 1..n without gaps: {versions}")
    return found


def placeholders(count: int) -> str:
    """Return ``?, ?, ...`` for ``count`` parameters."""
    return ", ".join("?" for _ in range(count))
