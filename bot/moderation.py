"""Moderation: server rules, moderator actions, the job log views and the audit channel.

:meth:`Moderation.check_request` runs in ``JobService.accept`` before any quota is
reserved or any request is sent. A blocked prompt is refused saying that a server
rule blocked it, without revealing the rule; the server's audit channel gets the
details.

Blocklist entries are words (matched case-insensitively as whole words) or regular
expressions (``re.search``, case-insensitive). Regular expressions are compiled when
added, so a broken one is refused then; they are limited in length, and patterns with
nested quantifiers (the classic catastrophic-backtracking shape) are refused because
every prompt of the server is matched against them on the event loop; a new regex is
also tried on adversarial inputs and refused if it is slow, and every match runs with a
timeout (a timed-out match counts as a match, so a slow rule cannot be used to slip a
prompt past it).

Every moderator action is appended to ``mod_actions`` and posted to the server's
audit channel (``/imagemod config log_channel``) by :class:`AuditLog`, which never
lets a Discord failure break the command that caused the post.

The formatting helpers here (embeds, CSV, jump links, ``since`` parsing, the
moderator predicate) are pure functions, so the cog stays a thin adapter.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import logging
import re
import time
from collections.abc import Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any

import discord
import regex

from bot.db import TERMINAL_STATES, BlockedUser, Database, GuildSettings, Job, PromptRule, QuotaRule
from bot.errors import InvalidRequest, NotAllowed
from bot.messages import STATE_LABELS, shorten
from bot.quota import PERIOD_NOUNS, QuotaStatus

log = logging.getLogger(__name__)

MAX_PATTERN_LENGTH = 200
REGEX_TIMEOUT_SECONDS = 0.05  # per regex rule
REGEX_TOTAL_BUDGET_SECONDS = 0.5  # per prompt, over all the rules of a server
# Inputs that make badly written patterns backtrack; a new regex must pass them quickly.
SLOW_PROBES = tuple(
    body * 2000 + tail
    for body in ("a", "ab", " ", "aa ", "1", "a1 ", "\u00e9")
    for tail in ("", "!", "\n")
)
MAX_RULES_PER_GUILD = 200
BLOCKED_PROMPT_TEXT = "Your prompt was blocked by a rule of this server."
BLOCKED_USER_TEXT = "You're blocked from generating images on this server."
JOB_STATES = ("queued", "submitted", "running", *TERMINAL_STATES)
SINCE_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
SINCE_PATTERN = re.compile(r"^\s*(\d{1,6})\s*([mhdw])\s*$", re.IGNORECASE)
SINCE_HELP = "`since` takes an age such as 30m, 24h, 7d or 2w, or a date such as 2026-01-31."
BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")
CSV_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_COLUMNS = (
    "id",
    "created_at",
    "user_id",
    "channel_id",
    "model",
    "state",
    "prompt",
    "revised_prompt",
    "options",
    "error_code",
    "quota_units",
    "quota_state",
    "delivered_via",
    "jump_link",
    "result_urls",
    "finished_at",
    "deleted_by",
)
FIELD_LIMIT = 1024
SUMMARY_PROMPT = 200
DETAIL_PROMPT = 2800
AUDIT_PROMPT = 300
STATE_COLOURS = {
    "succeeded": discord.Colour.green(),
    "failed": discord.Colour.red(),
    "timed_out": discord.Colour.red(),
    "cancelled": discord.Colour.light_grey(),
}
COLOUR_ACTIVE = discord.Colour.gold()
COLOUR_AUDIT = discord.Colour.blurple()
COLOUR_BLOCKED = discord.Colour.dark_red()


class PromptBlocked(NotAllowed):
    """The prompt matched the server's blocklist; the message does not reveal the rule."""

    def __init__(self, rule: PromptRule) -> None:
        super().__init__(BLOCKED_PROMPT_TEXT)
        self.rule = rule


# ---------------------------------------------------------------------- rules


