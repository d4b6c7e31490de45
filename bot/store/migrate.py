"""Moving a bot to another database: copy the whole ledger, ids and all, in one write.

``python -m bot migrate-db --from sqlite:///data/lemonbot.db --to postgresql://...``
calls :func:`migrate_db`. Both databases are opened (and so migrated to the same schema
version) by their engines; every table is read in one source transaction, so the copy
is a consistent snapshot, and written in one target transaction, so a failed copy
leaves the target as it was. Stop the bot before copying: rows it writes to the source
afterwards are not copied.
"""

from __future__ import annotations

import logging
from pathlib import Path

from bot.errors import StorageError
from bot.store.database import Database, placeholders
from bot.store.engines import engine_of, open_database, redacted, sqlite_path
from bot.store.postgres import PostgresDatabase

log = logging.getLogger(__name__)

# Every table of the ledger, parents before children, with the columns that order it.
TABLES: dict[str, str] = {
    "jobs": "id",
    "job_images": "job_id, position",
    "job_inputs": "job_id, position",
    "guild_settings": "guild_id",
    "quota_rules": "guild_id, kind, target_id",
    "blocked_users": "guild_id, user_id",
    "prompt_rules": "id",
    "mod_actions": "id",
    "bot_state": "key",
    "guild_budgets": "guild_id",
    "budget_alerts": "guild_id, budget_window, threshold",
    "budget_role_caps": "guild_id, role_id",
    "web_sessions": "id_hash",  # the dashboard's sign-ins carry over
    "job_thumbnails": "job_id, position",
}
# Tables whose ``id`` the database assigns; their counters must continue after a copy.
IDENTITY_TABLES = ("jobs", "prompt_rules", "mod_actions")
BATCH_ROWS = 500
BLOB_BATCH_ROWS = 20  # rows holding image bytes: a few megabytes each at most
BLOB_TABLES = frozenset({"job_images", "job_inputs", "job_thumbnails"})


class LedgerCopyError(StorageError):
    """The ledger could not be copied; the message is one line meant for a human."""


async def count_rows(db: Database) -> dict[str, int]:
    """Return the number of rows of every ledger table."""
    counts = {}
    for table in TABLES:
        row = await db.fetchone(f"SELECT COUNT(*) AS n FROM {table}")
        counts[table] = int(row["n"]) if row else 0
    return counts


async def _copy_table(source: Database, target: Database, table: str) -> int:
    """Copy one table in batches (in key order, so parents precede their children)."""
    copied = 0
    batch = BLOB_BATCH_ROWS if table in BLOB_TABLES else BATCH_ROWS
    while True:
        rows = await source.fetchall(
            f"SELECT * FROM {table} ORDER BY {TABLES[table]} LIMIT ? OFFSET ?",
            (batch, copied),
        )
        if not rows:
            return copied
        columns = list(rows[0].keys())
        await target.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({placeholders(len(columns))})",
            [tuple(row[c] for c in columns) for row in rows],
        )
        copied += len(rows)


async def copy_ledger(source_url: str | Path, target_url: str | Path) -> dict[str, int]:
    """Copy every ledger table from one database into an empty one; return rows per table.

    Ids are kept, and the target's id counters continue after them. Raises
    LedgerCopyError, having written nothing, when the target already holds rows or when
    the row counts of the two databases differ after the copy, and when a SQLite
    source file does not exist (opening it would create an empty one).
    """
    if engine_of(source_url) == "sqlite" and not sqlite_path(source_url).is_file():
        raise LedgerCopyError(f"there is no SQLite database at {sqlite_path(source_url)}")
    async with (
        open_database(source_url) as source,
        open_database(target_url) as target,
        source.transaction(),
        target.transaction(),
    ):
        occupied = {t: n for t, n in (await count_rows(target)).items() if n}
        if occupied:
            listed = ", ".join(f"{n} {t}" for t, n in occupied.items())
            raise LedgerCopyError(
                f"the target database {redacted(target_url)} is not empty ({listed}); "
                "nothing was copied"
            )
        expected = await count_rows(source)
        copied = {table: await _copy_table(source, target, table) for table in TABLES}
        if isinstance(target, PostgresDatabase):
            await target.reset_identities(IDENTITY_TABLES)
        stored = await count_rows(target)
        if not expected == copied == stored:
            raise LedgerCopyError(
                f"row counts differ after the copy (source {expected}, copied {copied}, "
                f"target {stored}); nothing was copied"
            )
    log.info("copied the ledger to %s: %s", redacted(target_url), stored)
    return stored


async def migrate_db(source_url: str | Path, target_url: str | Path) -> str:
    """Copy the ledger (see :func:`copy_ledger`) and return a one-line summary of it."""
    counts = await copy_ledger(source_url, target_url)
    listed = ", ".join(f"{n} {table}" for table, n in counts.items())
    return (
        f"Copied {sum(counts.values())} rows from {redacted(source_url)} to "
        f"{redacted(target_url)}: {listed}."
    )
