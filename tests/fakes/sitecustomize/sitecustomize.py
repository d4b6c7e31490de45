"""Point discord.py at the fake Discord when ``LEMONBOT_FAKE_DISCORD_URL`` is set.

Put this folder on a child process's ``PYTHONPATH`` and set
``LEMONBOT_FAKE_DISCORD_URL=http://127.0.0.1:PORT`` (see ``tests/fakes/fake_discord/``).
At interpreter start it sets ``discord.http.Route.BASE`` to ``<url>/api/v10`` (REST,
interaction callbacks and webhooks) and ``DiscordWebSocket.DEFAULT_GATEWAY`` to
``ws://.../gateway``. Without the variable it does nothing (and imports nothing).
"""

import os

_FAKE_URL = os.environ.get("LEMONBOT_FAKE_DISCORD_URL", "").strip().rstrip("/")

if _FAKE_URL:
    import warnings

    try:
        with warnings.catch_warnings():
            # discord.py imports the deprecated audioop module; keep startup quiet.
            warnings.simplefilter("ignore", DeprecationWarning)
            import discord.gateway
            import discord.http
            import yarl
    except ImportError:  # an interpreter without discord.py: nothing to point
        pass
    else:
        _ws_url = "ws" + _FAKE_URL[len("http") :] if _FAKE_URL.startswith("http") else _FAKE_URL
        discord.http.Route.BASE = _FAKE_URL + "/api/v10"
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(_ws_url + "/gateway")
