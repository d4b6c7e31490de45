"""The dashboard's Settings page: quotas, budget, caps, blocklist, roles, channel, policy.

``GET /servers/{guild_id}/settings`` shows a server's settings to its moderators (404 to
anyone else, as the gallery). Each part is its own small form, POSTed with the CSRF
token the guard checks to ``/servers/{guild_id}/settings/<part>``. A change goes through
the service method the ``/imagemod`` command calls, with the moderator's id and
``via="web"``, after the same checks: :mod:`bot.moderation.config`, the ranges of the
commands' options (which Discord checks for a command), the blocklist's own limits. A
value that is not valid re-renders the page with the command's message and changes
nothing (400 for an InvalidRequest, 409 for another refusal); a change redirects (303)
back with a ``done=`` flag, shown as a confirmation.

Roles and channels are offered by name when this process's gateway cache has the server,
otherwise (a ``python -m bot web`` process) typed as numeric ids: no request to Discord.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from aiohttp import web

from bot.billing import MICROS
from bot.billing.budgets import MAX_DOLLARS, MIN_DOLLARS, typed_micros
from bot.client import LemonBot
from bot.errors import InvalidRequest, Refusal
from bot.i18n import Dollars, Lang, Number, Text
from bot.moderation.blocklist import MAX_PATTERN_LENGTH
from bot.moderation.config import (
    FORMATS,
    MAX_LIMIT_UNITS,
    MAX_REASON_LENGTH,
    MAX_RUNNING,
    STRICTNESS,
    config_changes,
    default_quota_changes,
    rule_units,
)
from bot.quota import PERIODS
from bot.ui.format import limit_text
from bot.ui.rules import per_period
from bot.web.access import MAX_ID, VIEWER, moderated_guild

log = logging.getLogger(__name__)

WEB = "web"  # ``via`` of the actions done here
MAX_FIELD = 4 * MAX_PATTERN_LENGTH  # characters of a field looked at; longer is refused
MAX_DIGITS = 20
# done= flag -> the confirmation shown (the command's own reply where it has one).
DONE = {
    "saved": "web.settings_saved",
    "blocked": "web.settings_blocked",
    "unblocked": "web.settings_unblocked",
    "unchanged": "web.settings_unchanged",
    "cannot_post": "web.settings_cannot_post",
    "budget": "budget.set_done",
    "budget_cleared": "budget.cleared",
    "no_budget": "budget.none",
    "role_cap": "budget.role_cap_set",
    "role_cap_cleared": "budget.role_cap_cleared",
    "no_role_cap": "budget.no_role_cap",
}

Form = Mapping[str, str]
Part = Callable[[int, Form, int], Awaitable[str]]


class Dashboard(Protocol):
    """What the page uses of :class:`bot.web.app.Dashboard` (which imports this module)."""

    bot: LemonBot

    def moderates(self, request: web.Request, guild_id: int) -> bool:
        """Whether the viewer moderates ``guild_id``."""
        ...

    def lang(self, request: web.Request) -> Lang:
        """Return the viewer's language."""
        ...

    def render(
        self, request: web.Request, template: str, /, *, status: int = 200, **context: object
    ) -> web.Response:
        """Render a page for the viewer."""
        ...

    async def server_name(self, guild_id: int) -> str:
        """Return the server's name."""
        ...

    async def member_names(self, guild_id: int | None, user_ids: Iterable[int]) -> dict[int, str]:
        """Return the names known of ``user_ids``."""
        ...


@dataclass(frozen=True)
class Named:
    """A role or channel of the server, as the gateway cache names it."""

    id: int
    name: str


def _field(form: Form, name: str) -> str:
    return form.get(name, "")[:MAX_FIELD].strip()


def checked(form: Form, name: str) -> bool:
    """Whether the checkbox ``name`` was ticked."""
    return form.get(name) == "1"


def whole(form: Form, name: str, label: str, low: int, high: int) -> int | None:
    """Return the whole number typed in ``name`` (None: left blank); refuse one off range."""
    text = _field(form, name)
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS) or not (
        low <= int(text) <= high
    ):
        raise InvalidRequest(
            "web.settings_range", field=Text(label), min=Number(low), max=Number(high)
        )
    return int(text)


def dollars(form: Form, name: str, label: str, low: float, high: float) -> int | None:
    """Return the dollars typed in ``name`` as micro-dollars (None: blank); refuse off range."""
    text = _field(form, name).removeprefix("$").strip()
    if not text:
        return None
    try:
        value = Decimal(text) if len(text) <= MAX_DIGITS else None
    except InvalidOperation:
        value = None
    if (
        value is None
        or not value.is_finite()
        or not (Decimal(str(low)) <= value <= Decimal(str(high)))
    ):
        raise InvalidRequest(
            "web.settings_dollars",
            field=Text(label),
            min=Dollars(typed_micros(low), exact=True),
            max=Dollars(typed_micros(high), exact=True),
        )
    return typed_micros(value)


