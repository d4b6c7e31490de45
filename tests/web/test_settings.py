"""The dashboard's Settings page over HTTP: each form changes what its /imagemod command does."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from bot.i18n import t
from tests.botenv import BotEnv
from tests.fakes.fake_discord import FakeUser
from tests.web.conftest import Dashboard
from tests.web.test_dashboard import csrf_of


def settings_path(dashboard: Dashboard, guild_id: int | None = None) -> str:
    return f"/servers/{guild_id or dashboard.fake.guild_id}/settings"


async def signed_in(dashboard: Dashboard, user: FakeUser) -> tuple[httpx.AsyncClient, str]:
    """Sign ``user`` in; return the client and a CSRF token of their session."""
    client = await dashboard.client(user)
    return client, csrf_of((await client.get("/mine")).text)


async def post(
    dashboard: Dashboard, client: httpx.AsyncClient, token: str, part: str, **data: Any
) -> httpx.Response:
    return await client.post(f"{settings_path(dashboard)}/{part}", data={"csrf": token, **data})


def alert_of(page: str) -> str:
    found = re.search(r'<p class="notice error" role="alert">(.*?)</p>', page, re.S)
    assert found, "no refusal shown"
    return html.unescape(found.group(1))


async def web_actions(env: BotEnv) -> list[tuple[str, str | None, int | None, str | None]]:
    return [
        (a.action, a.target, a.moderator_id, a.via)
        for a in await env.db.actions.latest(env.fake.guild_id)
    ]


async def command_reply(env: BotEnv, name: str, options: dict[str, Any]) -> str:
    """Run an /imagemod command as the moderator; return its ephemeral reply's text."""
    interaction = env.send(name, options, user=env.fake.mod)
    kind, data = await env.fake.wait_for_callback(interaction)
    if kind == 5:  # deferred: the answer is the edit
        await env.fake.wait_for(lambda: interaction.edits, what="deferred answer")
        return str(interaction.original["content"])
    return str(data["content"])


async def test_a_moderator_sees_the_settings_with_role_and_channel_names(dashboard: Dashboard):
    """The page lists the server's roles and text channels by name (from the gateway cache)."""
    fake = dashboard.fake
    client, _ = await signed_in(dashboard, fake.mod)
    gallery = await client.get(f"/servers/{fake.guild_id}")
    assert f'href="{settings_path(dashboard)}"' in gallery.text
    page = await client.get(settings_path(dashboard))
    assert page.status_code == 200
    assert f'<option value="{fake.mod_role_id}">Moderator</option>' in page.text
    assert f'<option value="{fake.channel2_id}">#lemon-art</option>' in page.text
    assert page.text.count('name="csrf"') >= 10  # every form carries the token
    assert "<script" not in page.text and " style=" not in page.text


