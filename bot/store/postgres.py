"""The PostgreSQL engine: an asyncpg pool shared by several identical bot processes.

The repositories' statements are written once with ``?`` placeholders; this engine
numbers them (``$1, $2, ...``) once per statement text. A transaction
(:meth:`PostgresDatabase.transaction`) takes one pooled connection and binds it to the
current task until it ends; statements of that task join it, nested transactions too.
A statement outside a transaction runs on its own pooled connection, as its own
transaction. Transactions run at READ COMMITTED, where every conditional write of the
repositories (``UPDATE ... WHERE state IN ...``) re-checks its condition on the row it
locks; a read-check-write spanning several statements takes :meth:`lock` first.

Migrations are the files of ``bot/store/migrations/postgres`` and
``bot/store/migrations/common`` (:func:`bot.store.database.migrations`), numbered like
SQLite's; each runs in one transaction that also records it in ``schema_migrations``, and
a session advisory lock makes processes that start together migrate one after another.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar, cast

import asyncpg

from bot.store.database import Row, migrations
from bot.store.outage import Outage

T = TypeVar("T")
Connection = asyncpg.pool.PoolConnectionProxy

log = logging.getLogger(__name__)

ENGINE = "postgres"
URL_SCHEMES = ("postgresql://", "postgres://")
# Key of the session advisory lock held while migrating (two-key form: its own space).
MIGRATION_LOCK = (0x4C454D4F, 0x4E424F54)  # "LEMO", "NBOT"
# No floor: asyncpg restores one by reconnecting in the background, and logs a traceback
# per failed attempt while the server is down; connections are made as statements need them.
POOL_MIN_SIZE = 0
POOL_MAX_SIZE = 10
CLOSE_GRACE_SECONDS = 5.0


@functools.lru_cache(maxsize=1024)
def numbered(sql: str) -> str:
    """Return ``sql`` with its ``?`` placeholders numbered ``$1..$n`` for PostgreSQL.

    The store's SQL never has a ``?`` inside a string literal; that is checked, not
    assumed, since a literal's ``?`` would silently become a parameter.
    """
    pieces = sql.split("'")
    if len(pieces) % 2 == 0:
        raise ValueError(f"unterminated string literal in SQL: {sql!r}")
    count = 0
    for index in range(0, len(pieces), 2):  # even pieces lie outside literals
        parts = pieces[index].split("?")
        numbered_parts = [parts[0]]
        for part in parts[1:]:
            count += 1
            numbered_parts.append(f"${count}{part}")
        pieces[index] = "".join(numbered_parts)
    for index in range(1, len(pieces), 2):
        if "?" in pieces[index]:
            raise ValueError(f"'?' inside a string literal in SQL: {sql!r}")
    return "'".join(pieces)


def unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the server is gone (crashed, restarting, refusing connections)."""
    if isinstance(exc, asyncpg.QueryCanceledError):
        return False  # a statement timeout: the server answered
    if isinstance(exc, asyncpg.InterfaceError):
        return "closed" in str(exc)  # a connection that died under the pool
    if isinstance(exc, asyncpg.exceptions.InternalClientError):
        return True  # a connection the server ended while idle, still in the pool
    return isinstance(
        exc, (OSError, asyncpg.PostgresConnectionError, asyncpg.OperatorInterventionError)
    )


def changed_rows(status: str) -> int:
    """Return the row count of a command status such as ``UPDATE 3`` or ``INSERT 0 1``."""
    last = status.rsplit(" ", 1)[-1]
    return int(last) if last.isdigit() else 0