def choice(form: Form, name: str, label: str, choices: tuple[str, ...]) -> str:
    """Return the option chosen in ``name``; refuse one that was not offered."""
    text = _field(form, name)
    if text not in choices:
        raise InvalidRequest("web.settings_choice", field=Text(label))
    return text


def snowflake(form: Form, name: str, label: str, known: list[Named] | None) -> int | None:
    """Return the role or channel id of ``name`` (None: blank); refuse one the server lacks."""
    text = _field(form, name)
    if not text:
        return None
    if (
        not (text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS)
        or not 0 < int(text) <= MAX_ID
        or (known is not None and int(text) not in {n.id for n in known})
    ):
        raise InvalidRequest("web.settings_unknown", field=Text(label))
    return int(text)


def required(value: int | None, label: str) -> int:
    """Return ``value``; refuse a field left blank that must be filled."""
    if value is None:
        raise InvalidRequest("web.settings_required", field=Text(label))
    return value


def dollar_text(micros: int) -> str:
    """Return micro-dollars as the plain number a form shows (``12.5``)."""
    return f"{Decimal(micros) / MICROS:f}"


class SettingsPage:
    """The Settings page and its forms, over the moderation and billing services."""

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard
        self.bot = dashboard.bot
        self.parts: dict[str, Part] = {
            "default-quota": self.default_quota,
            "quota-role": self.quota_role,
            "quota-member": self.quota_member,
            "quota-clear": self.quota_clear,
            "budget": self.budget,
            "budget-clear": self.budget_clear,
            "role-cap": self.role_cap,
            "role-cap-clear": self.role_cap_clear,
            "block": self.block,
            "unblock": self.unblock,
            "blocklist-add": self.blocklist_add,
            "blocklist-remove": self.blocklist_remove,
            "moderator-role": self.moderator_role,
            "audit-channel": self.audit_channel,
            "running": self.running,
            "policy": self.policy,
        }

    # ------------------------------------------------------------------ reading

    def guild_id(self, request: web.Request) -> int:
        """Return the server of the URL if the viewer moderates it; else 404."""
        return moderated_guild(request)

    def roles(self, guild_id: int) -> list[Named] | None:
        """Return the server's roles, highest first, if the gateway cache has the server."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return None
        return [Named(r.id, r.name) for r in sorted(guild.roles, reverse=True)]

    def channels(self, guild_id: int) -> list[Named] | None:
        """Return the server's text channels, if the gateway cache has the server."""
        guild = self.bot.get_guild(guild_id)
        if guild is None:
            return None
        return [Named(c.id, c.name) for c in guild.text_channels]

    async def show(self, request: web.Request) -> web.StreamResponse:
        """Show the server's settings, each with its form."""
        guild_id = self.guild_id(request)
        done = DONE.get(request.query.get("done", ""))
        return await self.page(request, guild_id, done=done)

    async def page(
        self,
        request: web.Request,
        guild_id: int,
        *,
        status: int = 200,
        done: str | None = None,
        refusal: str | None = None,
        typed: Form | None = None,
    ) -> web.Response:
        """Render the page from the settings as stored now."""
        settings, _, blocked, quota_rules = await self.bot.moderation.overview(guild_id)
        rules, applied = await self.bot.moderation.blocklist(guild_id)
        standing = await self.bot.billing.standing(guild_id)
        bot_settings = self.bot.settings
        roles, channels = self.roles(guild_id), self.channels(guild_id)
        limit = (
            bot_settings.daily_image_quota
            if settings.period_limit is None
            else settings.period_limit
        )
        return self.dashboard.render(
            request,
            "settings.html",
            status=status,
            guild_id=guild_id,
            name=await self.dashboard.server_name(guild_id),
            done=done,
            refusal=refusal,
            typed=typed or {},
            settings=settings,
            default_quota=per_period(limit_text(limit), settings.quota_period),
            bot_quota=per_period(limit_text(bot_settings.daily_image_quota), "day"),
            bot_user_cap=bot_settings.max_running_jobs_per_user,
            bot_guild_cap=bot_settings.max_running_jobs_per_guild,
            quota_rules=[(r, limit_text(r.limit_units)) for r in quota_rules],
            rules=rules,
            skipped=applied.skipped,
            blocked=blocked,
            names=await self.dashboard.member_names(
                guild_id,
                [u for b in blocked for u in (b.user_id, b.blocked_by)]
                + [r.target_id for r in quota_rules if r.kind == "user"],
            ),
            max_reason=MAX_REASON_LENGTH,
            budget=standing.budget if standing else None,
            budget_text=dollar_text,
            dollars=lambda micros: Dollars(micros, exact=True),
            role_caps=sorted((await self.bot.billing.role_caps(guild_id)).items()),
            roles=roles,
            channels=channels,
            role_names={r.id: r.name for r in roles or ()},
            channel_names={c.id: c.name for c in channels or ()},
            periods=[(p, Text(f"choice.per_{p}")) for p in PERIODS],
            formats=[(f, Text(f"choice.default_format_{f}")) for f in FORMATS],
            strictness=[(v, Text(f"choice.strictness_{v}")) for v in STRICTNESS],
            max_units=MAX_LIMIT_UNITS,
            max_running=MAX_RUNNING,
            max_pattern=MAX_PATTERN_LENGTH,
            min_dollars=MIN_DOLLARS,
            max_dollars=MAX_DOLLARS,
        )

    # ------------------------------------------------------------------ changing

    async def change(self, request: web.Request) -> web.StreamResponse:
        """Make the change of one form, as its /imagemod command does; back to the page."""
        guild_id = self.guild_id(request)
        part = self.parts.get(request.match_info["part"])
        if part is None:
            raise web.HTTPNotFound()
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        try:
            done = await part(guild_id, form, request[VIEWER].user_id)
        except Refusal as refusal:
            log.info(
                "guild %s: web settings %s refused: %s",
                guild_id,
                request.match_info["part"],
                refusal.text.key,
            )
            return await self.page(
                request,
                guild_id,
                status=400 if isinstance(refusal, InvalidRequest) else 409,
                refusal=refusal.render(self.dashboard.lang(request)),
                typed=form,
            )
        raise web.HTTPSeeOther(f"/servers/{guild_id}/settings?done={done}")

    async def default_quota(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod quota default``."""
        limit = whole(form, "limit", "web.settings_limit", 0, MAX_LIMIT_UNITS)
        period = choice(form, "period", "web.settings_period", PERIODS)
        changes = default_quota_changes(limit, period, checked(form, "reset"))
        await self.bot.moderation.set_default_quota(
            guild_id, user_id, changes, self.bot.settings.daily_image_quota, via=WEB
        )
        return "saved"

    async def quota_role(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod quota role``."""
        label = "web.settings_role"
        role = required(snowflake(form, "role", label, self.roles(guild_id)), label)
        limit = whole(form, "limit", "web.settings_limit", 0, MAX_LIMIT_UNITS)
        units = rule_units(limit, checked(form, "unlimited"))
        await self.bot.moderation.set_quota_rule(guild_id, "role", role, units, user_id, via=WEB)
        return "saved"

    async def quota_member(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod quota user``."""
        label = "web.settings_member"
        member = required(snowflake(form, "user", label, None), label)
        limit = whole(form, "limit", "web.settings_limit", 0, MAX_LIMIT_UNITS)
        units = rule_units(limit, checked(form, "unlimited"))
        await self.bot.moderation.set_quota_rule(guild_id, "user", member, units, user_id, via=WEB)
        return "saved"

    async def quota_clear(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod quota clear-role`` and ``clear-user``."""
        kind = choice(form, "kind", "web.settings_rule", ("role", "user"))
        label = "web.settings_rule"
        target = required(snowflake(form, "target", label, None), label)
        await self.bot.moderation.clear_quota_rule(guild_id, kind, target, user_id, via=WEB)
        return "saved"

    async def budget(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod budget set``."""
        label = "web.settings_amount"
        amount = required(dollars(form, "amount", label, MIN_DOLLARS, MAX_DOLLARS), label)
        period = choice(form, "period", "web.settings_period", PERIODS)
        cap = dollars(form, "member_cap", "web.settings_member_cap", MIN_DOLLARS, MAX_DOLLARS)
        await self.bot.billing.set_budget(
            guild_id,
            user_id,
            amount=amount,
            period=period,
            member_cap=cap,
            allow_unpriced=checked(form, "allow_unpriced"),
            via=WEB,
        )
        return "budget"

    async def budget_clear(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod budget clear``."""
        cleared = await self.bot.billing.clear_budget(guild_id, user_id, via=WEB)
        return "budget_cleared" if cleared else "no_budget"

    async def role_cap(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod budget role``."""
        label = "web.settings_role"
        role = required(snowflake(form, "role", label, self.roles(guild_id)), label)
        cap_label = "web.settings_cap"
        cap = required(dollars(form, "cap", cap_label, 0.0, MAX_DOLLARS), cap_label)
        await self.bot.billing.set_role_cap(guild_id, user_id, role, cap, via=WEB)
        return "role_cap"

    async def role_cap_clear(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod budget clear-role``."""
        label = "web.settings_role"
        role = required(snowflake(form, "role", label, None), label)
        cleared = await self.bot.billing.clear_role_cap(guild_id, user_id, role, via=WEB)
        return "role_cap_cleared" if cleared else "no_role_cap"

    async def block(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod block`` (a member's id, an optional reason)."""
        label = "web.settings_member"
        member = required(snowflake(form, "user", label, None), label)
        reason = form.get("reason", "").strip()
        if len(reason) > MAX_REASON_LENGTH:
            raise InvalidRequest("web.settings_too_long", field=Text("web.settings_reason"))
        known = self.bot.get_user(member)
        if known is not None and known.bot:
            raise InvalidRequest("refusal.block_bot")
        await self.bot.moderation.block(guild_id, member, reason or None, user_id, via=WEB)
        return "blocked"

    async def unblock(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod unblock``."""
        label = "web.settings_member"
        member = required(snowflake(form, "user", label, None), label)
        await self.bot.moderation.unblock(guild_id, member, user_id, via=WEB)
        return "unblocked"

    async def blocklist_add(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod blocklist add`` (the service checks the entry: RE2, length, cost)."""
        pattern = form.get("pattern", "")
        if len(pattern) > MAX_FIELD:
            raise InvalidRequest("refusal.pattern_too_long", max=MAX_PATTERN_LENGTH)
        regex = checked(form, "regex")
        await self.bot.moderation.add_rule(guild_id, pattern, regex, user_id, via=WEB)
        return "saved"

    async def blocklist_remove(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod blocklist remove``."""
        label = "web.settings_entry"
        rule = required(whole(form, "rule", label, 1, MAX_ID), label)
        await self.bot.moderation.remove_rule(guild_id, rule, user_id, via=WEB)
        return "saved"

    async def moderator_role(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod config moderator_role`` (blank: ``reset moderator_role``)."""
        role = snowflake(form, "role", "mod.moderator_role", self.roles(guild_id))
        if role is None:
            return await self._configure(guild_id, user_id, reset="moderator_role")
        return await self._configure(guild_id, user_id, moderator_role_id=role)

    async def audit_channel(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod config log_channel`` (blank: ``reset log_channel``)."""
        channel = snowflake(form, "channel", "mod.audit_channel", self.channels(guild_id))
        if channel is None:
            return await self._configure(guild_id, user_id, reset="log_channel")
        return await self._configure(guild_id, user_id, log_channel_id=channel)

    async def running(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod config max_running_per_user / _per_server`` or ``reset running``."""
        if checked(form, "reset"):
            return await self._configure(guild_id, user_id, reset="running")
        now = await self.bot.moderation.settings(guild_id)
        user = whole(form, "user", "web.settings_running_user", 1, MAX_RUNNING)
        server = whole(form, "server", "web.settings_running_server", 1, MAX_RUNNING)
        return await self._configure(  # only what differs: the log says what changed
            guild_id,
            user_id,
            max_running_per_user=None if user == now.max_running_per_user else user,
            max_running_per_server=None if server == now.max_running_per_guild else server,
        )

    async def policy(self, guild_id: int, form: Form, user_id: int) -> str:
        """``/imagemod config show_cost / fold_accents / strictness / output_format``."""
        now = await self.bot.moderation.settings(guild_id)
        show_cost, fold = checked(form, "show_cost"), checked(form, "fold_accents")
        strictness = choice(form, "strictness", "mod.strictness", STRICTNESS)
        output = choice(form, "output_format", "mod.output_format", FORMATS)
        options: dict[str, Any] = {}  # only what differs: the log says what changed
        if show_cost != now.cost_visible:
            options["show_cost"] = show_cost
        if fold != now.fold_accents:
            options["fold_accents"] = fold
        if strictness != now.strictness:
            options["strictness"] = strictness
        if output != (now.output_format or "bot"):
            options["output_format"] = output
        return await self._configure(guild_id, user_id, **options)

    async def _configure(self, guild_id: int, user_id: int, **options: Any) -> str:
        changes, text = config_changes(guild_id, **options)
        if text is None:
            return "unchanged"
        _, posted = await self.bot.moderation.configure(guild_id, user_id, changes, text, via=WEB)
        if options.get("log_channel_id") is not None and not posted:
            return "cannot_post"
        return "saved"


def add_settings_routes(app: web.Application, dashboard: Dashboard) -> None:
    """Add the Settings page and its forms to the dashboard's application."""
    page = SettingsPage(dashboard)
    app.router.add_get("/servers/{guild_id}/settings", page.show)
    app.router.add_post("/servers/{guild_id}/settings/{part}", page.change)