def compile_rule(pattern: str, is_regex: bool) -> re.Pattern[str] | regex.Pattern[str]:
    """Compile a blocklist entry; raise InvalidRequest when it is not usable.

    Words compile with ``re`` (escaped, so matching is linear); regular expressions
    with the ``regex`` package, whose matching takes a timeout (see :func:`rule_matches`).
    """
    pattern = pattern.strip()
    if not pattern:
        raise InvalidRequest("The pattern is empty.")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidRequest(f"Patterns are limited to {MAX_PATTERN_LENGTH} characters.")
    if not is_regex:
        return re.compile(rf"(?<!\w){re.escape(pattern)}(?!\w)", re.IGNORECASE)
    try:
        return regex.compile(pattern, regex.IGNORECASE | regex.VERSION0)
    except regex.error as exc:
        raise InvalidRequest(f"That regular expression does not compile: {exc}.") from None


def rule_matches(rule: PromptRule, prompt: str, timeout: float = REGEX_TIMEOUT_SECONDS) -> bool:
    """Whether ``rule`` matches ``prompt``; a match that takes too long counts as one.

    Failing closed keeps a slow rule from freezing the bot (matching runs on the event
    loop) without letting a crafted prompt slip past it.
    """
    compiled = compile_rule(rule.pattern, rule.is_regex)
    if isinstance(compiled, re.Pattern):
        return compiled.search(prompt) is not None
    try:
        return compiled.search(prompt, timeout=timeout) is not None
    except TimeoutError:
        log.warning("blocklist rule %s timed out on a prompt; treated as a match", rule.id)
        return True


def check_new_rule(pattern: str, is_regex: bool) -> str:
    """Validate a blocklist entry before it is stored; return it stripped."""
    compiled = compile_rule(pattern, is_regex)
    pattern = pattern.strip()
    slow = is_regex and (nested_quantifier(pattern) or BACKREFERENCE.search(pattern) is not None)
    if is_regex and not slow and isinstance(compiled, regex.Pattern):
        try:
            for probe in SLOW_PROBES:
                compiled.search(probe, timeout=REGEX_TIMEOUT_SECONDS)
        except TimeoutError:
            slow = True
    if slow:
        raise InvalidRequest(
            "That regular expression could be very slow to match (nested or adjacent "
            "repetition, or a back-reference). Please write it more simply."
        )
    return pattern


def nested_quantifier(pattern: str) -> bool:
    """Whether a repeated group contains a repetition, e.g. ``(a+)+`` or ``(.*x){2,}``."""
    stack: list[bool] = []  # per open group: does it contain a quantifier?
    in_class = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            stack.append(False)
        elif char in "+*{" and stack:
            stack[-1] = True
        elif char == ")" and stack:
            inner = stack.pop()
            repeated = i + 1 < len(pattern) and pattern[i + 1] in "+*{"
            if inner and repeated:
                return True
            if inner and stack:
                stack[-1] = True
        i += 1
    return False


def first_match(rules: Sequence[PromptRule], prompt: str) -> PromptRule | None:
    """Return the first rule that matches ``prompt``, or None.

    The whole check shares one time budget (it runs on the event loop, on the way to
    Discord's 3-second deadline): a regex rule reached with the budget spent gets a
    token timeout, and so counts as a match, like any rule that times out.
    """
    deadline = time.monotonic() + REGEX_TOTAL_BUDGET_SECONDS
    for rule in rules:
        left = max(0.0001, min(REGEX_TIMEOUT_SECONDS, deadline - time.monotonic()))
        if rule_matches(rule, prompt, left):
            return rule
    return None


def is_moderator(
    permissions: discord.Permissions, role_ids: Collection[int], moderator_role_id: int | None
) -> bool:
    """Whether a member may moderate: Manage Messages, or the server's moderator role."""
    if permissions.manage_messages or permissions.administrator:
        return True
    return moderator_role_id is not None and moderator_role_id in role_ids


# ---------------------------------------------------------------------- filters