class PostgresDatabase:
    """The bot's PostgreSQL database; open it with :meth:`open` (an async context manager)."""

    engine = ENGINE
    skip_locked = " FOR UPDATE SKIP LOCKED"

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        # The connection of each task's open transaction (tasks, not contexts: a task
        # spawned inside a transaction inherits the context but must not share it).
        self._bound: dict[asyncio.Task[Any], Connection] = {}
        self.outage = Outage(ENGINE, unreachable)

    @classmethod
    @asynccontextmanager
    async def open(cls, url: str) -> AsyncIterator[PostgresDatabase]:
        """Connect a pool to ``url``, migrate, and close the pool on exit."""
        pool = await asyncpg.create_pool(url, min_size=POOL_MIN_SIZE, max_size=POOL_MAX_SIZE)
        try:
            db = cls(pool)
            await db.migrate()
            yield db
        finally:
            try:
                await asyncio.wait_for(pool.close(), CLOSE_GRACE_SECONDS)
            except TimeoutError:
                log.warning(
                    "database connections still busy after %ss; closing them",
                    CLOSE_GRACE_SECONDS,
                )
                pool.terminate()

    def _connection(self) -> asyncpg.pool.PoolConnectionProxy | None:
        task = asyncio.current_task()
        return self._bound.get(task) if task is not None else None

    async def _run(self, statement: Callable[[Connection], Awaitable[T]]) -> T:
        """Run ``statement`` on the open transaction's connection, or on a pooled one.

        Outside a transaction it is tried again while the server is unreachable (see
        :mod:`bot.store.outage`); inside one, a lost connection ends the transaction.
        """
        bound = self._connection()
        if bound is not None:
            try:
                return await statement(bound)
            except Exception as exc:
                lost = self.outage.lost(exc)
                if lost is exc:
                    raise
                raise lost from exc

        async def attempt() -> T:
            async with self._pool.acquire() as conn:
                return await statement(conn)

        return await self.outage.run(attempt)

    async def _begin(self) -> tuple[Connection, Any]:
        """Take a pooled connection and start a transaction on it."""
        conn = await self._pool.acquire()
        transaction = conn.transaction()
        try:
            await transaction.start()
        except BaseException:
            await asyncio.shield(self._give_back(conn, transaction))
            raise
        return conn, transaction

    async def _give_back(self, conn: Connection, transaction: Any) -> None:
        """Return a connection to the pool with no transaction open on it.

        A task cancelled at the wrong moment (its BEGIN in flight, or in its rollback or
        commit: the bot cancels its work at shutdown) would otherwise hand the pool a
        connection inside a transaction, which asyncpg resets with an error in the log.
        Awaited shielded: a second cancellation does not stop it half-way.
        """
        if not conn.is_closed() and conn.is_in_transaction():
            try:
                await transaction.rollback()
            except Exception:  # started outside asyncpg's knowledge, or the connection died
                with contextlib.suppress(Exception):
                    await conn.execute("ROLLBACK")
        await self._pool.release(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[None]:
        """Run the body as one transaction on one connection; nested calls join it.

        Starting it is tried again while the server is unreachable; a connection lost
        in the body raises DatabaseUnavailable (the body is not repeated).
        """
        task = asyncio.current_task()
        if task is None or task in self._bound:
            yield
            return
        conn, transaction = await self.outage.run(self._begin)
        self._bound[task] = conn
        try:
            try:
                yield
            except BaseException as exc:
                with contextlib.suppress(Exception):  # a dead connection has nothing to undo
                    await transaction.rollback()
                if isinstance(exc, Exception) and (lost := self.outage.lost(exc)) is not exc:
                    raise lost from exc
                raise
            try:
                await transaction.commit()
            except Exception as exc:
                lost = self.outage.lost(exc)
                if lost is exc:
                    raise
                raise lost from exc
        finally:
            del self._bound[task]
            await asyncio.shield(self._give_back(conn, transaction))

    async def lock(self, *keys: str) -> None:
        """Wait for, then hold until the transaction ends, the advisory locks of ``keys``.

        One statement takes them one after the other in sorted order, the order every
        transaction uses, so two that want some of the same keys never deadlock.
        """
        conn = self._connection()
        if conn is None:
            raise RuntimeError("lock() must be called inside a transaction")
        await conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext(k)) FROM unnest($1::text[]) AS k",
            sorted(set(keys)),
        )

    def blank_json_key(self, column: str, key: str) -> str:
        """Return SQL for the JSON text of ``column`` with its top-level ``key`` set to ''."""
        assert key.isidentifier(), key
        return f"jsonb_set({column}::jsonb, '{{{key}}}', '\"\"')::text"

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query (RETURNING statements too) and return every row."""
        rows = await self._run(lambda conn: conn.fetch(numbered(sql), *params))
        return cast(list[Row], rows)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """Run a query and return its first row, or None."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement and return the number of rows it changed."""
        return changed_rows(await self._run(lambda conn: conn.execute(numbered(sql), *params)))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter row, all or nothing."""
        if not rows:
            return
        async with self.transaction():
            await self._run(lambda conn: conn.executemany(numbered(sql), rows))

    async def schema_version(self) -> int:
        """Return the number of the last migration applied (0 on an empty database)."""
        row = await self.fetchone("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        if row is None or not row["present"]:
            return 0
        row = await self.fetchone("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations")
        return int(row["v"]) if row else 0

    async def migrate(self) -> int:
        """Apply pending migrations in order, one process at a time; return the version."""
        async with self._pool.acquire() as conn:
            await conn.execute("SELECT pg_advisory_lock($1, $2)", *MIGRATION_LOCK)
            try:
                await conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                    "applied_at DOUBLE PRECISION NOT NULL)"
                )
                current = int(
                    await conn.fetchval("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
                )
                for version, name, sql in migrations(ENGINE):
                    if version <= current:
                        continue
                    log.info("applying migration %s", name)
                    async with conn.transaction():
                        await conn.execute(sql)  # no arguments: the script may hold several
                        await conn.execute(
                            "INSERT INTO schema_migrations (version, name, applied_at) "
                            "VALUES ($1, $2, $3)",
                            version,
                            name,
                            time.time(),
                        )
                    current = version
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1, $2)", *MIGRATION_LOCK)
        return current

    async def reset_identities(self, tables: Sequence[str]) -> None:
        """Make each table's ``id`` identity continue after its largest id (after a copy)."""
        for table in tables:
            await self.fetchone(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
            )
