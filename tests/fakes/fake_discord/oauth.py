"""Discord's OAuth2 (authorization code with PKCE), as the dashboard's sign-in uses it.

Outside ``/api/v10``, on the fake's origin:

- ``GET /oauth2/authorize``: checks ``client_id`` (the application), ``redirect_uri``
  (one of :attr:`FakeDiscord.oauth_redirect_uris`), ``response_type=code``, the scope
  ``identify guilds`` and ``code_challenge_method=S256`` with a ``code_challenge``; a bad
  one gets a 400 page, as Discord shows one. Otherwise it is a page with an "Authorize"
  button for the user signed in to the fake (:attr:`FakeDiscord.oauth_user`); with
  :attr:`FakeDiscord.oauth_auto_approve` set it approves at once. Approving redirects to
  ``redirect_uri`` with ``code`` and ``state``; cancelling, with ``error=access_denied``.

Under ``/api/v10``:

- ``POST /oauth2/token``: ``grant_type=authorization_code``, the client's id and secret
  (HTTP Basic or in the form), ``code`` (one use, 10 minutes), the same ``redirect_uri``,
  and ``code_verifier`` whose S256 is the challenge; answers a bearer token.
- ``GET /users/@me`` and ``GET /users/@me/guilds`` with ``Authorization: Bearer``: the
  user, and the guilds they are in with ``owner`` and ``permissions`` (their server-wide
  permissions, as a string). A bot token on ``/users/@me`` still gets the bot user.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from tests.fakes.fake_discord.constants import ADMINISTRATOR, ALL_PERMISSIONS, API_PREFIX
from tests.fakes.fake_discord.records import FakeUser
from tests.fakes.fake_discord.state import FakeState

OAUTH_SCOPES = frozenset({"identify", "guilds"})
CODE_SECONDS = 600
TOKEN_SECONDS = 604_800


@dataclass
class OAuthCode:
    """An authorization code handed to a redirect_uri, until it is exchanged once."""

    user_id: int
    redirect_uri: str
    challenge: str
    scope: str
    expires_at: float
    used: bool = False


def s256(verifier: str) -> str:
    """PKCE's S256 transform: base64url(sha256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _error(status: int, error: str, description: str) -> web.Response:
    return web.json_response({"error": error, "error_description": description}, status=status)