def parse_since(text: str, now: float) -> float:
    """Turn ``24h``, ``7d``, ``2w``, ``30m`` or an ISO date/time (UTC) into a unix time."""
    match = SINCE_PATTERN.match(text)
    if match:
        return now - int(match.group(1)) * SINCE_UNITS[match.group(2).lower()]
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest(SINCE_HELP) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    since = moment.timestamp()
    if since > now:
        raise InvalidRequest("`since` is in the future.")
    return since


@dataclass(frozen=True)
class JobFilter:
    """The filters of ``/imagemod logs`` and ``/imagemod export`` (None = any)."""

    guild_id: int
    user_id: int | None = None
    model: str | None = None
    state: str | None = None
    since: float | None = None

    def describe(self) -> str:
        """Return the filters as a short line, e.g. ``user <@1> · state failed``."""
        parts = []
        if self.user_id is not None:
            parts.append(f"user <@{self.user_id}>")
        if self.model is not None:
            parts.append(f"model `{self.model}`")
        if self.state is not None:
            parts.append(f"state {self.state}")
        if self.since is not None:
            parts.append(f"since <t:{int(self.since)}:f>")
        return " · ".join(parts) if parts else "all jobs"


# ---------------------------------------------------------------------- formatting


def jump_link(job: Job) -> str | None:
    """Return a link to the job's delivered message (or its progress message), or None."""
    if job.delivered_message_id is not None and job.delivered_channel_id is not None:
        where = "@me" if job.delivered_via == "dm" else str(job.guild_id)
        return (
            f"https://discord.com/channels/{where}/{job.delivered_channel_id}/"
            f"{job.delivered_message_id}"
        )
    if job.message_id is not None:
        return f"https://discord.com/channels/{job.guild_id}/{job.channel_id}/{job.message_id}"
    return None


def thumbnail_url(job: Job) -> str | None:
    """Return the first http(s) image URL of a job, or None."""
    return next((u for u in job.result_urls if u.startswith(("http://", "https://"))), None)


def _colour(job: Job) -> discord.Colour:
    return STATE_COLOURS.get(job.state, COLOUR_ACTIVE)


def _when(moment: float | None, style: str = "f") -> str:
    return f"<t:{int(moment)}:{style}>" if moment else "–"


def _options_without_prompt(job: Job) -> dict[str, Any]:
    return {k: v for k, v in job.options.items() if k != "prompt" and v is not None}


def _prompt_text(job: Job, limit: int) -> str:
    return shorten(job.prompt, limit) if job.prompt else "*(removed by log retention)*"


def job_summary_embed(job: Job) -> discord.Embed:
    """Return one job's entry of the ``/imagemod logs`` list."""
    embed = discord.Embed(
        title=f"Job {job.id} · {STATE_LABELS.get(job.state, job.state)}",
        description=_prompt_text(job, SUMMARY_PROMPT),
        colour=_colour(job),
        url=jump_link(job),
    )
    embed.add_field(name="User", value=f"<@{job.user_id}>")
    embed.add_field(name="Model", value=f"`{job.model}`")
    embed.add_field(name="When", value=_when(job.created_at, "R"))
    if job.error_code:
        embed.add_field(name="Error", value=f"`{job.error_code}`")
    if job.deleted_at:
        embed.add_field(name="Deleted", value=f"by <@{job.deleted_by}>")
    link = jump_link(job)
    if link:
        embed.add_field(name="Message", value=f"[Jump]({link})")
    thumb = thumbnail_url(job)
    if thumb:
        embed.set_thumbnail(url=thumb)
    return embed


def _job_embed(job: Job, prompt_limit: int) -> discord.Embed:
    """Return an embed headed with the job's number, state, prompt and jump link."""
    return discord.Embed(
        title=f"Job {job.id} · {STATE_LABELS.get(job.state, job.state)}",
        description=_prompt_text(job, prompt_limit),
        colour=_colour(job),
        url=jump_link(job),
    )