async def test_a_budget_set_from_the_web_is_stored_and_logged_as_from_the_web(
    dashboard: Dashboard,
):
    """The budget form calls BillingService.set_budget: stored in micro-dollars, via web."""
    env, fake = dashboard.env, dashboard.fake
    client, token = await signed_in(dashboard, fake.mod)
    answer = await post(
        dashboard,
        client,
        token,
        "budget",
        amount="12.50",
        period="week",
        member_cap="2",
        allow_unpriced="1",
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == settings_path(dashboard) + "?done=budget"
    budget = await env.db.spend.budget(fake.guild_id)
    assert budget is not None
    assert (budget.amount, budget.period, budget.member_cap, budget.allow_unpriced) == (
        12_500_000,
        "week",
        2_000_000,
        True,
    )
    assert await web_actions(env) == [("budget", None, fake.mod.id, "web")]
    page = (await client.get(answer.headers["Location"])).text
    assert t("budget.set_done", "en") in page and "$12.50" in page
    cleared = await post(dashboard, client, token, "budget-clear")
    assert cleared.headers["Location"].endswith("?done=budget_cleared")
    assert await env.db.spend.budget(fake.guild_id) is None
    assert [a[3] for a in await web_actions(env)] == ["web", "web"]


async def test_a_role_quota_and_a_role_cap_are_set_and_cleared_from_the_web(
    dashboard: Dashboard,
):
    """Quota rules and dollar caps of roles go through the same services, logged via web."""
    env, fake = dashboard.env, dashboard.fake
    client, token = await signed_in(dashboard, fake.mod)
    role = str(fake.mod_role_id)
    assert (await post(dashboard, client, token, "quota-role", role=role, limit="7")).is_redirect
    [rule] = await env.db.guilds.quota_rules(fake.guild_id)
    assert (rule.kind, rule.target_id, rule.limit_units) == ("role", fake.mod_role_id, 7)
    page = (await client.get(settings_path(dashboard))).text
    assert "Moderator: 7 units" in page
    cap = await post(dashboard, client, token, "role-cap", role=role, cap="0.75")
    assert cap.headers["Location"].endswith("?done=role_cap")
    assert await env.db.spend.role_caps(fake.guild_id) == {fake.mod_role_id: 750_000}
    await post(dashboard, client, token, "quota-clear", kind="role", target=role)
    await post(dashboard, client, token, "role-cap-clear", role=role)
    assert await env.db.guilds.quota_rules(fake.guild_id) == []
    assert await env.db.spend.role_caps(fake.guild_id) == {}
    assert await web_actions(env) == [
        ("budget", role, fake.mod.id, "web"),
        ("quota_clear_role", f"role:{role}", fake.mod.id, "web"),
        ("budget", role, fake.mod.id, "web"),
        ("quota_role", f"role:{role}", fake.mod.id, "web"),
    ]


async def test_a_blocklist_entry_added_from_the_web_blocks_and_is_removed(dashboard: Dashboard):
    """Add and remove go through add_rule / remove_rule; the page lists the entry."""
    env, fake = dashboard.env, dashboard.fake
    client, token = await signed_in(dashboard, fake.mod)
    added = await post(dashboard, client, token, "blocklist-add", pattern="  storm ")
    assert added.status_code == 303
    [rule] = await env.db.guilds.prompt_rules(fake.guild_id)
    assert (rule.pattern, rule.is_regex, rule.added_by) == ("storm", False, fake.mod.id)
    page = (await client.get(settings_path(dashboard))).text
    assert f"#{rule.id}" in page and "<code>storm</code>" in page
    await post(dashboard, client, token, "blocklist-add", pattern=r"dark\s+sky", regex="1")
    removed = await post(dashboard, client, token, "blocklist-remove", rule=str(rule.id))
    assert removed.status_code == 303
    assert [(r.pattern, r.is_regex) for r in await env.db.guilds.prompt_rules(fake.guild_id)] == [
        (r"dark\s+sky", True)
    ]
    assert [(a[0], a[3]) for a in await web_actions(env)] == [
        ("blocklist_remove", "web"),
        ("blocklist_add", "web"),
        ("blocklist_add", "web"),
    ]


async def test_a_regex_re2_refuses_gets_the_commands_message_and_changes_nothing(
    dashboard: Dashboard,
):
    """The web shows exactly what /imagemod blocklist add replies; nothing is stored."""
    env, fake = dashboard.env, dashboard.fake
    said = await command_reply(env, "imagemod blocklist add", {"pattern": r"(\w)\1", "regex": True})
    assert "Back-references" in said
    client, token = await signed_in(dashboard, fake.mod)
    answer = await post(dashboard, client, token, "blocklist-add", pattern=r"(\w)\1", regex="1")
    assert answer.status_code == 400
    assert alert_of(answer.text) == said
    assert r"(\w)\1" in answer.text  # the typed entry is kept in its field
    assert await env.db.guilds.prompt_rules(fake.guild_id) == []
    assert await env.db.actions.latest(fake.guild_id) == []


@pytest.mark.parametrize(
    ("part", "data", "message"),
    [
        (
            "budget",
            {"amount": "0", "period": "month"},
            "Budget in dollars: enter an amount in dollars from $0.01 to $1,000,000.00.",
        ),
        (
            "budget",
            {"amount": "NaN", "period": "month"},
            "Budget in dollars: enter an amount in dollars from $0.01 to $1,000,000.00.",
        ),
        ("budget", {"amount": "5", "period": "year"}, "Period: choose one of the options offered."),
        (
            "blocklist-add",
            {"pattern": "x" * 201},
            t("refusal.pattern_too_long", "en", max=200),
        ),
        ("blocklist-add", {"pattern": "x" * 5000}, t("refusal.pattern_too_long", "en", max=200)),
        ("blocklist-add", {"pattern": "   "}, t("refusal.pattern_empty", "en")),
        (
            "quota-role",
            {"role": "ROLE", "limit": "-1"},
            "Units per period: enter a whole number from 0 to 100,000.",
        ),
        (
            "quota-role",
            {"role": "ROLE", "limit": "9" * 40},
            "Units per period: enter a whole number from 0 to 100,000.",
        ),
        ("quota-role", {"role": "ROLE"}, t("refusal.limit_or_unlimited", "en")),
        ("quota-role", {"limit": "3"}, "Role: this field is required."),
        (
            "quota-role",
            {"role": "123", "limit": "3"},
            "Role: choose one that this server has.",
        ),
        ("moderator-role", {"role": "EVERYONE"}, t("refusal.everyone_moderator", "en")),
        (
            "running",
            {"user": "101"},
            "Running jobs per member: enter a whole number from 1 to 100.",
        ),
        ("blocklist-remove", {"rule": "4242"}, t("refusal.no_such_rule", "en", id=4242)),
    ],
)
async def test_a_bad_value_is_refused_with_its_message_and_changes_nothing(
    dashboard: Dashboard, part: str, data: dict[str, str], message: str
):
    """400, the message (the command's own where it has one), nothing stored or logged."""
    env, fake = dashboard.env, dashboard.fake
    ids = {"ROLE": str(fake.mod_role_id), "EVERYONE": str(fake.everyone_role_id)}
    data = {k: ids.get(v, v) for k, v in data.items()}
    client, token = await signed_in(dashboard, fake.mod)
    before = await env.db.guilds.settings(fake.guild_id)
    answer = await post(dashboard, client, token, part, **data)
    assert answer.status_code == 400
    assert alert_of(answer.text) == message
    assert "Traceback" not in answer.text
    assert await env.db.spend.budget(fake.guild_id) is None
    assert await env.db.guilds.prompt_rules(fake.guild_id) == []
    assert await env.db.guilds.quota_rules(fake.guild_id) == []
    assert await env.db.guilds.settings(fake.guild_id) == before
    assert await env.db.actions.latest(fake.guild_id) == []


async def test_the_default_quota_roles_channel_and_policy_are_configured_from_the_web(
    dashboard: Dashboard,
):
    """configure / set_default_quota take the forms' values, recorded as from the web."""
    env, fake = dashboard.env, dashboard.fake
    client, token = await signed_in(dashboard, fake.mod)
    await post(dashboard, client, token, "default-quota", limit="5", period="week")
    await post(dashboard, client, token, "moderator-role", role=str(fake.mod_role_id))
    await post(dashboard, client, token, "audit-channel", channel=str(fake.channel2_id))
    await post(dashboard, client, token, "running", user="3", server="")
    policy = {
        "show_cost": "1",
        "fold_accents": "1",
        "strictness": "low_age_restricted",
        "output_format": "webp",
    }
    answer = await post(dashboard, client, token, "policy", **policy)
    assert answer.headers["Location"].endswith("?done=saved")
    settings = await env.db.guilds.settings(fake.guild_id)
    assert (settings.period_limit, settings.quota_period) == (5, "week")
    assert settings.moderator_role_id == fake.mod_role_id
    assert settings.log_channel_id == fake.channel2_id
    assert (settings.max_running_per_user, settings.max_running_per_guild) == (3, None)
    assert settings.cost_visible and settings.fold_accents
    assert (settings.strictness, settings.output_format) == ("low_age_restricted", "webp")
    actions = await env.db.actions.latest(fake.guild_id)
    assert [a.action for a in actions] == ["config"] * 4 + ["quota_default"]
    assert {a.via for a in actions} == {"web"}
    assert "cost_visible=True" in (actions[0].detail or "")
    assert "fold_accents" not in (actions[0].detail or "")  # unchanged: not logged
    same = await post(dashboard, client, token, "policy", **policy)
    assert same.headers["Location"].endswith("?done=unchanged")
    assert len(await env.db.actions.latest(fake.guild_id)) == 5
    reset = await post(dashboard, client, token, "moderator-role", role="")
    assert reset.status_code == 303
    assert (await env.db.guilds.settings(fake.guild_id)).moderator_role_id is None


async def test_a_settings_form_without_its_csrf_token_gets_403(dashboard: Dashboard):
    """The guard refuses the POST before any change."""
    env, fake = dashboard.env, dashboard.fake
    client, _ = await signed_in(dashboard, fake.mod)
    path = f"{settings_path(dashboard)}/budget"
    answer = await client.post(path, data={"amount": "5", "period": "day"})
    assert answer.status_code == 403
    forged = await client.post(path, data={"csrf": "0" * 64, "amount": "5", "period": "day"})
    assert forged.status_code == 403
    assert await env.db.spend.budget(fake.guild_id) is None
    assert await env.db.actions.latest(fake.guild_id) == []


async def test_a_non_moderator_and_a_member_of_another_server_get_404(dashboard: Dashboard):
    """GET and POST (with a valid token) answer 404 to anyone who does not moderate it."""
    env, fake = dashboard.env, dashboard.fake
    other = fake.add_guild("Elsewhere", members=[fake.bob])
    cases = [(fake.alice, fake.guild_id), (fake.mod, other.id), (fake.bob, fake.guild_id)]
    for user, guild_id in cases:
        client, token = await signed_in(dashboard, user)
        path = settings_path(dashboard, guild_id)
        assert (await client.get(path)).status_code == 404, (user.name, guild_id)
        answer = await client.post(
            f"{path}/budget", data={"csrf": token, "amount": "5", "period": "day"}
        )
        assert answer.status_code == 404, (user.name, guild_id)
        answer = await client.post(
            f"{path}/blocklist-add", data={"csrf": token, "pattern": "storm"}
        )
        assert answer.status_code == 404
    assert await env.db.spend.budget(fake.guild_id) is None
    assert await env.db.spend.budget(other.id) is None
    assert await env.db.guilds.prompt_rules(fake.guild_id) == []
    moderator, token = await signed_in(dashboard, fake.mod)
    unknown = await moderator.post(f"{settings_path(dashboard)}/nothing", data={"csrf": token})
    assert unknown.status_code == 404


async def test_the_page_reads_in_chinese_for_a_chinese_moderator(dashboard: Dashboard):
    """Every word comes from the catalogue: a zh-CN moderator reads the page in Chinese."""
    fake = dashboard.fake
    fake.mod.locale = "zh-CN"  # the account's language, as /users/@me says
    client, token = await signed_in(dashboard, fake.mod)
    page = (await client.get(settings_path(dashboard))).text
    assert t("web.settings_of", "zh-CN", server="Lemon Grove") in page
    assert t("web.settings_pattern", "zh-CN") in page
    bad = await post(dashboard, client, token, "budget", amount="0", period="day")
    assert alert_of(bad.text).startswith(t("web.settings_amount", "zh-CN"))


async def test_without_the_gateway_cache_roles_and_channels_are_typed_as_ids(
    dashboard: Dashboard,
):
    """A web-only process has no gateway cache: ids are typed, and no role is looked up."""
    env, fake = dashboard.env, dashboard.fake
    await dashboard.job(user=fake.alice)  # the ledger knows the server
    env.bot._connection._guilds.pop(fake.guild_id)
    assert env.bot.get_guild(fake.guild_id) is None
    client, token = await signed_in(dashboard, fake.mod)
    page = (await client.get(settings_path(dashboard))).text
    assert '<input name="role" inputmode="numeric"' in page
    assert '<input name="channel" inputmode="numeric"' in page
    assert '<option value="' + str(fake.mod_role_id) not in page
    fake.clear_requests()
    answer = await post(dashboard, client, token, "quota-role", role="4242", unlimited="1")
    assert answer.status_code == 303
    [rule] = await env.db.guilds.quota_rules(fake.guild_id)
    assert (rule.target_id, rule.limit_units) == (4242, None)
    assert fake.requests_to("GET", r"/roles|/channels") == []
    bad = await post(dashboard, client, token, "audit-channel", channel="12ab")
    assert bad.status_code == 400
    assert alert_of(bad.text) == "Audit channel: choose one that this server has."


async def test_a_member_blocked_from_the_job_page_cannot_imagine_and_is_unblocked_here(
    dashboard: Dashboard,
):
    """The job page's Block goes through ModerationService.block (via web); /imagine then
    refuses the member; the Settings page lists them, with who and why, and unblocks them."""
    env, fake = dashboard.env, dashboard.fake
    job = await dashboard.job(user=fake.alice, prompt="a forbidden lemon")
    client, _ = await signed_in(dashboard, fake.mod)
    page = (await client.get(f"/jobs/{job.id}")).text
    assert "Block Alice from /imagine" in page
    answer = await client.post(
        f"{settings_path(dashboard)}/block",
        data={"csrf": csrf_of(page), "user": str(fake.alice.id), "reason": "spam <b>"},
    )
    assert answer.status_code == 303 and answer.headers["Location"].endswith("?done=blocked")
    listed = (await client.get(answer.headers["Location"])).text
    assert "Member blocked" in listed and "Alice" in listed and "spam &lt;b&gt;" in listed
    assert ("block", f"user:{fake.alice.id}", fake.mod.id, "web") in await web_actions(env)
    refused = await env.imagine(user=fake.alice, prompt="another lemon")
    kind, data = await fake.wait_for_callback(refused)
    assert kind == 4 and "blocked" in data["content"].lower()
    again = await post(dashboard, client, csrf_of(listed), "unblock", user=str(fake.alice.id))
    assert again.status_code == 303 and again.headers["Location"].endswith("?done=unblocked")
    assert ("unblock", f"user:{fake.alice.id}", fake.mod.id, "web") in await web_actions(env)
    twice = await post(dashboard, client, csrf_of(listed), "unblock", user=str(fake.alice.id))
    assert twice.status_code == 400  # the command's refusal: not blocked
    assert alert_of(twice.text) == t("refusal.not_blocked", "en", user=f"<@{fake.alice.id}>")


async def test_a_block_reason_too_long_or_a_bad_member_id_changes_nothing(dashboard: Dashboard):
    env, fake = dashboard.env, dashboard.fake
    client, token = await signed_in(dashboard, fake.mod)
    long = await post(dashboard, client, token, "block", user=str(fake.bob.id), reason="x" * 301)
    assert long.status_code == 400 and "too long" in alert_of(long.text)
    junk = await post(dashboard, client, token, "block", user="12; DROP TABLE")
    assert junk.status_code == 400
    assert await env.db.guilds.blocked_users(fake.guild_id) == []


async def test_a_blocklist_entry_from_the_job_page_refuses_the_prompt(dashboard: Dashboard):
    """The job page offers its prompt as a blocklist entry; added, /imagine refuses it."""
    env, fake = dashboard.env, dashboard.fake
    job = await dashboard.job(user=fake.alice, prompt="a purple giraffe")
    client, _ = await signed_in(dashboard, fake.mod)
    page = (await client.get(f"/jobs/{job.id}")).text
    assert 'name="pattern" required maxlength="200" value="a purple giraffe"' in page
    answer = await client.post(
        f"{settings_path(dashboard)}/blocklist-add",
        data={"csrf": csrf_of(page), "pattern": "purple giraffe"},
    )
    assert answer.status_code == 303
    [rule] = await env.db.guilds.prompt_rules(fake.guild_id)
    assert rule.pattern == "purple giraffe" and not rule.is_regex
    refused = await env.imagine(user=fake.bob, prompt="A Purple Giraffe dancing")
    kind, data = await fake.wait_for_callback(refused)
    assert kind == 4 and int(data.get("flags") or 0) & 64  # private refusal


async def test_the_job_page_offers_moderation_only_to_moderators(dashboard: Dashboard):
    fake = dashboard.fake
    job = await dashboard.job(user=fake.alice)
    client, _ = await signed_in(dashboard, fake.alice)  # the requester, not a moderator
    page = (await client.get(f"/jobs/{job.id}")).text
    assert "from /imagine" not in page and "blocklist-add" not in page


async def test_a_members_quota_set_from_the_web_limits_their_imagine(dashboard: Dashboard):
    """quota-member is /imagemod quota user: 0 units, and /imagine refuses the member."""
    env, fake = dashboard.env, dashboard.fake
    client, token = await signed_in(dashboard, fake.mod)
    answer = await post(dashboard, client, token, "quota-member", user=str(fake.bob.id), limit="0")
    assert answer.status_code == 303
    [rule] = await env.db.guilds.quota_rules(fake.guild_id)
    assert (rule.kind, rule.target_id, rule.limit_units) == ("user", fake.bob.id, 0)
    assert ("quota_user", f"user:{fake.bob.id}", fake.mod.id, "web") in await web_actions(env)
    assert "Bob: 0 units" in (await client.get(settings_path(dashboard))).text  # named
    refused = await env.imagine(user=fake.bob, prompt="a lemon")
    kind, data = await fake.wait_for_callback(refused)
    assert kind == 4 and int(data.get("flags") or 0) & 64
    missing = await post(dashboard, client, token, "quota-member", user="", limit="3")
    assert missing.status_code == 400
