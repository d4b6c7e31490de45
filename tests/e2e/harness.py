"""Run the real bot (``python -m bot``) as a child process against the fakes.

:class:`BotProcess` owns one bot "installation": a working directory, a SQLite file
and a log file. It can be started, killed (SIGKILL), terminated (SIGTERM) and
restarted any number of times; every start appends to the same log, behind a
``=== start N ===`` line. Readiness is observed on the fake Discord (a new IDENTIFY,
which discord.py sends only after ``setup_hook``: cogs loaded, jobs resumed, commands
synced), raced against the process exiting, so there are no fixed sleeps.

Configuration reaches the child through its environment only. ``bot/__main__.py``
reads ``.env`` from the working directory (or a parent of it), and environment values
win over ``.env`` (``override=False``), even empty ones, so :func:`bot_env` pins every
key listed in ``.env.example`` or named in ``bot/config.py`` (empty = the default):
nothing from a developer's ``.env`` leaks in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import asyncpg
from dotenv import dotenv_values

from tests.fakes.fake_discord import FakeDiscord, FakeInteraction, RecordedEdit
from tests.fakes.lemondata import LemonDataEmulator

REPO_ROOT = Path(__file__).resolve().parents[2]
SITECUSTOMIZE_DIR = REPO_ROOT / "tests" / "fakes" / "sitecustomize"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
CONFIG_SOURCE = REPO_ROOT / "bot" / "config.py"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PROGRESS_TITLE = "Generating your image…"
GENERATIONS_PATH = "/v1/images/generations"

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
WAIT = 10.0
NOISE = "DEBUG   aiosqlite:"
DB_POLL_SECONDS = 0.02


class BotExitedError(AssertionError):
    """The bot process ended while the test was waiting for it."""


def documented_settings() -> list[str]:
    """Every setting key of ``.env.example``."""
    return [key for key in dotenv_values(ENV_EXAMPLE) if key]


def read_settings() -> list[str]:
    """Every environment key ``bot/config.py`` (the only reader of the environment) names."""
    source = CONFIG_SOURCE.read_text()
    return sorted(set(re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', source)))


def all_settings() -> list[str]:
    return sorted(set(documented_settings()) | set(read_settings()))


def bot_env(
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
    db_path: Path,
    overrides: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The child's environment: ours without Discord/LemonData settings, plus the fakes."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DISCORD_", "LEMONDATA_", "LEMONBOT_"))
    }
    # Pin every setting, so that no .env can fill one in (see module doc).
    env.update(dict.fromkeys(all_settings(), ""))
    env.update(
        {
            "DISCORD_TOKEN": fake.bot_token,
            "LEMONDATA_API_KEY": emulator.api_key,
            "LEMONDATA_BASE_URL": emulator.base_url,
            "DATABASE_URL": "sqlite:///" + str(db_path.resolve()),  # four slashes: absolute
            "POLL_INTERVAL_SECONDS": "0.05",
            "POLL_MAX_INTERVAL_SECONDS": "0.2",
            "LOG_LEVEL": "DEBUG",
            "PYTHONPATH": os.pathsep.join([str(SITECUSTOMIZE_DIR), str(REPO_ROOT)]),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            **fake.env(),
        }
    )
    env.update(overrides or {})
    return env


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Linux: SIGKILL the bot if the test runner dies (e.g. a CI job timeout)."""
    import ctypes

    pr_set_pdeathsig = 1
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


LIVE: set[BotProcess] = set()  # every started process, killed at exit if still running