def job_detail_embed(job: Job) -> discord.Embed:
    """Return everything stored about one job, within Discord's embed limits."""
    embed = _job_embed(job, DETAIL_PROMPT)
    embed.add_field(name="Requester", value=f"<@{job.user_id}> (`{job.user_id}`)")
    embed.add_field(name="Channel", value=f"<#{job.channel_id}>")
    embed.add_field(name="Model", value=f"`{job.model}`")
    options = json.dumps(_options_without_prompt(job), ensure_ascii=False)
    embed.add_field(name="Options", value=f"```{shorten(options, 600)}```", inline=False)
    if job.revised_prompt:
        embed.add_field(name="Revised prompt", value=shorten(job.revised_prompt, 800), inline=False)
    embed.add_field(
        name="Quota", value=f"{job.quota_units} units, {job.quota_state} ({job.quota_window})"
    )
    if job.error_code:
        detail = f"`{job.error_code}`"
        if job.error_message:
            detail += " " + shorten(job.error_message, 300)
        embed.add_field(name="Error", value=detail, inline=False)
    timings = [f"Created {_when(job.created_at)}"]
    if job.submitted_at:
        timings.append(f"sent after {job.submitted_at - job.created_at:.0f} s")
    if job.finished_at:
        timings.append(f"finished after {job.finished_at - job.created_at:.0f} s")
    if job.delivered_at:
        timings.append(f"delivered {_when(job.delivered_at, 'R')}")
    embed.add_field(name="Timings", value=", ".join(timings), inline=False)
    link = jump_link(job)
    delivery = job.delivered_via or job.delivery_state
    embed.add_field(
        name="Delivery", value=f"{delivery}" + (f" · [jump to message]({link})" if link else "")
    )
    if job.deleted_at:
        embed.add_field(
            name="Deleted", value=f"by <@{job.deleted_by}> {_when(job.deleted_at, 'R')}"
        )
    if job.task_id:
        embed.add_field(name="Task", value=f"`{shorten(job.task_id, 100)}`")
    if job.result_urls:
        lines, used = [], 0
        for url in job.result_urls:
            line = f"<{url}>"
            if used + len(line) + 1 > 800:
                lines.append("…")
                break
            lines.append(line)
            used += len(line) + 1
        embed.add_field(name="Image URLs", value="\n".join(lines), inline=False)
    thumb = thumbnail_url(job)
    if thumb:
        embed.set_thumbnail(url=thumb)
    embed.set_footer(text=f"Server {job.guild_id} · API user {job.api_user}")
    return embed


def finished_audit_embed(job: Job) -> discord.Embed:
    """Return the audit-channel post for a finished job."""
    embed = _job_embed(job, AUDIT_PROMPT)
    embed.add_field(name="User", value=f"<@{job.user_id}>")
    embed.add_field(name="Channel", value=f"<#{job.channel_id}>")
    embed.add_field(name="Model", value=f"`{job.model}`")
    if job.state == "succeeded":
        embed.add_field(name="Charged", value=f"{job.quota_units} units")
    elif job.error_code:
        embed.add_field(name="Error", value=f"`{job.error_code}`")
    thumb = thumbnail_url(job)
    if thumb:
        embed.set_thumbnail(url=thumb)
    return embed


def blocked_audit_embed(
    user_id: int, channel_id: int | None, prompt: str, rule: PromptRule
) -> discord.Embed:
    """Return the audit-channel post for a prompt refused by the blocklist."""
    kind = "regex" if rule.is_regex else "word"
    embed = discord.Embed(
        title="Prompt blocked", description=shorten(prompt, AUDIT_PROMPT), colour=COLOUR_BLOCKED
    )
    embed.add_field(name="User", value=f"<@{user_id}>")
    if channel_id is not None:
        embed.add_field(name="Channel", value=f"<#{channel_id}>")
    embed.add_field(name="Rule", value=f"#{rule.id} ({kind}) `{shorten(rule.pattern, 100)}`")
    return embed


