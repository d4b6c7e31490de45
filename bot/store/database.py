"""The engine boundary: what a database engine must offer the store's repositories.

The repositories (:mod:`bot.store.jobs`, :mod:`bot.store.guilds`, ...) hold every SQL
statement of the bot, written once with ``?`` placeholders. An engine implements
:class:`Database` for one kind of database: :mod:`bot.store.sqlite` is the embedded
default. An engine translates placeholders if it must, and owns transactions and
migrations (numbered, append-only files under ``bot/store/migrations/<engine>/``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from importlib import resources
from typing import Any, Protocol

Row = Mapping[str, Any]
MIGRATION_NAME = re.compile(r"^V(\d+)__[\w-]+\.sql$")


class Database(Protocol):
    """One database engine, as the repositories use it."""

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """Run the body as one transaction; a call inside an open one joins it."""
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


def migrations(engine: str) -> list[tuple[int, str, str]]:
    """Return ``(version, name, sql)`` of every migration file of ``engine``, in order."""
    found = []
    folder = resources.files("bot.store") / "migrations" / engine
    for entry in folder.iterdir():
        match = MIGRATION_NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migration numbers must run 1..n without gaps: {versions}")
    return found


def placeholders(count: int) -> str:
    """Return ``?, ?, ...`` for ``count`` parameters."""
    return ", ".join("?" for _ in range(count))
