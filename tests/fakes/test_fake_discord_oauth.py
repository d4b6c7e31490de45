"""The fake Discord's OAuth2: authorize (page or auto-approval), token with PKCE, @me."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.fakes.fake_discord import FakeDiscord
from tests.fakes.fake_discord.constants import ALL_PERMISSIONS, MANAGE_MESSAGES
from tests.fakes.fake_discord.oauth import s256

REDIRECT = "http://127.0.0.1:1/auth/callback"


def authorize_query(fake: FakeDiscord, verifier: str, **changes: str) -> dict[str, str]:
    query = {
        "client_id": str(fake.application_id),
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": "identify guilds",
        "state": "state-123",
        "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }
    query.update(changes)
    return query


@pytest.fixture
async def http(fake: FakeDiscord):
    fake.oauth_redirect_uris.add(REDIRECT)
    async with httpx.AsyncClient(base_url=fake.base_url, timeout=5) as client:
        yield client


def code_of(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(REDIRECT + "?")
    return parse_qs(urlsplit(location).query)


async def exchange(http: httpx.AsyncClient, fake: FakeDiscord, code: str, verifier: str, **extra):
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
    }
    form.update(extra)
    basic = base64.b64encode(f"{fake.application_id}:{fake.oauth_client_secret}".encode())
    return await http.post(
        "/api/v10/oauth2/token", data=form, headers={"Authorization": f"Basic {basic.decode()}"}
    )


async def test_the_authorize_page_approves_then_the_code_buys_one_token(fake, http):
    verifier = secrets.token_urlsafe(48)
    page = await http.get("/oauth2/authorize", params=authorize_query(fake, verifier))
    assert page.status_code == 200 and "Authorize" in page.text and "alice" in page.text
    form = {**authorize_query(fake, verifier), "decision": "approve"}
    back = code_of(await http.post("/oauth2/authorize", data=form))
    assert back["state"] == ["state-123"]
    token = await exchange(http, fake, back["code"][0], verifier)
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "identify guilds"
    bearer = {"Authorization": f"Bearer {body['access_token']}"}
    me = (await http.get("/api/v10/users/@me", headers=bearer)).json()
    assert me["id"] == str(fake.alice.id) and me["username"] == "alice"
    again = await exchange(http, fake, back["code"][0], verifier)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


async def test_cancel_redirects_with_access_denied(fake, http):
    form = {**authorize_query(fake, "v" * 43), "decision": "cancel"}
    back = code_of(await http.post("/oauth2/authorize", data=form))
    assert back["error"] == ["access_denied"] and "code" not in back


async def test_auto_approval_redirects_at_once_for_the_test_user(fake, http):
    fake.oauth_auto_approve = fake.mod
    verifier = secrets.token_urlsafe(48)
    back = code_of(await http.get("/oauth2/authorize", params=authorize_query(fake, verifier)))
    token = (await exchange(http, fake, back["code"][0], verifier)).json()["access_token"]
    me = await http.get("/api/v10/users/@me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["id"] == str(fake.mod.id)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"client_id": "1"}, "client_id"),
        ({"redirect_uri": "http://evil.example/cb"}, "redirect_uri"),
        ({"response_type": "token"}, "response_type"),
        ({"scope": "identify"}, "scope"),
        ({"scope": "identify guilds email"}, "scope"),
        ({"code_challenge_method": "plain"}, "code_challenge"),
        ({"code_challenge": ""}, "code_challenge"),
    ],
)
async def test_a_bad_authorize_request_gets_an_error_page(fake, http, change, problem):
    fake.oauth_auto_approve = fake.alice
    answer = await http.get("/oauth2/authorize", params=authorize_query(fake, "v" * 43, **change))
    assert answer.status_code == 400 and problem in answer.text


async def test_the_token_endpoint_checks_verifier_secret_and_redirect(fake, http):
    fake.oauth_auto_approve = fake.alice
    verifier = secrets.token_urlsafe(48)

    async def fresh_code() -> str:
        params = authorize_query(fake, verifier)
        return code_of(await http.get("/oauth2/authorize", params=params))["code"][0]

    wrong = await exchange(http, fake, await fresh_code(), "another-verifier" * 3)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    other = await exchange(http, fake, await fresh_code(), verifier, redirect_uri=REDIRECT + "x")
    assert other.status_code == 400
    code = await fresh_code()
    bad_secret = await http.post(
        "/api/v10/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": str(fake.application_id),
            "client_secret": "nope",
        },
    )
    assert bad_secret.status_code == 401 and bad_secret.json()["error"] == "invalid_client"
    in_form = await http.post(
        "/api/v10/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
            "client_id": str(fake.application_id),
            "client_secret": fake.oauth_client_secret,
        },
    )
    assert in_form.status_code == 200  # a refused secret does not spend the code


async def test_guilds_list_owner_and_server_wide_permissions(fake, http):
    other = fake.add_guild("Elsewhere", members=[fake.bob])
    tokens = {}
    for user in (fake.owner, fake.mod, fake.bob):
        fake.oauth_auto_approve = user
        verifier = secrets.token_urlsafe(48)
        params = authorize_query(fake, verifier)
        code = code_of(await http.get("/oauth2/authorize", params=params))["code"][0]
        tokens[user.username] = (await exchange(http, fake, code, verifier)).json()["access_token"]

    async def guilds(name: str) -> dict[str, dict]:
        answer = await http.get(
            "/api/v10/users/@me/guilds", headers={"Authorization": f"Bearer {tokens[name]}"}
        )
        assert answer.status_code == 200
        return {g["id"]: g for g in answer.json()}

    owner = await guilds("owner")
    assert owner[str(fake.guild_id)]["owner"] is True
    assert int(owner[str(fake.guild_id)]["permissions"]) == ALL_PERMISSIONS
    mod = await guilds("mod")
    assert set(mod) == {str(fake.guild_id)} and mod[str(fake.guild_id)]["owner"] is False
    assert int(mod[str(fake.guild_id)]["permissions"]) & MANAGE_MESSAGES
    bob = await guilds("bob")
    assert set(bob) == {str(fake.guild_id), str(other.id)}
    assert not int(bob[str(fake.guild_id)]["permissions"]) & MANAGE_MESSAGES


async def test_a_bad_bearer_token_is_refused_and_the_bot_token_still_works(fake, http):
    bad = await http.get("/api/v10/users/@me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    guilds = await http.get("/api/v10/users/@me/guilds", headers={"Authorization": "Bearer x"})
    assert guilds.status_code == 401
    bot = await http.get("/api/v10/users/@me", headers={"Authorization": f"Bot {fake.bot_token}"})
    assert bot.status_code == 200 and bot.json()["id"] == str(fake.bot_user.id)