def action_audit_embed(
    moderator_id: int, text: str, *, thumbnail: str | None = None
) -> discord.Embed:
    """Return the audit-channel post for a moderator action."""
    embed = discord.Embed(
        title="Moderator action", description=f"<@{moderator_id}> {text}", colour=COLOUR_AUDIT
    )
    if thumbnail:
        embed.set_thumbnail(url=thumbnail)
    return embed


def limit_text(limit: int | None) -> str:
    """Return a quota limit for display."""
    if limit is None:
        return "unlimited"
    return f"{limit} unit" if limit == 1 else f"{limit} units"


def _lines(lines: Sequence[str], limit: int, empty: str) -> str:
    """Join lines up to ``limit`` characters, ending with a count of what was left out."""
    if not lines:
        return empty
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        if used + len(line) + 1 > limit - 20:
            kept.append(f"… and {len(lines) - index} more")
            break
        kept.append(line)
        used += len(line) + 1
    return "\n".join(kept)


def quota_embed(
    rules: Sequence[QuotaRule],
    settings: GuildSettings,
    bot_default: int,
    member: tuple[int, QuotaStatus] | None = None,
) -> discord.Embed:
    """Return the ``/imagemod quota show`` card: default, rules, and one member's standing."""
    period = settings.quota_period
    embed = discord.Embed(title="Image quotas", colour=COLOUR_AUDIT)
    if settings.daily_limit is None:
        default = f"{limit_text(bot_default)} per {period} (bot default)"
    else:
        default = f"{limit_text(settings.daily_limit)} per {period}"
    embed.add_field(name="Server default", value=default, inline=False)
    users = [f"<@{r.target_id}>: {limit_text(r.limit_units)}" for r in rules if r.kind == "user"]
    roles = [f"<@&{r.target_id}>: {limit_text(r.limit_units)}" for r in rules if r.kind == "role"]
    embed.add_field(name="User overrides", value=_lines(users, FIELD_LIMIT, "none"), inline=False)
    embed.add_field(
        name="Role limits (the most generous applies)",
        value=_lines(roles, FIELD_LIMIT, "none"),
        inline=False,
    )
    if member is not None:
        user_id, status = member
        noun = PERIOD_NOUNS.get(status.period, "today")
        embed.add_field(
            name="Member",
            value=(
                f"<@{user_id}>: limit {limit_text(status.limit)}, {status.used} used {noun}, "
                f"resets <t:{status.resets_at}:R>"
            ),
            inline=False,
        )
    return embed


def config_embed(
    settings: GuildSettings,
    *,
    bot_daily_limit: int,
    bot_user_cap: int,
    bot_guild_cap: int,
    retention_days: int,
    rule_count: int,
    blocked_count: int,
) -> discord.Embed:
    """Return the ``/imagemod config`` card of a server's current settings."""
    embed = discord.Embed(title="Image moderation settings", colour=COLOUR_AUDIT)
    embed.add_field(
        name="Audit channel",
        value=f"<#{settings.log_channel_id}>" if settings.log_channel_id else "not set",
    )
    embed.add_field(
        name="Moderator role",
        value=(
            f"<@&{settings.moderator_role_id}>"
            if settings.moderator_role_id
            else "none (Manage Messages only)"
        ),
    )
    limit = bot_daily_limit if settings.daily_limit is None else settings.daily_limit
    embed.add_field(name="Default quota", value=f"{limit_text(limit)} per {settings.quota_period}")
    embed.add_field(
        name="Running jobs",
        value=(
            f"{settings.max_running_per_user or bot_user_cap} per member, "
            f"{settings.max_running_per_guild or bot_guild_cap} per server"
        ),
    )
    embed.add_field(name="Blocklist", value=f"{rule_count} entries")
    embed.add_field(name="Blocked members", value=str(blocked_count))
    embed.add_field(
        name="Log retention",
        value=f"prompts and URLs kept {retention_days} days" if retention_days else "forever",
    )
    return embed


