"""The dashboard over HTTP: sign-in, who sees what, CSRF, cookies, redirects, images."""

from __future__ import annotations

import asyncio
import io
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from PIL import Image

from bot.dashboard import hash_session_id
from bot.quota import window_of
from bot.web.auth import SignInFailed, safe_next
from tests.web.conftest import Dashboard


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF token in the page"
    return found.group(1)


async def test_without_a_session_a_page_redirects_to_the_login(dashboard: Dashboard):
    client = dashboard.anonymous()
    for path in ("/", "/mine", f"/servers/{dashboard.fake.guild_id}", "/jobs/1"):
        answer = await client.get(path)
        assert answer.status_code == 302
        location = answer.headers["Location"]
        assert location.startswith("/login?")
        assert parse_qs(urlsplit(location).query)["next"] == [path]


async def test_the_login_goes_to_discord_with_pkce_state_and_the_registered_callback(
    dashboard: Dashboard,
):
    answer = await dashboard.anonymous().get("/login")
    assert answer.status_code == 302
    target = urlsplit(answer.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == dashboard.fake.base_url  # from Route.BASE
    assert target.path == "/oauth2/authorize"
    query = parse_qs(target.query)
    assert query["redirect_uri"] == [dashboard.base_url + "/auth/callback"]
    assert query["scope"] == ["identify guilds"] and query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"] and query["state"][0]
    assert query["client_id"] == [str(dashboard.fake.application_id)]
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


async def test_a_moderator_signs_in_and_sees_their_server_and_its_gallery(dashboard: Dashboard):
    fake = dashboard.fake
    await dashboard.job(user=fake.alice, prompt="a lemon tree at dusk")
    await dashboard.job(user=fake.bob, prompt="a blue whale", model="gpt-image-2")
    client = await dashboard.client(fake.mod)
    home = await client.get("/")
    assert "Lemon Grove" in home.text and "2 images today" in home.text
    gallery = await client.get(f"/servers/{fake.guild_id}")
    assert gallery.status_code == 200
    assert "a lemon tree at dusk" in gallery.text and "a blue whale" in gallery.text
    filtered = await client.get(f"/servers/{fake.guild_id}", params={"q": "WHALE"})
    assert "a blue whale" in filtered.text and "a lemon tree" not in filtered.text
    by_model = await client.get(f"/servers/{fake.guild_id}", params={"model": "nano-banana"})
    assert "a lemon tree" in by_model.text and "a blue whale" not in by_model.text
    by_member = await client.get(f"/servers/{fake.guild_id}", params={"member": fake.bob.id})
    assert "a blue whale" in by_member.text and "a lemon tree" not in by_member.text
    failed = await client.get(f"/servers/{fake.guild_id}", params={"state": "failed"})
    assert "a blue whale" not in failed.text and "a lemon tree" not in failed.text


async def test_every_page_sends_a_strict_csp_and_a_referrer_policy(dashboard: Dashboard):
    client = await dashboard.client(dashboard.fake.mod)
    for path in ("/", "/mine", "/static/style.css", "/jobs/999999", "/login"):
        answer = await client.get(path)
        csp = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "script-src" not in csp
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert answer.headers["Referrer-Policy"] == "same-origin"
    page = (await client.get("/")).text
    assert "<script" not in page and " style=" not in page


async def test_a_member_of_another_server_gets_404_for_its_job_and_images(dashboard: Dashboard):
    fake = dashboard.fake
    other = fake.add_guild("Elsewhere", members=[fake.bob])
    job = await dashboard.job(guild_id=other.id, user=fake.bob, prompt="a secret")
    for user in (fake.mod, fake.alice):
        client = await dashboard.client(user)
        for path in (
            f"/jobs/{job.id}",
            f"/jobs/{job.id}/images/0",
            f"/jobs/{job.id}/thumbs/0.webp",
            f"/servers/{other.id}",
        ):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert "a secret" not in answer.text
    missing = await client.get("/jobs/987654321")
    assert missing.status_code == 404


async def test_the_owner_of_the_other_server_sees_it(dashboard: Dashboard):
    fake = dashboard.fake
    other = fake.add_guild("Elsewhere", members=[fake.bob])
    job = await dashboard.job(guild_id=other.id, user=fake.bob, prompt="a secret")
    client = await dashboard.client(fake.owner)
    assert "Elsewhere" in (await client.get("/")).text
    assert (await client.get(f"/jobs/{job.id}")).status_code == 200


async def test_a_non_moderator_sees_only_their_own_images(dashboard: Dashboard):
    fake = dashboard.fake
    mine = await dashboard.job(user=fake.alice, prompt="alice's lemon")
    theirs = await dashboard.job(user=fake.bob, prompt="bob's lime")
    client = await dashboard.client(fake.alice)
    home = await client.get("/")
    assert "Lemon Grove" not in home.text
    assert (await client.get(f"/servers/{fake.guild_id}")).status_code == 404
    own = await client.get("/mine")
    assert "alice&#39;s lemon" in own.text and "bob&#39;s lime" not in own.text
    assert (await client.get(f"/jobs/{mine.id}")).status_code == 200
    assert (await client.get(f"/jobs/{mine.id}/images/0")).status_code == 200
    assert (await client.get(f"/jobs/{theirs.id}")).status_code == 404
    assert (await client.get(f"/jobs/{theirs.id}/images/0")).status_code == 404


async def test_a_form_without_its_csrf_token_gets_403(dashboard: Dashboard):
    fake = dashboard.fake
    job = await dashboard.job(user=fake.alice)
    client = await dashboard.client(fake.mod)
    assert (await client.post(f"/jobs/{job.id}/delete")).status_code == 403
    assert (await client.post(f"/jobs/{job.id}/delete", data={"csrf": "0" * 64})).status_code == 403
    assert (await client.post("/logout", data={})).status_code == 403
    assert (await client.get("/")).status_code == 200  # still signed in
    other = await dashboard.client(fake.owner)  # another session's token is not this one's
    token = csrf_of((await other.get("/")).text)
    assert (await client.post("/logout", data={"csrf": token})).status_code == 403


async def test_a_tampered_or_expired_cookie_signs_out(dashboard: Dashboard):
    fake = dashboard.fake
    client = await dashboard.client(fake.mod)
    raw = client.cookies["lemonbot_session"]
    client.cookies.set("lemonbot_session", raw[:-2] + ("AA" if raw[-2:] != "AA" else "BB"))
    answer = await client.get("/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert 'lemonbot_session=""' in answer.headers["Set-Cookie"]
    # Expired: the row says so (the database is the truth, not the cookie's max-age).
    client = await dashboard.client(fake.mod)
    raw = client.cookies["lemonbot_session"]
    await dashboard.env.db.db.execute(
        "UPDATE web_sessions SET expires_at = ? WHERE id_hash = ?",
        (time.time() - 1, hash_session_id(raw)),
    )
    answer = await client.get("/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")


async def test_logout_revokes_the_session(dashboard: Dashboard):
    client = await dashboard.client(dashboard.fake.mod)
    raw = client.cookies["lemonbot_session"]
    token = csrf_of((await client.get("/")).text)
    answer = await client.post("/logout", data={"csrf": token})
    assert answer.status_code == 302 and answer.headers["Location"] == "/signed-out"
    replay = dashboard.anonymous()
    replay.cookies.set("lemonbot_session", raw)
    assert (await replay.get("/")).status_code == 302  # the row is revoked


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "\t//evil.example",
    ],
)
def test_a_foreign_redirect_target_is_refused(target):
    assert safe_next(target) == "/"


