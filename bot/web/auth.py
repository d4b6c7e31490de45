"""Signing in with Discord: OAuth2 authorization code with PKCE (S256) and ``state``.

Authlib's httpx client builds the authorize address, exchanges the code and calls the
API. The addresses derive from discord.py's ``Route.BASE`` (``https://discord.com/api/v10``):
its origin for ``/oauth2/authorize``, ``Route.BASE`` itself for the token and the API,
so whatever points the bot at another Discord (the test fakes) points the sign-in there
too. Between the redirect to Discord and the way back, the ``state``, the PKCE verifier
and where to go next wait in a short-lived cookie signed with ``WEB_SECRET``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import warnings
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import authlib.deprecate  # noqa: F401 - adds its "always" filter before ours below
import discord
import httpx
from authlib.common.security import generate_token

from bot.errors import NotAllowed

with warnings.catch_warnings():
    # Authlib prefers the httpx2 fork and warns once when it falls back to httpx, which
    # it still supports: the bot uses httpx everywhere else.
    warnings.filterwarnings("ignore", message="The httpx module is deprecated")
    from authlib.integrations.httpx_client import AsyncOAuth2Client

SCOPES = "identify guilds"
CALLBACK_PATH = "/auth/callback"
LOGIN_SECONDS = 600  # from leaving for Discord to coming back
TIMEOUT = httpx.Timeout(10.0)


@dataclass(frozen=True)
class DiscordUser:
    """Who signed in, and the servers Discord says they are in."""

    id: int
    username: str
    locale: str
    guild_ids: tuple[int, ...]


MAX_REASON = 200  # characters of a sign-in failure's reason kept for the log


class SignInFailed(NotAllowed):
    """The way back from Discord was not one this site started, or Discord refused.

    ``reason`` says why, for the log; the page says only that signing in did not work.
    """

    def __init__(self, reason: str) -> None:
        super().__init__("web.signin_failed")
        # Logged: parts of it come from the query string, so no line breaks, and bounded.
        self.reason = "".join(c if c.isprintable() else "?" for c in reason[:MAX_REASON])


def discord_addresses() -> tuple[str, str, str]:
    """Return (authorize URL, token URL, API base), from discord.py's ``Route.BASE``."""
    api = discord.http.Route.BASE.rstrip("/")
    parts = urlsplit(api)
    origin = f"{parts.scheme}://{parts.netloc}"
    return f"{origin}/oauth2/authorize", f"{api}/oauth2/token", api


def safe_next(target: str | None) -> str:
    """Return ``target`` if it is a path of this site, else ``/`` (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 32 for c in target) or "\\" in target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return "/"
    return target


class Signer:
    """HMAC-SHA256 with WEB_SECRET: the login cookie and the CSRF tokens."""

    def __init__(self, secret: str) -> None:
        self._key = hashlib.sha256(b"lemonbot-web:" + secret.encode()).digest()

    def mac(self, purpose: str, value: str) -> str:
        """Return the MAC of ``value`` for ``purpose`` (hex)."""
        message = f"{purpose}\n{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def check(self, purpose: str, value: str, mac: str) -> bool:
        """Whether ``mac`` is ``value``'s MAC for ``purpose``."""
        return hmac.compare_digest(self.mac(purpose, value), mac)

    def seal(self, purpose: str, data: dict[str, Any]) -> str:
        """Return ``data`` as a signed cookie value (readable, not forgeable)."""
        body = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
        return f"{body}.{self.mac(purpose, body)}"

    def open(self, purpose: str, sealed: str) -> dict[str, Any] | None:
        """Return what :meth:`seal` sealed, or None if it was changed."""
        body, _, mac = sealed.rpartition(".")
        if not body or not self.check(purpose, body, mac):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body.encode()))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


class DiscordSignIn:
    """The OAuth2 client of the dashboard (one per sign-in: Authlib keeps its state)."""

    def __init__(self, *, client_id: int, client_secret: str, base_url: str) -> None:
        self.client_id = str(client_id)
        self._secret = client_secret
        self.redirect_uri = base_url + CALLBACK_PATH

    def _client(self, **extra: Any) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self._secret,
            scope=SCOPES,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=TIMEOUT,
            **extra,
        )

    async def start(self) -> tuple[str, dict[str, Any]]:
        """Return Discord's authorize URL and what the login cookie must keep."""
        authorize, _, _ = discord_addresses()
        verifier = generate_token(64)
        async with self._client() as client:
            url, state = client.create_authorization_url(authorize, code_verifier=verifier)
        return url, {"state": state, "verifier": verifier, "at": time.time()}

    async def finish(self, pending: dict[str, Any], query: dict[str, str]) -> DiscordUser:
        """Check the way back, exchange the code, return who signed in."""
        if time.time() - float(pending.get("at", 0)) > LOGIN_SECONDS:
            raise SignInFailed("the sign-in took too long")
        state = str(pending.get("state", ""))
        if not state or not hmac.compare_digest(state, query.get("state", "")):
            raise SignInFailed("state does not match")
        if "error" in query or not query.get("code"):
            raise SignInFailed(f"Discord said {query.get('error', 'no code')}")
        _, token_url, api = discord_addresses()
        try:
            async with self._client(state=state) as client:
                await client.fetch_token(
                    token_url, code=query["code"], code_verifier=pending["verifier"]
                )
                me = await client.get(f"{api}/users/@me")
                me.raise_for_status()
                guilds = await client.get(f"{api}/users/@me/guilds")
                guilds.raise_for_status()
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise SignInFailed(f"{type(exc).__name__}: {exc}"[:200]) from None
        except Exception as exc:  # Authlib's OAuthError for a refused code
            if type(exc).__module__.startswith("authlib"):
                raise SignInFailed(f"{type(exc).__name__}: {exc}"[:200]) from None
            raise
        user = me.json()
        return DiscordUser(
            id=int(user["id"]),
            username=str(user.get("global_name") or user.get("username") or user["id"]),
            locale=str(user.get("locale") or "en-US"),
            guild_ids=tuple(int(g["id"]) for g in guilds.json()),
        )
