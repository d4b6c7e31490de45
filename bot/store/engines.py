"""Engine selection: a SQLite path or ``sqlite:///`` URL, or a ``postgresql://`` URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.store.database import Database
from bot.store.postgres import URL_SCHEMES, PostgresDatabase
from bot.store.sqlite import SqliteDatabase

SQLITE_SCHEME = "sqlite:///"


def engine_of(target: Path | str) -> str:
    """Return ``"sqlite"`` or ``"postgres"`` for a database path or URL.

    A path, or a string without ``://``, is a SQLite file (today's behaviour);
    ``sqlite:///relative.db`` and ``sqlite:////absolute.db`` are too. Any other URL
    scheme raises ValueError.
    """
    if isinstance(target, Path):
        return "sqlite"
    lowered = target.lower()
    if lowered.startswith(URL_SCHEMES):
        return "postgres"
    if lowered.startswith(SQLITE_SCHEME) or "://" not in target:
        return "sqlite"
    scheme = target.split("://", 1)[0]
    raise ValueError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///path.db or postgresql://..."
    )


def sqlite_path(target: Path | str) -> Path:
    """Return the file of a SQLite path or ``sqlite:///`` URL."""
    if isinstance(target, str) and target.lower().startswith(SQLITE_SCHEME):
        return Path(target[len(SQLITE_SCHEME) :])  # sqlite:////abs -> /abs
    return Path(target)


def redacted(target: Path | str) -> str:
    """Return a database path or URL fit for a log line or a message (no password)."""
    text = str(target)
    scheme, sep, rest = text.partition("://")
    credentials, at, host = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return text
    return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"


@asynccontextmanager
async def open_database(target: Path | str) -> AsyncIterator[Database]:
    """Open and migrate the database at ``target`` with its engine; close it on exit."""
    db: Database
    if engine_of(target) == "postgres":
        async with PostgresDatabase.open(str(target)) as db:
            yield db
    else:
        async with SqliteDatabase.open(sqlite_path(target)) as db:
            yield db