async def test_after_login_the_redirect_goes_only_to_this_sites_paths(dashboard: Dashboard):
    fake = dashboard.fake
    fake.oauth_auto_approve = fake.mod
    client = dashboard.anonymous()
    answer = await client.get("/login", params={"next": "https://evil.example/"})
    authorize = await client.get(answer.headers["Location"])
    back = await client.get(authorize.headers["Location"])
    assert back.status_code == 302 and back.headers["Location"] == "/"
    client = dashboard.anonymous()
    answer = await client.get("/login", params={"next": "/mine?x=1"})
    authorize = await client.get(answer.headers["Location"])
    back = await client.get(authorize.headers["Location"])
    assert back.headers["Location"] == "/mine?x=1"


async def test_a_callback_with_a_forged_state_signs_nobody_in(dashboard: Dashboard):
    fake = dashboard.fake
    fake.oauth_auto_approve = fake.mod
    client = dashboard.anonymous()
    answer = await client.get("/login")
    authorize = await client.get(answer.headers["Location"])
    location = authorize.headers["Location"].replace("state=", "state=x")
    back = await client.get(location)
    assert back.status_code == 400 and "lemonbot_session" not in client.cookies
    stranger = dashboard.anonymous()  # a code handed to another browser (no login cookie)
    assert (await stranger.get(authorize.headers["Location"])).status_code == 400


