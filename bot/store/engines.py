"""Engine selection: a SQLite path or ``sqlite:///`` URL, or a ``postgresql://`` URL."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.store.database import Database
from bot.store.postgres import URL_SCHEMES, PostgresDatabase
from bot.store.sqlite import SqliteDatabase

SQLITE_SCHEME = "sqlite:///"
# user:password@ in a URL (the last @ ends the user info), and password=... in a query string.
URL_PASSWORD = re.compile(r"(://[^/?#@:]*:)[^/?#]*(@)")
QUERY_PASSWORD = re.compile(r"([?&](?:ssl)?password=)[^&#\s]*", re.IGNORECASE)


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
    """Return a database path or URL fit for a log line or a message (no password).

    The password is masked where libpq reads one: in the user-info part
    (``user:pw@host``) and in the query string (``?password=pw``, ``sslpassword`` too).
    """
    text = str(target)
    if "://" not in text:
        return text
    text = URL_PASSWORD.sub(r"\g<1>***\g<2>", text)
    return QUERY_PASSWORD.sub(r"\g<1>***", text)


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
