"""The web dashboard: moderators review a gallery, members find their own images.

An ``aiohttp`` application (:func:`~bot.web.app.build_app`) served by the bot process on
its own event loop when ``WEB_BASE_URL``, ``WEB_SECRET`` and ``DISCORD_CLIENT_SECRET``
are set, or alone with ``python -m bot web`` on the same database
(:mod:`bot.web.server`). Sign-in is Discord's OAuth2 (:mod:`bot.web.auth`, Authlib:
authorization code with PKCE and ``state``); sessions are database rows; who sees a
server is the bot's own view, checked again within 60 s (:mod:`bot.web.access`). Pages
are Jinja2 templates (``templates/``) whose every word comes from the catalogue
(``t()``), with one stylesheet (``static/``) and no script. It calls the services
(``bot.dashboard``, ``bot.moderation``), never the store.
"""