async def test_rights_are_checked_again_within_a_minute(dashboard: Dashboard):
    fake = dashboard.fake
    client = await dashboard.client(fake.mod)
    assert (await client.get(f"/servers/{fake.guild_id}")).status_code == 200
    fake.mod.roles.clear()  # the moderator role is taken away in Discord
    raw = client.cookies["lemonbot_session"]
    await dashboard.env.db.db.execute(
        "UPDATE web_sessions SET checked_at = ? WHERE id_hash = ?",
        (time.time() - 61, hash_session_id(raw)),
    )
    assert (await client.get(f"/servers/{fake.guild_id}")).status_code == 404


async def test_images_are_private_and_thumbnails_are_webp_made_once(dashboard: Dashboard):
    fake = dashboard.fake
    job = await dashboard.job(user=fake.alice)
    client = await dashboard.client(fake.mod)
    full = await client.get(f"/jobs/{job.id}/images/0")
    assert full.status_code == 200 and full.headers["Content-Type"] == "image/png"
    assert full.headers["Cache-Control"].startswith("private")
    thumb = await client.get(f"/jobs/{job.id}/thumbs/0.webp")
    assert thumb.status_code == 200 and thumb.headers["Content-Type"] == "image/webp"
    assert thumb.headers["Cache-Control"].startswith("private")
    with Image.open(io.BytesIO(thumb.content)) as image:
        assert image.format == "WEBP" and max(image.size) == 384
    stored = await dashboard.env.db.web.thumbnail(job.id, 0)
    assert stored == thumb.content
    page = await client.get(f"/jobs/{job.id}")
    assert f'src="/jobs/{job.id}/images/0"' in page.text and "alt=" in page.text
    assert "cdn.discordapp" not in page.text


async def test_the_job_page_shows_prompt_seed_cost_and_lineage(dashboard: Dashboard):
    fake = dashboard.fake
    parent = await dashboard.job(user=fake.alice, prompt="the first lemon")
    child = await dashboard.job(
        user=fake.alice, prompt="the second lemon", parent_id=parent.id, kind="reroll"
    )
    await dashboard.env.db.db.execute(
        "UPDATE jobs SET cost = 170000, cost_source = 'usage' WHERE id = ?", (parent.id,)
    )
    client = await dashboard.client(fake.mod)
    page = (await client.get(f"/jobs/{parent.id}")).text
    assert "the first lemon" in page and "42" in page and "$0.17" in page
    assert f"/jobs/{child.id}" in page and "Made from this job" in page
    assert f'src="/jobs/{child.id}/thumbs/0.webp"' in page and "Reroll" in page
    child_page = (await client.get(f"/jobs/{child.id}")).text
    assert f'href="/jobs/{parent.id}"' in child_page  # the parent, with its thumbnail
    assert f'src="/jobs/{parent.id}/thumbs/0.webp"' in child_page


async def test_delete_from_the_job_page_goes_through_moderation_and_says_web(
    dashboard: Dashboard,
):
    env, fake = dashboard.env, dashboard.fake
    await env.db.guilds.update_settings(fake.guild_id, log_channel_id=fake.channel2_id)
    interaction = await env.imagine(user=fake.alice, prompt="a lemon to delete")
    job = await env.settled((await env.job_for(interaction)).id)
    assert job.state == "succeeded" and job.delivered_message_id is not None
    client = await dashboard.client(fake.mod)
    page = await client.get(f"/jobs/{job.id}")
    assert f'src="/jobs/{job.id}/images/0"' in page.text  # the bytes stay after delivery
    answer = await client.post(f"/jobs/{job.id}/delete", data={"csrf": csrf_of(page.text)})
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?done=deleted")
    await fake.wait_for(lambda: job.delivered_message_id in fake.deleted_messages)
    [entry] = [a for a in await env.db.actions.latest(fake.guild_id) if a.action == "delete"]
    assert entry.via == "web" and entry.moderator_id == fake.mod.id
    assert entry.target == f"job:{job.id}"
    after = (await client.get(answer.headers["Location"])).text
    assert "from the web dashboard" in after and "Delete the result" not in after

    def audit_footers() -> list[str]:
        return [
            (e.get("footer") or {}).get("text", "")
            for m in fake.channel_messages(fake.channel2_id)
            for e in m.get("embeds") or []
            if e.get("title") == "Moderator action"
        ]

    # The audit channel says it too.
    await fake.wait_for(lambda: audit_footers(), what="the audit post of the delete")
    assert audit_footers() == ["Done from the web dashboard"]
    again = await client.post(f"/jobs/{job.id}/delete", data={"csrf": csrf_of(after)})
    assert again.status_code == 409  # already deleted: the service's refusal, shown


async def test_a_member_may_not_delete_anothers_result(dashboard: Dashboard):
    fake = dashboard.fake
    job = await dashboard.job(user=fake.bob)
    client = await dashboard.client(fake.alice)
    token = csrf_of((await client.get("/mine")).text)
    assert (await client.post(f"/jobs/{job.id}/delete", data={"csrf": token})).status_code == 404