def blocklist_embed(rules: Sequence[PromptRule]) -> discord.Embed:
    """Return the ``/imagemod blocklist list`` card."""
    lines = [
        f"`#{r.id}` {'regex' if r.is_regex else 'word'} `{shorten(r.pattern, 120)}`" for r in rules
    ]
    return discord.Embed(
        title=f"Prompt blocklist ({len(rules)})",
        description=_lines(lines, 4000, "The blocklist is empty."),
        colour=COLOUR_AUDIT,
    )


def blocked_users_embed(users: Sequence[BlockedUser]) -> discord.Embed:
    """Return the ``/imagemod blocked`` card."""
    lines = [
        f"<@{u.user_id}> by <@{u.blocked_by}> {_when(u.blocked_at, 'R')}"
        + (f": {shorten(u.reason, 100)}" if u.reason else "")
        for u in users
    ]
    return discord.Embed(
        title=f"Blocked members ({len(users)})",
        description=_lines(lines, 4000, "Nobody is blocked."),
        colour=COLOUR_AUDIT,
    )


def _cell(value: str | None) -> str:
    """Return a CSV text cell that spreadsheets will not evaluate as a formula."""
    text = value or ""
    return "'" + text if text.startswith(CSV_FORMULA_PREFIXES) else text


def _iso(moment: float | None) -> str:
    return dt.datetime.fromtimestamp(moment, dt.UTC).isoformat() if moment else ""


