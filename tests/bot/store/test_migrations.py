"""Schema migrations: written once where the engines agree, applied once per database."""

from __future__ import annotations

import fnmatch
import functools
import logging
import tomllib
from pathlib import Path
from typing import Any

import pytest

import bot
from bot.store import Store
from bot.store.database import COMMON, migrations
from tests.conftest import ENGINES

FOLDER = Path(bot.__file__).parent / "store/migrations"
ENGINE_NAMES = ("sqlite", "postgres")


def old_layout(root: Path, upto: int | None = None) -> Path:
    """Write the layout from before common/: every engine's folder holds all its files.

    Each engine gets the very files it runs today (those of common/ copied into both
    folders), which is what the tree held before they moved; ``upto`` keeps the first few.
    """
    for engine in ENGINE_NAMES:
        (root / engine).mkdir(parents=True)
        for version, name, sql in migrations(engine):
            if upto is None or version <= upto:
                (root / engine / name).write_text(sql, encoding="utf-8")
    return root


def engines_reading(monkeypatch: pytest.MonkeyPatch, root: Path) -> None:
    """Make both engines migrate from the folders under ``root``."""
    for module in ("bot.store.sqlite", "bot.store.postgres"):
        monkeypatch.setattr(f"{module}.migrations", functools.partial(migrations, root=root))


async def applied(store: Store) -> list[Any]:
    """What the engine recorded of the migrations it applied."""
    if store.db.engine == "postgres":
        rows = await store.db.fetchall(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        )
        return [(r["version"], r["name"], r["applied_at"]) for r in rows]
    return [await store.db.schema_version()]


async def schema(store: Store) -> tuple[dict[str, list[str]], set[str]]:
    """The ledger's tables with their columns in order, and its created indexes."""
    db = store.db
    if db.engine == "postgres":
        rows = await db.fetchall(
            "SELECT table_name AS t, column_name AS c FROM information_schema.columns "
            "WHERE table_schema = 'public' AND table_name <> 'schema_migrations' "
            "ORDER BY table_name, ordinal_position"
        )
        tables: dict[str, list[str]] = {}
        for row in rows:
            tables.setdefault(row["t"], []).append(row["c"])
        indexes = await db.fetchall(
            "SELECT indexname AS name FROM pg_indexes WHERE schemaname = 'public' "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
    else:
        names = await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        tables = {}
        for row in names:
            info = await db.fetchall(f"PRAGMA table_info({row['name']})")
            tables[row["name"]] = [c["name"] for c in info]
        indexes = await db.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        )
    return tables, {r["name"] for r in indexes}


@pytest.fixture(params=ENGINES)
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database with no tables yet: a new SQLite file or an empty PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("empty_postgres_url"))
    return str(tmp_path / "existing.db")


def test_no_migration_is_written_twice():
    """A file both engines would run byte for byte lives once, in common/."""
    postgres = {name: sql for _, name, sql in migrations("postgres")}
    for _, name, sql in migrations("sqlite"):
        in_common = (FOLDER / COMMON / name).is_file()
        assert in_common == (sql == postgres[name]), f"{name}: in common/ iff the engines agree"
    assert {p.name for p in (FOLDER / COMMON).glob("V*.sql")} >= {
        "V3__active_index.sql",
        "V7__locale.sql",
    }


def test_a_migration_in_both_places_is_refused(tmp_path):
    """One number in common/ and in an engine's folder is an error, not two migrations."""
    root = old_layout(tmp_path / "migrations", upto=3)
    (root / COMMON).mkdir()
    (root / COMMON / "V3__active_index.sql").write_text("SELECT 1;")
    with pytest.raises(RuntimeError, match=r"\[3\] are both in common/ and in sqlite/"):
        migrations("sqlite", root=root)


def test_common_migrations_run_among_the_engines_own(tmp_path):
    """An engine runs common/'s files in their place by number; a missing one is a gap."""
    names = [name for _, name, _ in migrations("sqlite")]
    assert names[2] == "V3__active_index.sql" and names[6] == "V7__locale.sql"
    root = old_layout(tmp_path / "migrations", upto=4)
    (root / "sqlite" / "V3__active_index.sql").unlink()
    with pytest.raises(RuntimeError, match=r"without gaps: \[1, 2, 4\]"):
        migrations("sqlite", root=root)