async def test_on_https_the_cookies_are_secure(running_bot, fake):
    from aiohttp.test_utils import TestClient, TestServer

    from bot.web.app import build_app

    async with (
        running_bot(
            web_base_url="https://bot.example.org",
            web_secret="s" * 40,
            discord_client_secret=fake.oauth_client_secret,
        ) as env,
        TestClient(TestServer(build_app(env.bot))) as client,
    ):
        answer = await client.get("/login", allow_redirects=False)
        assert answer.status == 302
        cookie = answer.headers["Set-Cookie"]
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
        target = parse_qs(urlsplit(answer.headers["Location"]).query)
        assert target["redirect_uri"] == ["https://bot.example.org/auth/callback"]


async def test_a_port_in_use_is_one_configuration_error(running_bot, fake):
    import socket

    from bot.errors import ConfigurationError
    from bot.web.server import start_web

    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        async with running_bot(
            web_base_url="http://127.0.0.1:1",
            web_secret="s" * 40,
            discord_client_secret="x",
            web_port=port,
        ) as env:
            with pytest.raises(ConfigurationError, match=f"WEB_PORT {port}"):
                await start_web(env.bot)


async def test_servers_the_bot_does_not_know_cost_no_request(dashboard: Dashboard):
    fake = dashboard.fake
    fake.add_guild("Unknown to the bot", members=[fake.mod])  # no job, no settings, no cache
    fake.clear_requests()
    await dashboard.client(fake.mod)
    asked = {r.path for r in fake.requests_to("GET", r"^/guilds/")}
    assert asked == {f"/guilds/{fake.guild_id}/members/{fake.mod.id}"}


async def test_gallery_filters_dates_and_reference_images_and_mine_downloads(
    dashboard: Dashboard,
):
    from tests.web.conftest import png

    fake, db = dashboard.fake, dashboard.env.db
    old = await dashboard.job(user=fake.alice, prompt="an old lemon")
    await db.db.execute("UPDATE jobs SET created_at = ? WHERE id = ?", (1_700_000_000.0, old.id))
    remix = await dashboard.job(user=fake.alice, prompt="a lemon from a photo", input_count=1)
    await db.db.execute(
        "INSERT INTO job_inputs (job_id, position, filename, content_type, data) "
        "VALUES (?, 0, 'ref.png', 'image/png', ?)",
        (remix.id, png("green")),
    )
    client = await dashboard.client(fake.mod)
    gallery = f"/servers/{fake.guild_id}"
    dated = (await client.get(gallery, params={"since": "2023-11-14", "until": "2023-11-14"})).text
    assert "an old lemon" in dated and "a lemon from a photo" not in dated
    refs = (await client.get(gallery, params={"refs": "1"})).text
    assert "a lemon from a photo" in refs and "an old lemon" not in refs
    bad = await client.get(gallery, params={"since": "not-a-date"})
    assert bad.status_code == 200 and "an old lemon" in bad.text
    page = (await client.get(f"/jobs/{remix.id}")).text
    assert f'src="/jobs/{remix.id}/references/0"' in page
    reference = await client.get(f"/jobs/{remix.id}/references/0")
    assert reference.status_code == 200 and reference.headers["Content-Type"] == "image/png"

    mine = await dashboard.client(fake.alice)
    own = (await mine.get("/mine")).text
    assert f'href="/jobs/{remix.id}/images/0?download=1"' in own
    download = await mine.get(f"/jobs/{remix.id}/images/0", params={"download": "1"})
    assert download.headers["Content-Disposition"] == (
        f'attachment; filename="lemonbot-{remix.id}-0.png"'
    )
    stranger = await dashboard.client(fake.bob)
    assert (await stranger.get(f"/jobs/{remix.id}/references/0")).status_code == 404