def jobs_csv(jobs: Sequence[Job]) -> str:
    """Return the jobs as CSV text (header row first, columns as in CSV_COLUMNS)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for job in jobs:
        writer.writerow(
            [
                job.id,
                _iso(job.created_at),
                job.user_id,
                job.channel_id,
                job.model,
                job.state,
                _cell(job.prompt),
                _cell(job.revised_prompt),
                json.dumps(_options_without_prompt(job), sort_keys=True),
                job.error_code or "",
                job.quota_units,
                job.quota_state,
                job.delivered_via or "",
                jump_link(job) or "",
                " ".join(job.result_urls),
                _iso(job.finished_at),
                job.deleted_by or "",
            ]
        )
    return out.getvalue()


# ---------------------------------------------------------------------- audit channel


class AuditLog:
    """Post compact embeds to a server's audit channel; failures are logged, not raised."""

    def __init__(self, client: discord.Client, db: Database) -> None:
        self._client = client
        self._db = db
        self._tasks: set[asyncio.Task[Any]] = set()

    async def post(
        self, guild_id: int, embed: discord.Embed, *, channel_id: int | None = None
    ) -> bool:
        """Post ``embed`` to the server's log channel (or ``channel_id``); False if it failed."""
        if channel_id is None:
            channel_id = (await self._db.guild_settings(guild_id)).log_channel_id
        if channel_id is None:
            return False
        channel = self._client.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            await channel.send(embed=embed, allowed_mentions=discord.AllowedMentions.none())
        except discord.HTTPException as exc:
            log.warning(
                "guild %s: audit post to channel %s failed: HTTP %s (code %s)",
                guild_id,
                channel_id,
                exc.status,
                exc.code,
            )
            return False
        return True

    def post_soon(self, guild_id: int, embed: discord.Embed) -> None:
        """Post in the background (for callers that must answer the user first)."""
        self._spawn(self.post(guild_id, embed))

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro, name="audit-post")
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("audit post crashed", exc_info=task.exception())

    async def wait_idle(self) -> None:
        """Wait until every background post has finished (for tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel pending background posts."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# ---------------------------------------------------------------------- the service


class Moderation:
    """Server rules applied to requests before they cost anything, and moderator actions."""

    def __init__(self, db: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock
        self.audit: AuditLog | None = None

    async def check_request(
        self, guild_id: int, user_id: int, prompt: str, channel_id: int | None = None
    ) -> None:
        """Raise NotAllowed if the user is blocked or the prompt hits the blocklist."""
        block = await self._db.blocked_user(guild_id, user_id)
        if block is not None:
            raise NotAllowed(BLOCKED_USER_TEXT)
        rule = first_match(await self._db.prompt_rules(guild_id), prompt)
        if rule is not None:
            log.info("guild %s: prompt of user %s blocked by rule %s", guild_id, user_id, rule.id)
            await self._db.record_action(
                guild_id, None, "prompt_blocked", f"user:{user_id}", f"rule {rule.id}"
            )
            if self.audit is not None:
                self.audit.post_soon(
                    guild_id, blocked_audit_embed(user_id, channel_id, prompt, rule)
                )
            raise PromptBlocked(rule)

    async def is_moderator(
        self, guild_id: int, permissions: discord.Permissions, role_ids: Collection[int]
    ) -> bool:
        """Whether a member may use the moderator commands in this server."""
        settings = await self._db.guild_settings(guild_id)
        return is_moderator(permissions, role_ids, settings.moderator_role_id)

    async def record(
        self,
        guild_id: int,
        moderator_id: int,
        action: str,
        text: str,
        *,
        target: str | None = None,
        detail: str | None = None,
        thumbnail: str | None = None,
        post: bool = True,
    ) -> int:
        """Append a moderator action to the log and (unless ``post`` is False) audit it."""
        action_id = await self._db.record_action(guild_id, moderator_id, action, target, detail)
        log.info("guild %s: moderator %s: %s %s", guild_id, moderator_id, action, target or "")
        if post and self.audit is not None:
            self.audit.post_soon(
                guild_id, action_audit_embed(moderator_id, text, thumbnail=thumbnail)
            )
        return action_id

    async def add_rule(
        self, guild_id: int, pattern: str, is_regex: bool, moderator_id: int
    ) -> PromptRule:
        """Validate and add a blocklist entry (recorded as a moderator action)."""
        pattern = check_new_rule(pattern, is_regex)
        rules = await self._db.prompt_rules(guild_id)
        if len(rules) >= MAX_RULES_PER_GUILD:
            raise InvalidRequest(
                f"This server already has {len(rules)} blocklist entries, the most allowed."
            )
        rule = await self._db.add_prompt_rule(guild_id, pattern, is_regex, moderator_id)
        kind = "regex" if is_regex else "word"
        await self.record(
            guild_id,
            moderator_id,
            "blocklist_add",
            f"added blocklist entry #{rule.id} ({kind}) `{shorten(pattern, 100)}`.",
            target=f"rule:{rule.id}",
            detail=f"{kind}: {pattern}",
        )
        return rule

    async def jobs(self, filters: JobFilter, *, limit: int, offset: int = 0) -> list[Job]:
        """Return the jobs matching ``filters``, newest first."""
        return await self._db.list_jobs(
            guild_id=filters.guild_id,
            user_id=filters.user_id,
            model=filters.model,
            state=filters.state,
            since=filters.since,
            limit=limit,
            offset=offset,
        )

    async def export(self, filters: JobFilter, max_rows: int) -> tuple[str, int]:
        """Return ``(csv_text, row_count)`` for up to ``max_rows`` matching jobs."""
        jobs: list[Job] = []
        while len(jobs) < max_rows:
            batch = await self.jobs(filters, limit=min(500, max_rows - len(jobs)), offset=len(jobs))
            jobs.extend(batch)
            if not batch:
                break
        return jobs_csv(jobs), len(jobs)

    async def apply_retention(self, days: int, now: float | None = None) -> int:
        """Strip prompts and URLs from finished jobs older than ``days`` (0 = keep all)."""
        if days <= 0:
            return 0
        now = self._clock() if now is None else now
        redacted = await self._db.redact_jobs_before(now - days * 86400)
        if redacted:
            log.info("log retention: redacted %d jobs older than %d days", redacted, days)
        return redacted