class BotProcess:
    """One bot installation (work dir, database, log) and its current process."""

    def __init__(
        self,
        *,
        fake: FakeDiscord,
        emulator: LemonDataEmulator,
        workdir: Path,
        name: str = "bot",
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.fake = fake
        self.emulator = emulator
        self.name = name
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.db_path = workdir / "lemonbot.db"
        self.log_path = workdir / "bot.log"
        self.overrides = dict(env or {})
        self.args: list[str] = []  # after ``python -m bot``: ["web"] for the dashboard alone
        self.starts = 0
        self.exit_codes: list[int] = []
        self.errors_expected = False  # set by a test that provokes logged errors
        self.proc: asyncio.subprocess.Process | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self, *, wait_ready: bool = True, timeout: float = READY_TIMEOUT) -> None:
        """Start ``python -m bot``; by default wait until it identified on the gateway."""
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.starts += 1
        identified = self.fake.identify_count
        with self.log_path.open("ab") as log:
            log.write(f"=== start {self.starts} ===\n".encode())
            log.flush()
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                *self.args,
                cwd=self.workdir,
                env=bot_env(self.fake, self.emulator, self.db_path, self.overrides),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        LIVE.add(self)
        if wait_ready:
            await self.wait_ready(identified, timeout)

    async def wait_ready(self, identified_before: int, timeout: float = READY_TIMEOUT) -> None:
        """Wait for a new IDENTIFY (after ``identified_before``) and READY, or the exit."""
        fake = self.fake
        await self.race(
            fake.wait_for(
                lambda: fake.identify_count > identified_before and fake.ready,
                timeout,
                what=f"{self.name} identified (start {self.starts})",
            )
        )

    async def race(self, awaitable: Any) -> Any:
        """Await ``awaitable``; fail at once (with the log) if the bot exits meanwhile."""
        assert self.proc is not None
        waiter = asyncio.ensure_future(awaitable)
        exited = asyncio.ensure_future(self.proc.wait())
        try:
            done, _ = await asyncio.wait({waiter, exited}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            exited.cancel()
            if not waiter.done():
                waiter.cancel()
                with contextlib.suppress(BaseException):
                    await waiter
        if waiter in done:
            return waiter.result()
        self._exited()
        raise BotExitedError(
            f"{self.name} exited with {self.proc.returncode} while the test waited;"
            f" log tail:\n{self.log_tail()}"
        )

    def _exited(self) -> None:
        if self.proc is not None and self.proc.returncode is not None:
            if len(self.exit_codes) < self.starts:
                self.exit_codes.append(self.proc.returncode)
            LIVE.discard(self)

    async def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        """Wait for the process to end by itself; return its exit code."""
        assert self.proc is not None
        code = await asyncio.wait_for(self.proc.wait(), timeout)
        self._exited()
        return code

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` without waiting (see :meth:`wait_exit`)."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def kill(self) -> int:
        """SIGKILL the process (no clean-up of any kind) and reap it."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        code = await self.proc.wait()
        self._exited()
        return code

    async def terminate(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM the process and wait for it; SIGKILL and fail if it overstays."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            return await self.wait_exit(timeout)
        except TimeoutError:
            await self.kill()
            raise AssertionError(
                f"{self.name} ignored SIGTERM for {timeout}s; killed. Log tail:\n" + self.log_tail()
            ) from None

    async def restart(self, *, wait_ready: bool = True) -> None:
        """Terminate (if running) and start again with the same database."""
        if self.running:
            await self.terminate()
        await self.start(wait_ready=wait_ready)

    async def stop(self) -> str | None:
        """Teardown: SIGTERM, then SIGKILL after a bound. Never raises.

        Returns a complaint when a running bot did not shut down cleanly (exit code
        other than 0 within the bound), else None.
        """
        if self.proc is None or not self.running:
            return None
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(self.proc.wait(), STOP_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGKILL)
            await self.proc.wait()
            self._exited()
            return f"{self.name} ignored SIGTERM for {STOP_TIMEOUT}s and was killed"
        self._exited()
        return None if code == 0 else f"{self.name} exited with {code} on SIGTERM"

    # ------------------------------------------------------------------ log

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        """The last lines of the log, without aiosqlite's per-statement DEBUG noise."""
        kept = [line for line in self.log_text().splitlines() if NOISE not in line]
        return "\n".join(kept[-lines:])

    def log_of_start(self, start: int) -> str:
        """The log lines written by the ``start``-th process (1-based)."""
        text = self.log_text()
        head = f"=== start {start} ===\n"
        _, found, rest = text.partition(head)
        assert found, f"no start {start} in the log"
        return rest.split(f"=== start {start + 1} ===\n", 1)[0]

    async def wait_for_log(self, text: str, timeout: float = WAIT) -> None:
        """Wait until the current process logged ``text`` (re-reading the log file).

        For the few states only the bot itself can show (e.g. that it is inside its
        shutdown grace period); like :meth:`wait_for_job`, a bounded condition wait.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while text not in self.log_of_start(self.starts):
            if loop.time() >= deadline:
                raise AssertionError(
                    f"{self.name} did not log {text!r} within {timeout}s\n" + self.log_tail()
                )
            if not self.running:
                raise BotExitedError(f"{self.name} exited before logging {text!r}")
            await asyncio.sleep(DB_POLL_SECONDS)

    def log_problems(self) -> list[str]:
        """Log lines with a traceback or an ERROR/CRITICAL record."""
        return [
            line
            for line in self.log_text().splitlines()
            if "Traceback" in line or " ERROR " in line or " CRITICAL " in line
        ]

    def assert_log_clean(self) -> None:
        """No traceback and nothing logged at ERROR or CRITICAL."""
        bad = self.log_problems()
        assert not bad, "the bot logged errors:\n" + "\n".join(bad) + "\n" + self.log_tail()

    # ------------------------------------------------------------------ database

    async def wait_for_job(
        self, predicate: Any, timeout: float = WAIT, *, what: str = "job row"
    ) -> dict[str, Any]:
        """Wait until the (single newest) job row satisfies ``predicate``; return it.

        The ledger has no push notification, so this re-reads the SQLite file every
        20 ms until the deadline: a bounded condition wait, not a guessed sleep. It is
        used only for facts nothing outside the bot can observe (quota state,
        delivery bookkeeping), after the user-visible outcome was already seen.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            rows = self.jobs()
            if rows and predicate(rows[-1]):
                return rows[-1]
            if loop.time() >= deadline:
                raise AssertionError(
                    f"{what}: condition still false after {timeout}s; rows: {rows!r}\n"
                    + self.log_tail()
                )
            await asyncio.sleep(DB_POLL_SECONDS)

    def jobs(self) -> list[dict[str, Any]]:
        """Every row of the bot's job ledger (read with a separate SQLite connection)."""
        if not self.db_path.exists():
            return []
        conn = sqlite3.connect(self.db_path, timeout=5)
        try:
            conn.row_factory = sqlite3.Row
            return [dict(r) for r in conn.execute("SELECT * FROM jobs ORDER BY id")]
        finally:
            conn.close()


def kill_leftovers() -> None:
    """Last resort (atexit): SIGKILL any bot process a crashed test left behind."""
    for bot in list(LIVE):
        if bot.proc is not None and bot.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(bot.proc.pid, signal.SIGKILL)
    LIVE.clear()


# ---------------------------------------------------------------------- observations


def final_edits(interaction: FakeInteraction) -> list[RecordedEdit]:
    """Edits of ``@original`` that replaced the progress card (outcome edits)."""
    return [
        edit
        for edit in interaction.edits
        if edit.payload.get("embeds")
        and edit.payload["embeds"][0].get("title") not in (None, PROGRESS_TITLE)
    ]


async def wait_for_outcome(
    fake: FakeDiscord, interaction: FakeInteraction, timeout: float = WAIT
) -> RecordedEdit:
    """Wait until ``@original`` was edited with an outcome; return that edit."""
    edits = await fake.wait_for(
        lambda: final_edits(interaction), timeout, what="@original edited with the outcome"
    )
    return edits[0]


def embed_text(message_or_payload: dict[str, Any]) -> str:
    """All user-visible text of a message: content and every embed part."""
    parts = [message_or_payload.get("content") or ""]
    for embed in message_or_payload.get("embeds") or []:
        parts += [embed.get("title") or "", embed.get("description") or ""]
        parts += [f"{f.get('name', '')} {f.get('value', '')}" for f in embed.get("fields", [])]
        parts.append((embed.get("footer") or {}).get("text") or "")
    return "\n".join(parts)


def field_value(embed: dict[str, Any], name: str) -> str:
    for item in embed.get("fields", []):
        if item.get("name") == name:
            return str(item.get("value"))
    raise AssertionError(f"embed has no field {name!r}: {embed!r}")


async def ledger(url: str) -> list[dict[str, Any]]:
    """Every job row of a PostgreSQL ledger, read straight from the server."""
    conn = await asyncpg.connect(url)
    try:
        return [dict(r) for r in await conn.fetch("SELECT * FROM jobs ORDER BY id")]
    finally:
        await conn.close()


async def until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> None:
    """Wait (bounded) for a fact only the database shows."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        if loop.time() > deadline:
            raise AssertionError(f"{what}: still false after {timeout}s")
        await asyncio.sleep(0.05)
