"""Composition root: ``python -m bot`` loads settings, opens resources and runs the bot."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from dotenv import find_dotenv, load_dotenv

from bot.config import ConfigError, Settings

log = logging.getLogger("bot")

# docker stop waits 10 s before SIGKILL: in-flight work gets most of that.
SHUTDOWN_GRACE_SECONDS = 7.0


async def main(settings: Settings) -> int:
    """Open the HTTP client and the store, run the bot until it stops or is signalled."""
    # Imported here so that a configuration error is reported before the slow imports.
    import discord
    import httpx

    from bot.client import LemonBot
    from bot.store import Store

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async with (
        httpx.AsyncClient(headers={"User-Agent": "lemonbot"}) as http,
        Store.open(settings.database_path) as store,
    ):
        bot = LemonBot(settings=settings, store=store, http=http)
        async with bot:
            runner = asyncio.create_task(bot.start(settings.discord_token), name="bot")
            stopper = asyncio.create_task(stop.wait(), name="signals")
            done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
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
            except discord.LoginFailure:
                log.error("Discord rejected DISCORD_TOKEN: check the bot token in .env")
                return 1
            except discord.PrivilegedIntentsRequired:
                log.error("Discord refused the gateway intents the bot asked for")
                return 1
    return 0


def run() -> None:
    """Entry point: exit with a one-line message on bad configuration."""
    load_dotenv(find_dotenv(usecwd=True))  # ./.env of the working directory, or a parent's
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"lemonbot: {exc}", file=sys.stderr)
        raise SystemExit(2) from None

    from bot.logs import setup_logging

    setup_logging(settings.log_level, settings.secrets())
    log.info("starting lemonbot with %r", settings)
    raise SystemExit(asyncio.run(main(settings)))


if __name__ == "__main__":
    run()