async def test_the_language_follows_discord_and_the_viewer_can_switch_it(dashboard: Dashboard):
    """A zh-CN Discord account reads Chinese; a switch (with CSRF) sticks; junk is refused."""
    fake = dashboard.fake
    fake.mod.locale = "zh-CN"
    client = await dashboard.client(fake.mod)
    page = await client.get("/")
    assert '<html lang="zh-CN">' in page.text and "退出登录" in page.text
    assert 'value="zh-CN" lang="zh-CN" aria-pressed="true">中文' in page.text
    gallery = f"/servers/{fake.guild_id}?model=nano-banana"
    answer = await client.post(
        "/language", data={"csrf": csrf_of(page.text), "lang": "en", "next": gallery}
    )
    assert answer.status_code == 303 and answer.headers["Location"] == gallery
    cookie = answer.headers["Set-Cookie"]
    assert "lemonbot_lang=en" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = await client.get(gallery)
    assert '<html lang="en">' in page.text and "Sign out" in page.text
    refused = await client.post("/language", data={"csrf": csrf_of(page.text), "lang": "fr"})
    assert refused.status_code == 400
    foreign = await client.post(
        "/language",
        data={"csrf": csrf_of(page.text), "lang": "zh-CN", "next": "https://evil.example/"},
    )
    assert foreign.status_code == 303 and foreign.headers["Location"] == "/"
    forged = await client.post("/language", data={"lang": "zh-CN"})
    assert forged.status_code == 403


async def test_before_sign_in_the_browsers_language_is_read(dashboard: Dashboard):
    client = dashboard.anonymous()
    page = await client.get("/signed-out", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-CN">' in page.text
    page = await client.get("/signed-out", headers={"Accept-Language": "fr-FR,en;q=0.5"})
    assert '<html lang="en">' in page.text


async def test_the_servers_page_shows_this_periods_spend_and_the_budget(dashboard: Dashboard):
    env, fake = dashboard.env, dashboard.fake
    job = await dashboard.job(user=fake.alice)
    await dashboard.job(user=fake.bob, state="failed", images=0)
    month = window_of(time.time(), "month")
    await env.db.db.execute(
        "UPDATE jobs SET cost = 39000, budget_window = ? WHERE id = ?", (month, job.id)
    )
    client = await dashboard.client(fake.mod)
    assert "1 image today · $0.04 spent this month" in (await client.get("/")).text
    await env.db.spend.set_budget(
        fake.guild_id,
        amount=20_000_000,
        period="month",
        member_cap=None,
        allow_unpriced=False,
        set_by=fake.mod.id,
    )
    text = (await client.get("/")).text
    assert "$0.04 of $20.00 spent this month, $19.96 left" in text


async def test_the_job_page_leaves_out_a_seed_nobody_drew_and_no_references(
    dashboard: Dashboard,
):
    fake = dashboard.fake
    job = await dashboard.job(user=fake.alice)
    await dashboard.env.db.db.execute(
        "UPDATE jobs SET options = ? WHERE id = ?",
        ('{"prompt": "p", "model": "nano-banana", "seed": null, "images": 0, "count": 1}', job.id),
    )
    client = await dashboard.client(fake.mod)
    page = (await client.get(f"/jobs/{job.id}")).text
    assert "None" not in page and "<code>images</code>" not in page
    assert "<code>count</code> <code>1</code>" in page


async def test_ids_past_what_a_database_holds_are_not_found_not_errors(dashboard: Dashboard):
    fake = dashboard.fake
    client = await dashboard.client(fake.mod)
    huge = "9" * 19  # 19 digits, past 2**63 - 1
    for path in (
        f"/jobs/{huge}",
        f"/jobs/1/images/{huge}",
        f"/jobs/1/thumbs/{huge}.webp",
        f"/jobs/1/references/{huge}",
        f"/servers/{huge}",
    ):
        assert (await client.get(path)).status_code == 404, path
    for path in (f"/mine?before={huge}", f"/servers/{fake.guild_id}?before={huge}&member={huge}"):
        assert (await client.get(path)).status_code == 200, path


async def test_a_pages_requests_share_one_check_of_rights(dashboard: Dashboard):
    """Twenty requests at once, the check due: Discord is asked once per server, not 20 times."""
    fake = dashboard.fake
    client = await dashboard.client(fake.mod)
    await dashboard.env.db.db.execute(
        "UPDATE web_sessions SET checked_at = ? WHERE id_hash = ?",
        (time.time() - 61, hash_session_id(client.cookies["lemonbot_session"])),
    )
    fake.clear_requests()
    answers = await asyncio.gather(*(client.get("/mine") for _ in range(20)))
    assert all(a.status_code == 200 for a in answers)
    asked = fake.requests_to("GET", rf"/guilds/\d+/members/{fake.mod.id}$")
    assert len(asked) == len({r.path for r in asked}) >= 1  # each server once
    styles = await asyncio.gather(*(client.get("/static/style.css") for _ in range(5)))
    assert all(s.status_code == 200 for s in styles)
    assert len(fake.requests_to("GET", r"/members/")) == len(asked)  # no session read there


def test_a_sign_in_failure_reason_is_one_bounded_line():
    reason = SignInFailed("Discord said " + "x\n2026 INFO forged line" * 100).reason
    assert len(reason) == 200 and "\n" not in reason
