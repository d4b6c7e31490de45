"""Database outages: waited for by background work, refused at once to a member."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import asyncpg
import pytest

from bot.store import Store
from bot.store.outage import DatabaseUnavailable, impatient
from tests.postgres import PostgresServer

DOWN_LINE = "database unreachable"
BACK_LINE = "database reachable again"
WAIT = 60.0  # generous bounds: a busy machine


def lines(caplog: pytest.LogCaptureFixture, text: str) -> int:
    return sum(text in record.getMessage() for record in caplog.records)


class Heard(logging.Handler):
    """Sets an event when a record containing ``text`` is logged (on the loop's thread)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.event = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.event.set()


async def until_logged(text: str, task: asyncio.Task[None]) -> None:
    """Wait (bounded) until ``text`` is logged, or ``task`` has ended."""
    heard = Heard(text)
    logging.getLogger("bot").addHandler(heard)
    try:
        waiting = asyncio.create_task(heard.event.wait())
        await asyncio.wait({task, waiting}, timeout=WAIT, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
    finally:
        logging.getLogger("bot").removeHandler(heard)


@pytest.fixture
def locker(tmp_path: Path) -> sqlite3.Connection:
    """Another program's connection to the bot's SQLite file."""
    conn = sqlite3.connect(tmp_path / "lemonbot.db", isolation_level=None)
    yield conn
    conn.close()


async def test_a_write_waits_while_another_program_locks_the_sqlite_file(
    tmp_path: Path, locker: sqlite3.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    """``database is locked`` is retried until the lock goes: the write is kept, logged once."""
    caplog.set_level(logging.INFO)
    async with Store.open(tmp_path / "lemonbot.db") as store:
        locker.execute("BEGIN EXCLUSIVE")
        write: asyncio.Task[None] = asyncio.create_task(store.state.set("job", "kept"))
        await until_logged(DOWN_LINE, write)
        assert not write.done()  # still waiting for the lock, not failed
        locker.execute("COMMIT")
        async with asyncio.timeout(WAIT):
            await write
        assert await store.state.get("job") == "kept"
    assert (lines(caplog, DOWN_LINE), lines(caplog, BACK_LINE)) == (1, 1)


async def test_a_members_request_is_refused_at_once_while_the_file_is_locked(
    tmp_path: Path, locker: sqlite3.Connection
) -> None:
    """Under ``impatient`` one attempt is made: the lock refuses it, nothing is written."""
    async with Store.open(tmp_path / "lemonbot.db") as store:
        locker.execute("BEGIN EXCLUSIVE")
        with pytest.raises(DatabaseUnavailable), impatient():
            await store.state.set("request", "refused")
        locker.execute("COMMIT")
        assert await store.state.get("request") is None


@pytest.mark.postgres
async def test_the_pool_reconnects_after_the_server_ended_its_connections(
    postgres_server: PostgresServer, postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Connections the server ended under an idle pool are replaced; no statement fails."""
    name = postgres_url.rsplit("/", 1)[1]
    async with Store.open(postgres_url) as store:
        await store.state.set("before", "1")
        admin = await asyncpg.connect(postgres_server.admin_url)
        try:
            ended = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
        finally:
            await admin.close()
        assert ended >= 1
        async with store.transaction():
            await store.state.set("after", "2")
        assert await store.state.get("after") == "2"
