"""Serving the dashboard: beside the bot on its event loop, or alone (``python -m bot web``)."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.client import LemonBot
from bot.errors import ConfigurationError
from bot.web.app import build_app

log = logging.getLogger(__name__)


async def start_web(bot: LemonBot) -> web.AppRunner:
    """Start serving the dashboard on ``WEB_PORT`` (all interfaces); return its runner.

    The bot must be logged in (the OAuth2 client id is its application's id).
    """
    runner = web.AppRunner(
        build_app(bot), access_log=None, handle_signals=False, shutdown_timeout=2.0
    )
    await runner.setup()
    site = web.TCPSite(runner, host=None, port=bot.settings.web_port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigurationError(
            f"WEB_PORT {bot.settings.web_port} cannot be listened on: {exc.strerror or exc}"
        ) from None
    log.info(
        "web dashboard on port %d for %s (register %s/auth/callback in Discord's portal)",
        bot.settings.web_port,
        bot.settings.web_base_url,
        bot.settings.web_base_url,
    )
    return runner
