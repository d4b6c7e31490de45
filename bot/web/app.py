"""The dashboard's aiohttp application: security headers, sessions, CSRF, the pages.

Every answer carries a strict Content-Security-Policy (nothing but this site's own
stylesheet and images; no script; ``frame-ancestors 'none'``) and a Referrer-Policy.
A page without a live session redirects to the sign-in; a cookie that names no live
session (tampered, expired, revoked) is cleared. Every POST carries a CSRF token (an
HMAC of the session with ``WEB_SECRET``): 403 without it. Anything of a server the
viewer may not see answers 404, whatever its id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dt_time
from urllib.parse import urlencode

from aiohttp import web

from bot.client import LemonBot
from bot.i18n import CHINESE, ENGLISH, LANGUAGES, Dollars, Lang, Text, locale_of
from bot.store.rows import JOB_STATES, BudgetStanding, GalleryFilter, Job, WebSession
from bot.ui.details import cost_text
from bot.web.access import (
    RECHECK_SECONDS,
    VIEWER,
    moderated_guild,
    moderated_servers,
    parse_id,
)
from bot.web.auth import CALLBACK_PATH, DiscordSignIn, Signer, SignInFailed, safe_next
from bot.web.jobs import add_job_routes
from bot.web.names import Names
from bot.web.render import STATIC, Pages
from bot.web.settings import add_settings_routes
from bot.web.usage import add_usage_routes

log = logging.getLogger(__name__)

SESSION_COOKIE = "lemonbot_session"
LOGIN_COOKIE = "lemonbot_login"
LANG_COOKIE = "lemonbot_lang"  # the language the viewer chose (else their Discord locale's)
LANG_COOKIE_AGE = 365 * 86400
PUBLIC_PATHS = frozenset({"/login", CALLBACK_PATH, "/signed-out"})
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)

MAX_QUERY = 100  # characters of a gallery filter looked at (a member id, a model name)
MAX_TEXT_QUERY = 200  # characters of the prompt text searched for

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class ServerRow:
    """A server on the Servers page: its images today and this period's spend."""

    id: int
    name: str
    today: int
    period: str
    spent: int
    standing: BudgetStanding | None

    @property
    def spent_text(self) -> Text:
        """What was spent this period, of the budget if one is set."""
        period = Text(f"budget_period.{self.period}")
        if self.standing is None:
            return Text.of("web.spent", spent=Dollars(self.spent, up=True), period=period)
        return Text.of(
            "web.spent_of_budget",
            spent=Dollars(self.spent, up=True),
            amount=Dollars(self.standing.budget.amount, exact=True),
            left=Dollars(self.standing.left),
            period=period,
        )


@dataclass(frozen=True)
class Tile:
    """One job of a gallery: the job, its thumbnail's address (if any), its cost text."""

    job: Job
    thumbnail: str | None
    cost: Text | None
    download: str | None


def _date(value: str | None) -> str:
    """Return ``value`` if it is a date (YYYY-MM-DD), else ""."""
    try:
        return date.fromisoformat(value or "").isoformat() if value and len(value) == 10 else ""
    except ValueError:
        return ""


def _day(value: str) -> float | None:
    """Return 00:00 UTC of a date (YYYY-MM-DD), or None for ""."""
    if not value:
        return None
    return datetime.combine(date.fromisoformat(value), dt_time(), UTC).timestamp()