@pytest.mark.postgres
async def test_both_engines_end_at_the_same_version_and_schema(tmp_path, empty_postgres_url):
    """A new SQLite file and a new PostgreSQL database end at one version and one schema."""
    async with (
        Store.open(tmp_path / "new.db") as lite,
        Store.open(empty_postgres_url) as pg,
    ):
        latest = len(migrations("sqlite"))
        assert await lite.db.schema_version() == await pg.db.schema_version() == latest
        assert latest == len(migrations("postgres")) >= 7
        lite_tables, lite_indexes = await schema(lite)
        pg_tables, pg_indexes = await schema(pg)
        assert lite_tables == pg_tables
        assert lite_indexes == pg_indexes
        assert "locale" in lite_tables["jobs"] and "jobs_active" in lite_indexes  # common/


async def test_a_database_migrated_before_common_is_left_alone(
    tmp_path, monkeypatch, caplog, empty_url
):
    """A database that ran V3 and V7 from its engine's folder applies nothing again."""
    with monkeypatch.context() as patch:
        engines_reading(patch, old_layout(tmp_path / "old"))
        async with Store.open(empty_url) as store:
            before = await applied(store)
            old_schema = await schema(store)

    with caplog.at_level(logging.INFO, logger="bot.store"):
        async with Store.open(empty_url) as store:
            assert await store.db.migrate() == len(migrations(store.db.engine))
            assert await applied(store) == before
            assert await schema(store) == old_schema
    assert [r.getMessage() for r in caplog.records if "migration" in r.getMessage()] == []


async def test_a_database_from_before_v3_takes_the_rest_from_common(
    request, tmp_path, monkeypatch, caplog, empty_url
):
    """A database stopped at V2 runs V3..n, common/'s among them, to a fresh schema."""
    with monkeypatch.context() as patch:
        engines_reading(patch, old_layout(tmp_path / "old", upto=2))
        async with Store.open(empty_url) as store:
            assert await store.db.schema_version() == 2

    with caplog.at_level(logging.INFO, logger="bot.store"):
        async with Store.open(empty_url) as store:
            engine = store.db.engine
            assert await store.db.schema_version() == len(migrations(engine))
            upgraded = await schema(store)
    names = [name for _, name, _ in migrations(engine)]
    assert [r.getMessage() for r in caplog.records if "migration" in r.getMessage()] == [
        f"applying migration {name}" for name in names[2:]
    ]
    fresh = tmp_path / "fresh.db" if engine == "sqlite" else request.getfixturevalue("postgres_url")
    async with Store.open(fresh) as store:
        assert upgraded == await schema(store)


def test_every_migration_is_package_data():
    """The wheel carries every migration folder, common/ too (pyproject's package-data)."""
    pyproject = tomllib.loads((FOLDER.parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["bot"]
    package = FOLDER.parents[1]
    files = sorted(FOLDER.glob("*/V*.sql"))
    assert {f.parent.name for f in files} == {COMMON, *ENGINE_NAMES}
    for file in files:
        relative = file.relative_to(package).as_posix()
        assert any(fnmatch.fnmatchcase(relative, p) for p in patterns), relative


async def test_a_daily_limit_from_before_v10_is_kept_as_the_period_limit(
    tmp_path, monkeypatch, empty_url
):
    """V10 renames guild_settings.daily_limit to period_limit; a server's limit survives."""
    with monkeypatch.context() as patch:
        engines_reading(patch, old_layout(tmp_path / "old", upto=9))
        async with Store.open(empty_url) as store:
            assert await store.db.schema_version() == 9
            await store.db.execute(
                "INSERT INTO guild_settings (guild_id, daily_limit, quota_period, updated_at) "
                "VALUES (?, ?, ?, ?)",
                (1, 5, "week", 0.0),
            )

    async with Store.open(empty_url) as store:
        assert await store.db.schema_version() >= 10
        settings = await store.guilds.settings(1)
        assert (settings.period_limit, settings.quota_period) == (5, "week")
        tables, _ = await schema(store)
        assert "period_limit" in tables["guild_settings"]
        assert "daily_limit" not in tables["guild_settings"]
