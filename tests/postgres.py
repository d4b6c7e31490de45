"""A real PostgreSQL for the tests: one server per session, a fresh database per test.

``TEST_DATABASE_URL`` points the suite at an existing server (its user must be allowed
to create databases). Otherwise the suite starts a throwaway cluster from the machine's
server binaries (``initdb`` and ``pg_ctl`` on PATH or under ``/usr/lib/postgresql/*/bin``)
in a temporary directory (in memory when /dev/shm has room): on loopback, a free port,
``fsync=off``, trust authentication, as the unprivileged ``postgres`` user when the suite
runs as root (initdb refuses root).
It is stopped and removed when the session ends.

Without the binaries the PostgreSQL variants are skipped with one line saying how to
install them, unless ``CI`` or ``LEMONBOT_REQUIRE_POSTGRES`` is set: then they fail.

Each test gets its own database, copied from a template migrated once per session, so
that tests never see each other's rows. The administration (create, drop) runs on a
private event loop in a thread, so the fixtures stay synchronous and engine-neutral.
"""

from __future__ import annotations

import asyncio
import functools
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from bot.store.postgres import PostgresDatabase

T = TypeVar("T")

NOT_FOUND = "no initdb/pg_ctl found (on PATH or in /usr/lib/postgresql/*/bin)"
INSTALL_HINT = "install the server with `sudo apt-get install postgresql`, or set TEST_DATABASE_URL"
SERVER_USER = "postgres"
START_TIMEOUT_SECONDS = 30
# A cluster in memory creates a database in ~15 ms instead of ~400 ms on disk.
MEMORY_FOLDER = Path("/dev/shm")
MEMORY_NEEDED_BYTES = 1 << 30
SERVER_OPTIONS = (
    "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
    "-c listen_addresses=127.0.0.1 -c max_connections=200"
)
# A server that is crashed on purpose keeps what it acknowledged: with synchronous_commit
# off, an immediate stop loses the commits of the last moments (fsync=off is safe: the
# operating system, which keeps its page cache, does not crash).
DURABLE_OPTIONS = SERVER_OPTIONS.replace("synchronous_commit=off", "synchronous_commit=on")


def required() -> bool:
    """Whether missing PostgreSQL must fail the run (CI) instead of skipping."""
    flags = (os.environ.get("CI", ""), os.environ.get("LEMONBOT_REQUIRE_POSTGRES", ""))
    return any(flag.strip().lower() not in ("", "0", "false", "no") for flag in flags)


def find_binaries() -> Path | None:
    """Return the folder holding ``initdb`` and ``pg_ctl``, or None."""
    initdb = shutil.which("initdb")
    if initdb and shutil.which("pg_ctl"):
        return Path(initdb).resolve().parent
    versions = glob.glob("/usr/lib/postgresql/*/bin/initdb")
    for found in sorted(versions, key=lambda p: int(Path(p).parts[-3]), reverse=True):
        folder = Path(found).parent
        if (folder / "pg_ctl").exists():
            return folder
    return None


def cluster_parent() -> str | None:
    """Return a memory-backed folder for the cluster when there is one with room."""
    try:
        usable = os.access(MEMORY_FOLDER, os.W_OK | os.X_OK)
        return (
            str(MEMORY_FOLDER)
            if usable and shutil.disk_usage(MEMORY_FOLDER).free > MEMORY_NEEDED_BYTES
            else None
        )
    except OSError:
        return None


def free_port() -> int:
    """Return a TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class AdminLoop:
    """An event loop in a thread, for the fixtures' administrative statements."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the private loop and return its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout=60)

    def close(self) -> None:
        """Stop the loop and its thread."""
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