class Dashboard:
    """The pages and their guards, over the bot's services."""

    def __init__(self, bot: LemonBot) -> None:
        settings = bot.settings
        assert settings.web_base_url and settings.web_secret and settings.discord_client_secret
        self.bot = bot
        self.settings = settings
        self.base_url = settings.web_base_url
        self.secure = self.base_url.startswith("https://")
        self.signer = Signer(settings.web_secret)
        self.pages = Pages()
        self.names = Names(bot)
        self._rechecks: dict[str, asyncio.Future[WebSession]] = {}

    # ------------------------------------------------------------------ plumbing

    def sign_in(self) -> DiscordSignIn:
        """Return the OAuth2 client, for the bot's application (known once logged in)."""
        assert self.bot.application_id is not None
        secret = self.settings.discord_client_secret
        assert secret is not None
        return DiscordSignIn(
            client_id=self.bot.application_id, client_secret=secret, base_url=self.base_url
        )

    def csrf(self, session: WebSession) -> str:
        """Return the CSRF token of a session's forms."""
        return self.signer.mac("csrf", session.id_hash)

    def lang(self, request: web.Request) -> Lang:
        """Return the viewer's language: the one they chose, else their Discord locale's.

        Before sign-in, the browser's first Accept-Language (Chinese for ``zh``, ``zh-CN``
        and ``zh-Hans``; English otherwise).
        """
        chosen = request.cookies.get(LANG_COOKIE)
        for lang in LANGUAGES:
            if chosen == lang:
                return lang
        viewer = request.get(VIEWER)
        if viewer is not None:
            return locale_of(viewer.locale)
        first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0]
        tag = first.strip().lower()
        return CHINESE if tag in ("zh", "zh-cn", "zh-hans", "zh-hans-cn") else ENGLISH

    def render(
        self, request: web.Request, template: str, /, *, status: int = 200, **context: object
    ) -> web.Response:
        """Render a page for the viewer."""
        viewer = request.get(VIEWER)
        context.update(
            viewer=viewer,
            csrf=self.csrf(viewer) if viewer is not None else "",
            path=request.path,
            here=request.path_qs,
            languages=LANGUAGES,
        )
        return self.pages.render(template, self.lang(request), status=status, context=context)

    def _set_cookie(self, response: web.StreamResponse, name: str, value: str, age: int) -> None:
        response.set_cookie(
            name, value, max_age=age, path="/", httponly=True, samesite="Lax", secure=self.secure
        )

    def _clear_cookie(self, response: web.StreamResponse, name: str) -> None:
        response.del_cookie(name, path="/", secure=self.secure, httponly=True, samesite="Lax")

    async def server_name(self, guild_id: int) -> str:
        """Return the server's name (see :class:`~bot.web.names.Names`)."""
        return await self.names.server(guild_id)

    async def member_names(self, guild_id: int | None, user_ids: Iterable[int]) -> dict[int, str]:
        """Return the names a page shows for ``user_ids`` (the rest show their id)."""
        return await self.names.members(guild_id, user_ids)

    async def _recheck(self, session: WebSession) -> WebSession:
        """Ask Discord again which servers the viewer moderates: once per session at a time.

        A page's images arrive together; they share the one check in flight (shielded: a
        request that goes away does not cancel it for the others).
        """
        task = self._rechecks.get(session.id_hash)
        if task is None:

            async def check() -> WebSession:
                moderated = await moderated_servers(self.bot, session.user_id, session.guild_ids)
                return await self.bot.sessions.rechecked(session, moderated)

            task = asyncio.ensure_future(check())
            self._rechecks[session.id_hash] = task
            task.add_done_callback(lambda _: self._rechecks.pop(session.id_hash, None))
        return await asyncio.shield(task)

    # ------------------------------------------------------------------ middleware

    @web.middleware
    async def guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Sessions, the re-check of rights, CSRF, and the 404 page."""
        if request.path.startswith("/static/"):
            return await handler(request)  # the stylesheet: nobody's, no session read
        public = request.path in PUBLIC_PATHS
        raw = request.cookies.get(SESSION_COOKIE, "")
        session = await self.bot.sessions.find(raw) if raw else None
        if session is not None and time.time() - session.checked_at >= RECHECK_SECONDS:
            session = await self._recheck(session)
        if session is not None:
            request[VIEWER] = session
        if session is None and not public:
            if request.method != "GET":
                return self.render(request, "error.html", status=403, message="web.signin_first")
            target = request.path_qs
            response = web.HTTPFound("/login?" + urlencode({"next": target}))
            if raw:
                self._clear_cookie(response, SESSION_COOKIE)  # tampered, expired or revoked
            raise response
        if request.method == "POST" and not public:
            assert session is not None
            form = await request.post()
            token = str(form.get("csrf", ""))
            if not token or not self.signer.check("csrf", session.id_hash, token):
                return self.render(request, "error.html", status=403, message="web.csrf")
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return self.render(request, "error.html", status=404, message="web.not_found")

    async def headers(self, request: web.Request, response: web.StreamResponse) -> None:
        """Give every answer the CSP, no framing, no referrer elsewhere, no sniffing."""
        response.headers["Content-Security-Policy"] = CSP
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        if "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"

    # ------------------------------------------------------------------ signing in

    async def login(self, request: web.Request) -> web.StreamResponse:
        """Leave for Discord's authorize page, remembering state, verifier and next."""
        url, pending = await self.sign_in().start()
        pending["next"] = safe_next(request.query.get("next"))
        response = web.HTTPFound(url)
        self._set_cookie(response, LOGIN_COOKIE, self.signer.seal("login", pending), 600)
        raise response

    async def callback(self, request: web.Request) -> web.StreamResponse:
        """Back from Discord: check, exchange, open the session, go where asked (here)."""
        pending = self.signer.open("login", request.cookies.get(LOGIN_COOKIE, ""))
        try:
            if pending is None:
                raise SignInFailed("no sign-in was started here")
            user = await self.sign_in().finish(pending, dict(request.query))
        except SignInFailed as exc:
            log.info("web: sign-in refused: %s", exc.reason)
            response = self.render(request, "signin_failed.html", status=400)
            self._clear_cookie(response, LOGIN_COOKIE)
            return response
        moderated = await moderated_servers(self.bot, user.id, user.guild_ids)
        raw, _ = await self.bot.sessions.open(
            user_id=user.id,
            username=user.username,
            locale=user.locale,
            guild_ids=user.guild_ids,
            moderated_ids=moderated,
        )
        log.info("web: user %s signed in (moderates %d servers)", user.id, len(moderated))
        response = web.HTTPFound(safe_next(str(pending.get("next", "/"))))
        self._clear_cookie(response, LOGIN_COOKIE)
        self._set_cookie(response, SESSION_COOKIE, raw, int(self.bot.sessions.lifetime))
        raise response

    async def logout(self, request: web.Request) -> web.StreamResponse:
        """Revoke the session (POST, with its CSRF token)."""
        await self.bot.sessions.revoke(request[VIEWER])
        response = web.HTTPFound("/signed-out")
        self._clear_cookie(response, SESSION_COOKIE)
        raise response

    async def language(self, request: web.Request) -> web.StreamResponse:
        """Switch the dashboard's language (POST, with its CSRF token); back where it was."""
        form = await request.post()
        chosen = str(form.get("lang", ""))
        if chosen not in LANGUAGES:
            return self.render(request, "error.html", status=400, message="web.bad_language")
        response = web.HTTPSeeOther(safe_next(str(form.get("next", "/"))))
        self._set_cookie(response, LANG_COOKIE, chosen, LANG_COOKIE_AGE)
        raise response

    async def signed_out(self, request: web.Request) -> web.StreamResponse:
        """Say the viewer is signed out."""
        return self.render(request, "signed_out.html")

    # ------------------------------------------------------------------ pages

    def moderates(self, request: web.Request, guild_id: int) -> bool:
        """Whether the viewer moderates ``guild_id`` (as of the last check)."""
        return guild_id in request[VIEWER].moderated_ids

    async def visible_job(self, request: web.Request) -> Job:
        """Return the job of the URL if the viewer moderates its server or asked for it; or 404."""
        job_id = parse_id(request.match_info.get("job_id"))
        job = await self.bot.gallery.job(job_id) if job_id is not None else None
        viewer = request[VIEWER]
        if job is None or not (
            job.user_id == viewer.user_id or self.moderates(request, job.guild_id)
        ):
            raise web.HTTPNotFound()
        return job

    async def tiles(self, jobs: list[Job]) -> list[Tile]:
        """Gallery tiles: each job with its first image's thumbnail address and its cost."""
        first = await self.bot.gallery.first_images(jobs)
        return [
            Tile(
                job,
                f"/jobs/{job.id}/thumbs/{first[job.id]}.webp" if job.id in first else None,
                cost_text(job),
                f"/jobs/{job.id}/images/{first[job.id]}?download=1" if job.id in first else None,
            )
            for job in jobs
        ]

    async def servers(self, request: web.Request) -> web.StreamResponse:
        """Show the servers the viewer moderates, with today's images."""
        ids = list(request[VIEWER].moderated_ids)
        today = await self.bot.gallery.images_today(ids)
        servers = [
            ServerRow(
                gid,
                await self.server_name(gid),
                today.get(gid, 0),
                *await self.bot.billing.period_spend(gid),
            )
            for gid in ids
        ]
        return self.render(request, "servers.html", servers=servers)

    def _filters(self, request: web.Request, guild_id: int) -> tuple[GalleryFilter, dict[str, str]]:
        query = request.query
        state = query.get("state") or None
        shown = {
            "member": query.get("member", "").strip()[:MAX_QUERY],
            "model": query.get("model", "").strip()[:MAX_QUERY],
            "state": state if state in JOB_STATES else "",
            "q": query.get("q", "").strip()[:MAX_TEXT_QUERY],
            "since": _date(query.get("since")),
            "until": _date(query.get("until")),
            "refs": "1" if query.get("refs") == "1" else "",
        }
        since, until = _day(shown["since"]), _day(shown["until"])
        filters = GalleryFilter(
            user_id=parse_id(shown["member"]),
            model=shown["model"] or None,
            state=shown["state"] or None,
            text=shown["q"] or None,
            since=since,
            until=None if until is None else until + 86400,  # the whole last day
            with_inputs=bool(shown["refs"]),
            before_id=parse_id(query.get("before")),
            guild_ids=(guild_id,),
        )
        return filters, shown

    async def gallery(self, request: web.Request) -> web.StreamResponse:
        """Show a server's generations, newest first, filtered and paged."""
        guild_id = moderated_guild(request)
        filters, shown = self._filters(request, guild_id)
        jobs = await self.bot.gallery.page(filters)
        older = None
        if len(jobs) == self.bot.gallery.page_size:
            older = "?" + urlencode(
                {**{k: v for k, v in shown.items() if v}, "before": jobs[-1].id}
            )
        return self.render(
            request,
            "gallery.html",
            guild_id=guild_id,
            name=await self.server_name(guild_id),
            tiles=await self.tiles(jobs),
            names=await self.member_names(guild_id, [j.user_id for j in jobs]),
            shown=shown,
            models=await self.bot.gallery.models([guild_id]),
            states=JOB_STATES,
            older=older,
            paged=filters.before_id is not None,
        )

    async def mine(self, request: web.Request) -> web.StreamResponse:
        """Show the viewer's own generations across servers."""
        viewer = request[VIEWER]
        before = parse_id(request.query.get("before"))
        filters = GalleryFilter(user_id=viewer.user_id, before_id=before)
        jobs = await self.bot.gallery.page(filters)
        older = None
        if len(jobs) == self.bot.gallery.page_size:
            older = "?" + urlencode({"before": jobs[-1].id})
        return self.render(
            request,
            "mine.html",
            tiles=await self.tiles(jobs),
            names={viewer.user_id: viewer.username},
            older=older,
            paged=filters.before_id is not None,
        )


def build_app(bot: LemonBot) -> web.Application:
    """Return the dashboard's application over ``bot``'s services and settings."""
    dashboard = Dashboard(bot)
    app = web.Application(middlewares=[dashboard.guard], client_max_size=64 * 1024)
    app.on_response_prepare.append(dashboard.headers)
    app.router.add_get("/", dashboard.servers)
    app.router.add_get("/login", dashboard.login)
    app.router.add_get(CALLBACK_PATH, dashboard.callback)
    app.router.add_post("/logout", dashboard.logout)
    app.router.add_get("/signed-out", dashboard.signed_out)
    app.router.add_post("/language", dashboard.language)
    app.router.add_get("/mine", dashboard.mine)
    app.router.add_get("/servers/{guild_id}", dashboard.gallery)
    add_job_routes(app, dashboard)
    add_settings_routes(app, dashboard)
    add_usage_routes(app, dashboard)
    app.router.add_static("/static/", STATIC, append_version=False)
    return app
