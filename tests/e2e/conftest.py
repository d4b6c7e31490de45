"""End-to-end fixtures: fake Discord + LemonData emulator + the real bot process.

Every test gets fresh fakes (in the test's event loop), a fresh working directory and
database under ``tmp_path``, and fresh bot processes. Teardown stops every bot
process (SIGTERM, SIGKILL after a bound) *before* the fakes stop. When a test fails,
the tail of each bot log is added to the failure report and the whole log is kept in
``<repo>/.e2e-logs/<test>.log`` (or ``$LEMONBOT_E2E_LOG_DIR``).
"""

from __future__ import annotations

import atexit
import os
import re
from collections.abc import AsyncIterator, Callable, Generator
from pathlib import Path

import pytest

from tests.e2e.harness import REPO_ROOT, BotProcess, kill_leftovers
from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.lemondata import LemonDataEmulator

REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
BOTS = pytest.StashKey[list[BotProcess]]()
LOG_TAIL_LINES = 80

atexit.register(kill_leftovers)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "e2e: end-to-end test running the real bot process against the fakes"
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    if report.failed and report.when in ("setup", "call"):
        for bot in item.stash.get(BOTS, []):
            report.sections.append(
                (
                    f"{bot.name} log (last {LOG_TAIL_LINES} lines; full log kept in"
                    f" {kept_log_path(item)})",
                    bot.log_tail(LOG_TAIL_LINES) or "(empty)",
                )
            )
    return report


def log_dir() -> Path:
    return Path(os.environ.get("LEMONBOT_E2E_LOG_DIR") or REPO_ROOT / ".e2e-logs")


def kept_log_path(item: pytest.Item) -> Path:
    name = re.sub(r"[^\w.\[\]-]+", "_", item.nodeid.split("::", 1)[-1])
    module = Path(item.nodeid.split("::", 1)[0]).stem
    return log_dir() / f"{module}.{name}.log"


def _keep_or_forget_logs(item: pytest.Item, bots: list[BotProcess], failed: bool) -> None:
    target = kept_log_path(item)
    if not failed:
        target.unlink(missing_ok=True)  # a stale log from an earlier failing run
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w") as out:
        for bot in bots:
            out.write(f"##### {bot.name}: {bot.workdir} (exit codes {bot.exit_codes})\n")
            out.write(bot.log_text())
            out.write("\n")


@pytest.fixture
async def emulator() -> AsyncIterator[LemonDataEmulator]:
    async with LemonDataEmulator() as server:
        yield server


BotFactory = Callable[..., BotProcess]


@pytest.fixture
async def make_bot(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    fake: FakeDiscord,
    emulator: LemonDataEmulator,
) -> AsyncIterator[BotFactory]:
    """Build bot installations (not started); all are stopped before the fakes stop."""
    bots: list[BotProcess] = []
    request.node.stash[BOTS] = bots

    def factory(name: str = "bot", env: dict[str, str] | None = None) -> BotProcess:
        bot = BotProcess(
            fake=fake,
            emulator=emulator,
            workdir=tmp_path / f"{name}-{len(bots) + 1}",
            name=name,
            env=env,
        )
        bots.append(bot)
        return bot

    try:
        yield factory
    finally:
        complaints = [c for c in [await bot.stop() for bot in bots] if c]
        reports = request.node.stash.get(REPORTS, {})
        failed = any(r.failed for r in reports.values()) or not reports
        xfailed = any(hasattr(r, "wasxfail") for r in reports.values())
        if not failed and not xfailed:
            # A clean shutdown is part of every scenario: exit 0 on SIGTERM, no
            # traceback or ERROR record anywhere in the log (also after the test body).
            complaints += [
                f"{bot.name} logged: {line}"
                for bot in bots
                if not bot.errors_expected
                for line in bot.log_problems()
            ]
        _keep_or_forget_logs(request.node, bots, failed or bool(complaints))
        if complaints:
            pytest.fail(
                "bot shutdown/log check failed:\n"
                + "\n".join(complaints)
                + f"\n(full logs in {kept_log_path(request.node)})"
            )


@pytest.fixture
async def bot(make_bot: BotFactory) -> BotProcess:
    """A started bot with a fresh database, identified on the fake gateway."""
    process = make_bot()
    await process.start()
    return process