class LocalCluster:
    """A throwaway PostgreSQL cluster in a temporary directory."""

    def __init__(self, binaries: Path, *, durable: bool = False) -> None:
        self.binaries = binaries
        self.options = DURABLE_OPTIONS if durable else SERVER_OPTIONS
        self.as_root = os.geteuid() == 0
        self.root = Path(tempfile.mkdtemp(prefix="lemonbot-pg-", dir=cluster_parent()))
        self.data = self.root / "data"
        self.port = 0
        self.url = ""  # the administration URL, once started
        if self.as_root:
            try:
                owner = pwd.getpwnam(SERVER_USER)
            except KeyError:
                shutil.rmtree(self.root)
                raise RuntimeError(
                    f"running as root, and initdb refuses root: create the {SERVER_USER!r} "
                    "user (apt-get install postgresql does) or set TEST_DATABASE_URL"
                ) from None
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

    def _run(self, *command: str) -> subprocess.CompletedProcess[str]:
        argv = [str(self.binaries / command[0]), *command[1:]]
        if self.as_root:
            argv = ["runuser", "-u", SERVER_USER, "--", *argv]
        return subprocess.run(
            argv, cwd=self.root, capture_output=True, text=True, check=False, timeout=60
        )

    def start(self) -> str:
        """Create and start the cluster; return its administration URL."""
        done = self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()}")
        for _ in range(3):  # a free port may be taken between the check and the start
            self.port = free_port()
            done = self._start_server()
            if done.returncode == 0:
                return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        raise RuntimeError(self._start_failure(done))

    def _start_server(self) -> subprocess.CompletedProcess[str]:
        return self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"),
            "-w", "-t", str(START_TIMEOUT_SECONDS),
            "-o", f"{self.options} -p {self.port} -k {self.root}", "start",
        )  # fmt: skip

    def _start_failure(self, done: subprocess.CompletedProcess[str]) -> str:
        log = (self.root / "server.log").read_text(errors="replace")[-2000:]
        return f"pg_ctl start failed: {done.stdout}{done.stderr}\n{log}"

    def crash(self) -> None:
        """Stop the server at once, as a crash would (``pg_ctl stop -m immediate``)."""
        done = self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        if done.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {done.stdout}{done.stderr}")

    def restart(self) -> None:
        """Start the server again on the same port and data (after :meth:`crash`)."""
        done = self._start_server()
        if done.returncode != 0:
            raise RuntimeError(self._start_failure(done))

    def stop(self) -> None:
        """Stop the server at once and remove its directory."""
        try:
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except (OSError, subprocess.SubprocessError):
            pass  # it never started (pg_ctl or runuser missing): nothing runs to stop
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class PostgresServer:
    """A server the tests may create and drop databases on."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.admin = AdminLoop()
        self._names = (f"lemonbot_t{os.getpid()}_{n}" for n in itertools.count(1))
        self.template = f"lemonbot_tpl{os.getpid()}"
        self._conn: asyncpg.Connection | None = None
        self.admin.run(self._setup())

    def url(self, database: str) -> str:
        """Return the URL of one database of this server (same user, host and options)."""
        return urlunsplit(urlsplit(self.admin_url)._replace(path=f"/{database}"))

    async def _setup(self) -> None:
        self._conn = await asyncpg.connect(self.admin_url)
        await self._conn.execute(f"DROP DATABASE IF EXISTS {self.template}")
        await self._conn.execute(f"CREATE DATABASE {self.template} TEMPLATE template0")
        async with PostgresDatabase.open(self.url(self.template)):
            pass  # migrated once; every test database is a copy

    async def _statement(self, sql: str) -> None:
        assert self._conn is not None
        await self._conn.execute(sql)

    def create_database(self, *, migrated: bool = True) -> str:
        """Create a fresh database (migrated, or empty); return its name."""
        name = next(self._names)
        template = self.template if migrated else "template0"
        self.admin.run(self._statement(f"CREATE DATABASE {name} TEMPLATE {template}"))
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, ending any session still connected to it."""
        self.admin.run(self._statement(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))

    def close(self) -> None:
        """Drop the template and close the administration connection."""

        async def teardown() -> None:
            assert self._conn is not None
            try:
                await self._conn.execute(f"DROP DATABASE IF EXISTS {self.template} WITH (FORCE)")
            finally:
                await self._conn.close()

        try:
            self.admin.run(teardown())
        finally:
            self.admin.close()


@functools.cache
def missing_reason() -> str | None:
    """Why no PostgreSQL can be had here (no URL and no binaries), or None."""
    if os.environ.get("TEST_DATABASE_URL", "").strip() or find_binaries() is not None:
        return None
    return NOT_FOUND


SERVER_FIXTURES = frozenset(
    {"postgres_server", "postgres_url", "empty_postgres_url", "crashable_postgres"}
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that asks for a PostgreSQL fixture ``postgres``, marked or not.

    So that it is skipped with the others (one line) and left out by ``-m "not postgres"``.
    """
    for item in items:
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip the ``postgres`` tests when there is no PostgreSQL, reported as one line.

    Raised here rather than in a fixture, the skip has one location (this line) for
    every test, so ``-ra`` shows it once. Under CI the tests run, and their fixture fails.
    """
    reason = missing_reason()
    if reason and not required() and item.get_closest_marker("postgres"):
        pytest.skip(f"PostgreSQL tests skipped: {reason}; {INSTALL_HINT}")


def _unavailable(reason: str) -> None:
    """Fail (under CI) or skip: the PostgreSQL tests cannot run."""
    if required():
        pytest.fail(
            f"PostgreSQL is required (CI or LEMONBOT_REQUIRE_POSTGRES is set), but {reason}; "
            f"{INSTALL_HINT}",
            pytrace=False,
        )
    pytest.skip(f"PostgreSQL tests skipped: {reason}; {INSTALL_HINT}")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server: TEST_DATABASE_URL, or one started from the binaries."""
    url = os.environ.get("TEST_DATABASE_URL", "").strip()
    cluster: LocalCluster | None = None
    if not url:
        binaries = find_binaries()
        if binaries is None:
            _unavailable(NOT_FOUND)
            raise AssertionError("unreachable")  # _unavailable always raises
        try:
            cluster = LocalCluster(binaries)
            url = cluster.start()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            # A missing runuser, say: no server, and nothing left behind in /dev/shm.
            if cluster is not None:
                cluster.stop()
            _unavailable(f"the test server could not start: {exc}")
    try:
        server = PostgresServer(url)
        try:
            yield server
        finally:
            server.close()
    finally:
        if cluster is not None:
            cluster.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh, migrated database of its own, dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def empty_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a fresh database with no tables at all, dropped after the test."""
    name = postgres_server.create_database(migrated=False)
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture
def crashable_postgres() -> Iterator[LocalCluster]:
    """A server of the test's own, started from the binaries, that the test may crash.

    Its ``postgres`` database is the test's (``cluster.url``). Crashing the session's
    server would fail every other test using it, so this one is started for the test
    alone, and removed after it; TEST_DATABASE_URL cannot stand in for it.
    """
    binaries = find_binaries()
    if binaries is None:
        _unavailable(NOT_FOUND)
        raise AssertionError("unreachable")  # _unavailable always raises
    cluster = LocalCluster(binaries, durable=True)
    try:
        cluster.url = cluster.start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        cluster.stop()
        _unavailable(f"the test server could not start: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
