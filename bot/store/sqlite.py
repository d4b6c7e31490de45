"""The SQLite engine: one aiosqlite connection in WAL mode for the whole process.

Every statement runs inside :meth:`SqliteDatabase.transaction`, which serialises
transactions with an asyncio lock and opens them with ``BEGIN IMMEDIATE``, so a
read-check-write (such as a quota reservation) is atomic even with many concurrent
commands. Transactions nest: a statement run inside an open transaction joins it.

Migrations are the files of ``bot/store/migrations/sqlite`` and
``bot/store/migrations/common`` (:func:`bot.store.database.migrations`), each run as one
script (SQLite parses it, nobody splits it by hand) in one transaction with the new
``PRAGMA user_version``.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import aiosqlite

from bot.store.database import Row, migrations
from bot.store.outage import Outage

log = logging.getLogger(__name__)

ENGINE = "sqlite"
# How long one attempt waits for another program's lock before the outage retries begin
# (short, so that a member's request is refused within Discord's three seconds).
BUSY_TIMEOUT_MS = 1000


def locked(exc: BaseException) -> bool:
    """Whether ``exc`` says another program holds the file's lock (``database is locked``)."""
    return isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc)
    )


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> dict[str, Any]:
    """Build each row as a plain dict, in the database's thread.

    ``sqlite3.Row`` costs ten times as much to turn into a dict, and every row becomes
    one (a job row on the way to every card).
    """
    return dict(zip([column[0] for column in cursor.description], row, strict=True))


class SqliteDatabase:
    """The bot's SQLite database; open it with :meth:`open` (an async context manager)."""

    engine = ENGINE
    skip_locked = ""  # transactions are serialised: nobody else holds a row

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._owner: asyncio.Task[Any] | None = None
        self.outage = Outage(ENGINE, locked)

    @classmethod
    @asynccontextmanager
    async def open(cls, path: Path | str) -> AsyncIterator[SqliteDatabase]:
        """Open (creating folders as needed), migrate, and close on exit."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = _dict_row  # type: ignore[assignment]  # a callable is allowed
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA synchronous=NORMAL")
            await conn.execute("PRAGMA foreign_keys=ON")
            await conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS:d}")
            db = cls(conn)
            await db.migrate()
            yield db
        finally:
            await conn.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Run the body as one ``BEGIN IMMEDIATE`` transaction; nested calls join it.

        While another program holds the file's lock, the ``BEGIN`` is tried again (see
        :mod:`bot.store.outage`). A task cancelled during its ``BEGIN`` leaves no
        transaction open behind it.
        """
        task = asyncio.current_task()
        if task is not None and self._owner is task:
            yield
            return
        async with self._lock:
            self._owner = task
            try:
                try:
                    await self.outage.run(self._begin)
                except BaseException:
                    # Cancelled while the BEGIN was in flight, it may still have run in
                    # aiosqlite's thread: roll it back (queued after it), whatever happens
                    # to this task, or the next transaction finds one open.
                    await asyncio.shield(self._conn.rollback())
                    raise
                try:
                    yield
                except BaseException as exc:
                    await self._conn.rollback()
                    if isinstance(exc, Exception) and (lost := self.outage.lost(exc)) is not exc:
                        raise lost from exc
                    raise
                await self._conn.commit()
            finally:
                self._owner = None

    async def _begin(self) -> None:
        await self._conn.execute("BEGIN IMMEDIATE")

    async def lock(self, *keys: str) -> None:
        """Check that a transaction is open: SQLite already runs them one at a time."""
        if self._owner is None or self._owner is not asyncio.current_task():
            raise RuntimeError("lock() must be called inside a transaction")

    def blank_json_key(self, column: str, key: str) -> str:
        """Return SQL for the JSON text of ``column`` with its top-level ``key`` set to ''."""
        assert key.isidentifier(), key
        return f"json_set({column}, '$.{key}', '')"

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query (RETURNING statements too) and return every row."""
        async with self.transaction():
            rows = await self._conn.execute_fetchall(sql, params)  # one thread hop
            return cast(list[Row], list(rows))

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query and return its first row, or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement and return the number of rows it changed."""
        async with self.transaction():
            cursor = await self._conn.execute(sql, params)
            count = cursor.rowcount
            await cursor.close()
            return count

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter row."""
        async with self.transaction():
            await self._conn.executemany(sql, rows)

    async def schema_version(self) -> int:
        """Return the number of the last migration applied."""
        row = await self.fetchone("PRAGMA user_version")
        return int(row["user_version"]) if row else 0

    async def migrate(self) -> int:
        """Apply pending migrations in order; return the schema version."""
        current = await self.schema_version()
        for version, name, sql in migrations(ENGINE):
            if version <= current:
                continue
            log.info("applying migration %s", name)
            async with self._lock:
                try:
                    await self._conn.executescript(
                        f"BEGIN IMMEDIATE;\n{sql}\n;PRAGMA user_version = {version:d};\nCOMMIT;"
                    )
                except BaseException:
                    if self._conn.in_transaction:
                        await self._conn.rollback()
                    raise
            current = version
        return current
