"""Composition root: ``python -m bot`` loads settings, opens resources and runs the bot.

``python -m bot migrate-db --from sqlite:///… --to postgresql://…`` copies a ledger.
``python -m bot web`` serves the web dashboard alone (no gateway, no jobs) on the same
database; with ``WEB_*`` set, ``python -m bot`` serves it too, on its own event loop.

A bad setting exits at once with one line naming it. When Discord cannot be reached at
start (DNS, a refused connection, an outage), logging in is retried with back-off, one
log line per attempt and no traceback; ``SIGTERM`` still stops the bot at once. A
refused ``DISCORD_TOKEN`` exits with one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from dotenv import find_dotenv, load_dotenv

from bot.config import Settings
from bot.errors import ConfigurationError, LemonbotError

if TYPE_CHECKING:
    from bot.client import LemonBot

log = logging.getLogger("bot")

T = TypeVar("T")
# docker stop waits 10 s before SIGKILL: in-flight work gets most of that.
SHUTDOWN_GRACE_SECONDS = 7.0
LOGIN_RETRY_FIRST = 1.0
LOGIN_RETRY_MAX = 60.0


class Stopped(LemonbotError):
    """A signal asked the bot to stop while it was waiting."""


async def until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T:
    """Await ``work`` unless ``stop`` is set first (then cancel it and raise Stopped)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
    if not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        raise Stopped
    return task.result()


def unreachable(exc: BaseException) -> str | None:
    """Return a short reason if ``exc`` means Discord could not be reached, else None."""
    import aiohttp
    import discord

    if isinstance(exc, discord.DiscordServerError):
        return f"Discord answered HTTP {exc.status}"
    if isinstance(exc, discord.GatewayNotFound):
        return "Discord's gateway could not be found"
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return f"{type(exc).__name__}: {exc}".strip(": ")[:200]
    return None


async def main(settings: Settings, *, web_only: bool = False) -> int:
    """Open the HTTP client and the store, run the bot until it stops or is signalled.

    ``web_only``: log in over HTTP only and serve the dashboard until signalled.
    """
    # Imported here so that a configuration error is reported before the slow imports.
    import discord
    import httpx

    from bot.client import LemonBot
    from bot.lemondata.client import HTTP_LIMITS
    from bot.store import Store

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with (
        httpx.AsyncClient(headers={"User-Agent": "lemonbot"}, limits=HTTP_LIMITS) as http,
        Store.open(settings.database) as store,
    ):
        delay = LOGIN_RETRY_FIRST
        while True:
            bot = LemonBot(settings=settings, store=store, http=http, serve_jobs=not web_only)
            async with bot:
                try:
                    await until_stopped(bot.login(settings.discord_token), stop)
                except Stopped:
                    return 0
                except discord.LoginFailure:
                    log.error("Discord rejected DISCORD_TOKEN: check the bot token in .env")
                    return 1
                except Exception as exc:
                    reason = unreachable(exc)
                    if reason is None:
                        raise
                    log.warning("cannot reach Discord (%s); retrying in %.0f s", reason, delay)
                    await bot.close()
                    try:
                        await until_stopped(asyncio.sleep(delay), stop)
                    except Stopped:
                        return 0
                    delay = min(delay * 2, LOGIN_RETRY_MAX)
                    continue
                try:
                    web = await start_dashboard(bot) if settings.web_enabled else None
                except ConfigurationError as exc:
                    log.error("%s", exc)
                    return 2
                try:
                    if web_only:
                        await stop.wait()
                        log.info("shutdown requested; stopping the web dashboard")
                        return 0
                    return await serve(bot, stop)
                finally:
                    if web is not None:
                        await web.cleanup()


async def start_dashboard(bot: LemonBot) -> Any:
    """Start the web dashboard beside the bot (its runner, to clean up at the end)."""
    from bot.web.server import start_web

    return await start_web(bot)


async def freeze_when_ready(bot: LemonBot) -> None:
    """Once ready, keep what exists then out of the garbage collector's full passes.

    Modules, catalogues and the servers' state live as long as the process; scanning
    them took 40-65 ms of the event loop at each full collection, about every second
    under a burst of commands. After ``gc.freeze()`` a full pass takes a few ms.
    """
    import gc

    await bot.wait_until_ready()
    gc.collect()
    gc.freeze()


async def serve(bot: LemonBot, stop: asyncio.Event) -> int:
    """Stay connected until the gateway gives up or a signal asks to stop."""
    import discord

    loop = asyncio.get_running_loop()
    runner = asyncio.create_task(bot.connect(), name="bot")
    freezer = asyncio.create_task(freeze_when_ready(bot), name="gc-freeze")
    stopper = asyncio.create_task(stop.wait(), name="signals")
    done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
    freezer.cancel()  # done long ago, or the bot never got ready
    if stopper in done:
        log.info("shutdown requested; finishing work in flight, then stopping")
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)  # a second signal stops at once
        bot.shutdown_grace = SHUTDOWN_GRACE_SECONDS
        await bot.close()
        with contextlib.suppress(asyncio.CancelledError):
            await runner
        return 0
    stopper.cancel()
    try:
        runner.result()
    except discord.PrivilegedIntentsRequired:
        log.error("Discord refused the gateway intents the bot asked for")
        return 1
    return 0


def migrate_db(argv: list[str]) -> int:
    """``python -m bot migrate-db --from sqlite:///… --to postgresql://…``: copy a ledger."""
    import argparse

    from bot.store.engines import redacted
    from bot.store.migrate import LedgerCopyError
    from bot.store.migrate import migrate_db as copy

    parser = argparse.ArgumentParser(
        prog="python -m bot migrate-db",
        description="Copy a SQLite ledger (jobs, quotas, rules, settings) into an empty "
        "PostgreSQL database. Stop the bot first.",
    )
    parser.add_argument("--from", dest="source", required=True, help="sqlite:///path.db")
    parser.add_argument("--to", dest="target", required=True, help="postgresql://…")
    args = parser.parse_args(argv)
    try:
        print(asyncio.run(copy(args.source, args.target)))
    except (LedgerCopyError, ValueError, OSError) as exc:
        message = str(exc).replace(args.target, redacted(args.target))
        print(f"lemonbot migrate-db: {message}", file=sys.stderr)
        return 2
    return 0


def run() -> None:
    """Entry point: exit with a one-line message on bad configuration."""
    if sys.argv[1:2] == ["migrate-db"]:
        raise SystemExit(migrate_db(sys.argv[2:]))
    web_only = sys.argv[1:2] == ["web"]
    load_dotenv(find_dotenv(usecwd=True))  # ./.env of the working directory, or a parent's
    try:
        settings = Settings.from_env()
    except ConfigurationError as exc:
        print(f"lemonbot: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if web_only and not settings.web_enabled:
        print(
            "lemonbot: python -m bot web needs WEB_BASE_URL, WEB_SECRET and "
            "DISCORD_CLIENT_SECRET (see README, Web dashboard)",
            file=sys.stderr,
        )
        raise SystemExit(2)

    from bot.logs import setup_logging

    setup_logging(settings.log_level, settings.secrets())
    from bot.store.engines import redacted

    log.info("starting lemonbot with %r, database %s", settings, redacted(settings.database))
    raise SystemExit(asyncio.run(main(settings, web_only=web_only)))


if __name__ == "__main__":
    run()