class OAuth(FakeState):
    """The OAuth2 routes (see the module doc)."""

    def _add_oauth_routes(self, app: web.Application) -> None:
        app.router.add_get("/oauth2/authorize", self._oauth_authorize_page)
        app.router.add_post("/oauth2/authorize", self._oauth_authorize_decision)
        app.router.add_post(API_PREFIX + "/oauth2/token", self._oauth_token)
        app.router.add_get(API_PREFIX + "/users/@me", self._oauth_me)
        app.router.add_get(API_PREFIX + "/users/@me/guilds", self._oauth_guilds)

    # ------------------------------------------------------------------ authorize

    def _authorize_problem(self, query: Any) -> str | None:
        if query.get("client_id") != str(self.application_id):
            return "Unknown client_id"
        if query.get("redirect_uri") not in self.oauth_redirect_uris:
            return "Invalid OAuth2 redirect_uri"
        if query.get("response_type") != "code":
            return "Invalid response_type"
        if set(query.get("scope", "").split()) != OAUTH_SCOPES:
            return "Invalid scope"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return "Invalid code_challenge"
        return None

    async def _oauth_authorize_page(self, request: web.Request) -> web.Response:
        query = request.query
        self.oauth_authorize_requests.append(dict(query))
        self._changed()
        problem = self._authorize_problem(query)
        if problem is not None:
            return web.Response(status=400, text=problem)
        user = self.oauth_auto_approve
        if user is not None:
            raise web.HTTPFound(self._approve(user, query))
        user = self.oauth_user
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in query.items()
        )
        page = (
            "<!doctype html><html><head><title>Discord</title></head><body>"
            f"<h1>lemonbot wants to access your account</h1><p>Signed in as {user.username}</p>"
            f'<form method="post" action="/oauth2/authorize">{hidden}'
            '<button name="decision" value="approve">Authorize</button>'
            '<button name="decision" value="cancel">Cancel</button></form></body></html>'
        )
        return web.Response(text=page, content_type="text/html")

    async def _oauth_authorize_decision(self, request: web.Request) -> web.Response:
        form = await request.post()
        query = {k: str(v) for k, v in form.items() if k != "decision"}
        problem = self._authorize_problem(query)
        if problem is not None:
            return web.Response(status=400, text=problem)
        if form.get("decision") != "approve":
            back = {"error": "access_denied", "state": query.get("state", "")}
            raise web.HTTPFound(f"{query['redirect_uri']}?{urlencode(back)}")
        raise web.HTTPFound(self._approve(self.oauth_user, query))

    def _approve(self, user: FakeUser, query: Any) -> str:
        code = secrets.token_urlsafe(16)
        self.oauth_codes[code] = OAuthCode(
            user_id=user.id,
            redirect_uri=query["redirect_uri"],
            challenge=query["code_challenge"],
            scope=query["scope"],
            expires_at=time.time() + CODE_SECONDS,
        )
        back = {"code": code}
        if query.get("state") is not None:
            back["state"] = query["state"]
        self._changed()
        return f"{query['redirect_uri']}?{urlencode(back)}"

    # ------------------------------------------------------------------ token

    def _client_credentials(self, request: web.Request, form: Any) -> tuple[str, str]:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            return client_id, secret
        return str(form.get("client_id", "")), str(form.get("client_secret", ""))

    async def _oauth_token(self, request: web.Request) -> web.Response:
        form = await request.post()
        self.oauth_token_requests.append({k: str(v) for k, v in form.items()})
        self._changed()
        client_id, secret = self._client_credentials(request, form)
        if client_id != str(self.application_id) or secret != self.oauth_client_secret:
            return _error(401, "invalid_client", "Invalid client")
        if form.get("grant_type") != "authorization_code":
            return _error(400, "unsupported_grant_type", "Unsupported grant type")
        grant = self.oauth_codes.get(str(form.get("code", "")))
        if grant is None or grant.used or grant.expires_at < time.time():
            return _error(400, "invalid_grant", 'Invalid "code" in request.')
        grant.used = True  # one use, even when the rest of the request is wrong
        if form.get("redirect_uri") != grant.redirect_uri:
            return _error(400, "invalid_grant", "Invalid redirect_uri")
        if s256(str(form.get("code_verifier", ""))) != grant.challenge:
            return _error(400, "invalid_grant", "Invalid code_verifier")
        token = secrets.token_urlsafe(24)
        self.oauth_tokens[token] = grant.user_id
        return web.json_response(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": TOKEN_SECONDS,
                "refresh_token": secrets.token_urlsafe(24),
                "scope": grant.scope,
            }
        )

    # ------------------------------------------------------------------ bearer API

    def _bearer_user(self, request: web.Request) -> FakeUser | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return None
        user_id = self.oauth_tokens.get(header[7:])
        return None if user_id is None else self.users.get(user_id)

    async def _oauth_me(self, request: web.Request) -> web.StreamResponse:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return await self._rest_handler(request)  # type: ignore[attr-defined]
        user = self._bearer_user(request)
        if user is None:
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        # The identify scope's user object carries the account's language (UserPIIResponse).
        return web.json_response({**user.payload(), "locale": user.locale, "mfa_enabled": False})

    async def _oauth_guilds(self, request: web.Request) -> web.StreamResponse:
        if not request.headers.get("Authorization", "").startswith("Bearer "):
            return await self._rest_handler(request)  # type: ignore[attr-defined]
        user = self._bearer_user(request)
        if user is None:
            return web.json_response({"message": "401: Unauthorized", "code": 0}, status=401)
        return web.json_response(self.user_guilds(user))

    def user_guilds(self, user: FakeUser) -> list[dict[str, Any]]:
        """The guilds ``user`` is in, as ``GET /users/@me/guilds`` lists them."""
        listed = []
        for guild in self.guilds.values():
            if user.id not in guild.member_ids:
                continue
            owner = guild.owner_id == user.id
            value = 0
            for role_id in (guild.id, *user.roles):
                role = guild.roles.get(role_id)
                if role is not None:
                    value |= int(role["permissions"])
            if owner or value & ADMINISTRATOR:
                value = ALL_PERMISSIONS
            listed.append(
                {
                    "id": str(guild.id),
                    "name": guild.name,
                    "icon": None,
                    "banner": None,
                    "owner": owner,
                    "permissions": str(value),
                    "features": [],
                    "approximate_member_count": len(guild.member_ids),
                }
            )
        return listed
