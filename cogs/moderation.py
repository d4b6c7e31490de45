"""/imagemod: review and moderate image generation. A thin adapter over ``bot.moderation``.

Every subcommand is moderator-only twice over: Discord hides the group from members
without Manage Messages (``default_member_permissions``), and because server admins
can override that default, :meth:`Moderation.interaction_check` checks again at run
time (Manage Messages, or the server's moderator role). Every reply is ephemeral.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import AppCommandChannel, Choice, Range, Transform
from discord.ext import commands, tasks

from bot.client import LemonBot, member_role_ids
from bot.db import Job
from bot.errors import InvalidRequest
from bot.moderation import (
    JOB_STATES,
    MAX_PATTERN_LENGTH,
    AuditLog,
    JobFilter,
    action_audit_embed,
    blocked_users_embed,
    blocklist_embed,
    config_embed,
    finished_audit_embed,
    job_detail_embed,
    job_summary_embed,
    limit_text,
    parse_since,
    quota_embed,
    thumbnail_url,
)
from bot.quota import PERIODS

log = logging.getLogger(__name__)

FILTER_DESCRIPTIONS = {
    "user": "Only jobs of this member",
    "model": "Only jobs of this model",
    "state": "Only jobs in this state",
    "since": "Only jobs newer than this: 30m, 24h, 7d, 2w, or a date such as 2026-01-31",
}

NOT_MODERATOR_TEXT = "Only moderators can use /imagemod."
NOT_OWNER_TEXT = "These buttons belong to the moderator who ran the command."
PAGE_SIZE = 5
VIEW_TIMEOUT_SECONDS = 300
EXPORT_MAX_ROWS = 10_000
MAX_LIMIT_UNITS = 100_000
MAX_RUNNING = 100
MAX_REASON_LENGTH = 300
STATE_CHOICES = [Choice(name=state, value=state) for state in JOB_STATES]
PERIOD_CHOICES = [Choice(name=f"per {period}", value=period) for period in PERIODS]
RESET_CHOICES = [
    Choice(name="audit channel", value="log_channel"),
    Choice(name="moderator role", value="moderator_role"),
    Choice(name="running-job limits", value="running"),
]
AUDIT_CHANNEL_TYPES = [discord.ChannelType.text, discord.ChannelType.news]

PageFetcher = Callable[[int], Awaitable[tuple[str, list[discord.Embed], bool]]]


class NotModerator(app_commands.CheckFailure):
    """The member has neither Manage Messages nor the server's moderator role."""


class TextChannelOption(app_commands.Transformer):
    """A text or announcement channel, taken as Discord resolved it (no cache needed)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        """Discord's option type: a channel."""
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        """Channel kinds the picker offers."""
        return AUDIT_CHANNEL_TYPES

    async def transform(self, interaction: discord.Interaction, value: Any, /) -> Any:
        """Return the resolved channel unchanged."""
        return value


AuditChannel = Transform[AppCommandChannel, TextChannelOption]


class LogsView(discord.ui.View):
    """Previous/Next buttons of an ``/imagemod logs`` page, usable by its moderator only."""

    def __init__(
        self,
        fetch: PageFetcher,
        owner_id: int,
        origin: discord.Interaction[LemonBot],
        has_next: bool,
    ) -> None:
        super().__init__(timeout=VIEW_TIMEOUT_SECONDS)
        self._fetch = fetch
        self._owner_id = owner_id
        self._origin = origin
        self.page = 0
        self._update_buttons(has_next)

    def _update_buttons(self, has_next: bool) -> None:
        self.previous.disabled = self.page == 0
        self.next.disabled = not has_next

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """Let only the moderator who ran the command turn the pages."""
        if interaction.user.id == self._owner_id:
            return True
        await interaction.response.send_message(NOT_OWNER_TEXT, ephemeral=True)
        return False

    @discord.ui.button(
        label="Previous", style=discord.ButtonStyle.secondary, custom_id="imagemod:logs:previous"
    )
    async def previous(
        self, interaction: discord.Interaction, button: discord.ui.Button[LogsView]
    ) -> None:
        """Show the newer page."""
        await self._show(interaction, max(0, self.page - 1))

    @discord.ui.button(
        label="Next", style=discord.ButtonStyle.secondary, custom_id="imagemod:logs:next"
    )
    async def next(
        self, interaction: discord.Interaction, button: discord.ui.Button[LogsView]
    ) -> None:
        """Show the older page."""
        await self._show(interaction, self.page + 1)

    async def _show(self, interaction: discord.Interaction, page: int) -> None:
        content, embeds, has_next = await self._fetch(page)
        self.page = page
        self._update_buttons(has_next)
        await interaction.response.edit_message(content=content, embeds=embeds, view=self)

    async def on_timeout(self) -> None:
        """Remove the buttons once they stop working."""
        try:
            await self._origin.edit_original_response(view=None)
        except discord.HTTPException as exc:
            log.debug("could not remove the logs buttons: HTTP %s", exc.status)


class Moderation(commands.Cog):
    """Moderator commands: logs, export, audit channel, blocks, blocklist, quotas."""

    imagemod = app_commands.Group(
        name="imagemod",
        description="Review and moderate image generation (moderators only)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_messages=True),
    )
    blocklist = app_commands.Group(
        name="blocklist", description="The server's prompt blocklist", parent=imagemod
    )
    quota = app_commands.Group(
        name="quota", description="Image quotas of members and roles", parent=imagemod
    )

    def __init__(self, bot: LemonBot) -> None:
        self.bot = bot
        self.audit = AuditLog(bot, bot.db)
        self._views: weakref.WeakSet[LogsView] = weakref.WeakSet()

    async def cog_load(self) -> None:
        """Attach the audit channel to the services and start log retention."""
        self.bot.moderation.audit = self.audit
        self.bot.jobs.finished_listeners.append(self._job_finished)
        self.retention.start()

    async def cog_unload(self) -> None:
        """Detach from the services and stop background work."""
        self.retention.cancel()
        if self._job_finished in self.bot.jobs.finished_listeners:
            self.bot.jobs.finished_listeners.remove(self._job_finished)
        if self.bot.moderation.audit is self.audit:
            self.bot.moderation.audit = None
        for view in list(self._views):
            view.stop()
        await self.audit.close()

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Allow members with Manage Messages or the server's moderator role."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        allowed = await self.bot.moderation.is_moderator(
            interaction.guild_id, interaction.permissions, member_role_ids(interaction.user)
        )
        if not allowed:
            log.info(
                "guild %s: %s refused for non-moderator %s",
                interaction.guild_id,
                interaction.command.qualified_name if interaction.command else "/imagemod",
                interaction.user.id,
            )
            raise NotModerator(NOT_MODERATOR_TEXT)
        return True

    # ------------------------------------------------------------------ background

    async def _job_finished(self, job: Job) -> None:
        await self.audit.post(job.guild_id, finished_audit_embed(job))

    @tasks.loop(hours=24)
    async def retention(self) -> None:
        """Strip prompts and URLs from jobs older than LOG_RETENTION_DAYS, once a day."""
        try:
            await self.bot.moderation.apply_retention(self.bot.settings.log_retention_days)
        except Exception:
            log.exception("log retention failed; it will run again tomorrow")

    # ------------------------------------------------------------------ review

    @imagemod.command(name="logs")
    @app_commands.describe(**FILTER_DESCRIPTIONS)
    @app_commands.choices(state=STATE_CHOICES)
    async def logs(
        self,
        interaction: discord.Interaction[LemonBot],
        user: discord.User | None = None,
        model: str | None = None,
        state: str | None = None,
        since: str | None = None,
    ) -> None:
        """Show who generated what, newest first, with page buttons."""
        filters = self._filters(interaction, user, model, state, since)

        async def fetch(page: int) -> tuple[str, list[discord.Embed], bool]:
            jobs = await self.bot.moderation.jobs(
                filters, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE
            )
            first = page * PAGE_SIZE + 1
            shown = jobs[:PAGE_SIZE]
            header = f"**Jobs** ({filters.describe()})"
            if shown:
                header += f" · {first}–{first + len(shown) - 1}, newest first"
            else:
                header += " · no jobs match."
            return header, [job_summary_embed(j) for j in shown], len(jobs) > PAGE_SIZE

        content, embeds, has_next = await fetch(0)
        if not embeds:
            await interaction.response.send_message(content, ephemeral=True)
            return
        view = LogsView(fetch, interaction.user.id, interaction, has_next)
        self._views.add(view)
        await interaction.response.send_message(content, embeds=embeds, view=view, ephemeral=True)

    @imagemod.command(name="job")
    @app_commands.describe(job_id="The job number (shown in the footer of every image)")
    async def job(
        self, interaction: discord.Interaction[LemonBot], job_id: Range[int, 1, None]
    ) -> None:
        """Show everything stored about one job."""
        job = await self._job(interaction, job_id)
        await interaction.response.send_message(embed=job_detail_embed(job), ephemeral=True)

    @imagemod.command(name="export")
    @app_commands.describe(**FILTER_DESCRIPTIONS)
    @app_commands.choices(state=STATE_CHOICES)
    async def export(
        self,
        interaction: discord.Interaction[LemonBot],
        user: discord.User | None = None,
        model: str | None = None,
        state: str | None = None,
        since: str | None = None,
    ) -> None:
        """Download the matching jobs as a CSV file."""
        filters = self._filters(interaction, user, model, state, since)
        await interaction.response.defer(ephemeral=True, thinking=True)
        text, count = await self.bot.moderation.export(filters, EXPORT_MAX_ROWS)
        data = text.encode("utf-8")
        if len(data) > interaction.filesize_limit:
            raise InvalidRequest(
                "That export is too large to attach. Narrow it with `since`, `user` or `model`."
            )
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
        name = f"lemonbot-jobs-{filters.guild_id}-{stamp}.csv"
        note = f"{count} jobs ({filters.describe()})"
        if count >= EXPORT_MAX_ROWS:
            note += f"; only the newest {EXPORT_MAX_ROWS} are included"
        await interaction.edit_original_response(
            content=note + ".", attachments=[discord.File(io.BytesIO(data), filename=name)]
        )

    @logs.autocomplete("model")
    @export.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction[LemonBot], current: str
    ) -> list[Choice[str]]:
        """Suggest model ids from the cached model list."""
        names = self.bot.catalog.suggest(current)
        return [Choice(name=name, value=name) for name in names if len(name) <= 100]

    # ------------------------------------------------------------------ settings

    @imagemod.command(name="config")
    @app_commands.describe(
        log_channel="Channel for the audit log (keep it readable by moderators only)",
        moderator_role="A role whose members may use /imagemod, besides Manage Messages",
        max_running_per_user="How many images one member may have generating at once",
        max_running_per_server="How many images this server may have generating at once",
        reset="Put one setting back to the bot's default",
    )
    @app_commands.choices(reset=RESET_CHOICES)
    async def config(
        self,
        interaction: discord.Interaction[LemonBot],
        log_channel: AuditChannel | None = None,
        moderator_role: discord.Role | None = None,
        max_running_per_user: Range[int, 1, MAX_RUNNING] | None = None,
        max_running_per_server: Range[int, 1, MAX_RUNNING] | None = None,
        reset: str | None = None,
    ) -> None:
        """Show or change the audit channel, moderator role and running-job limits."""
        guild_id = _guild(interaction)
        changes: dict[str, Any] = {}
        said: list[str] = []
        if reset == "log_channel":
            changes["log_channel_id"] = None
            said.append("turned the audit channel off")
        elif reset == "moderator_role":
            changes["moderator_role_id"] = None
            said.append("removed the moderator role")
        elif reset == "running":
            changes["max_running_per_user"] = changes["max_running_per_guild"] = None
            said.append("reset the running-job limits to the bot's defaults")
        if log_channel is not None:
            changes["log_channel_id"] = log_channel.id
            said.append(f"set the audit channel to <#{log_channel.id}>")
        if moderator_role is not None:
            if moderator_role.is_default():
                raise InvalidRequest("@everyone can't be the moderator role.")
            changes["moderator_role_id"] = moderator_role.id
            said.append(f"set the moderator role to <@&{moderator_role.id}>")
        if max_running_per_user is not None:
            changes["max_running_per_user"] = max_running_per_user
            said.append(f"allowed {max_running_per_user} running images per member")
        if max_running_per_server is not None:
            changes["max_running_per_guild"] = max_running_per_server
            said.append(f"allowed {max_running_per_server} running images in this server")
        if not changes:
            await interaction.response.send_message(
                embed=await self._config_embed(guild_id), ephemeral=True
            )
            return
        before = await self.bot.db.guild_settings(guild_id)
        after = await self.bot.db.update_guild_settings(guild_id, **changes)
        text = "; ".join(said) + "."
        await self.bot.moderation.record(
            guild_id,
            interaction.user.id,
            "config",
            text,
            detail=", ".join(f"{k}={v}" for k, v in changes.items()),
            post=False,
        )
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = f"Done: {text}"
        # Turning the audit channel off is still announced in the channel it used to be.
        channel_id = after.log_channel_id or before.log_channel_id
        embed = action_audit_embed(interaction.user.id, text)
        posted = await self.audit.post(guild_id, embed, channel_id=channel_id)
        if log_channel is not None and not posted:
            reply += (
                f"\nI couldn't post in <#{log_channel.id}>: please let me view it, send "
                "messages and embed links there."
            )
        await interaction.edit_original_response(
            content=reply, embed=await self._config_embed(guild_id)
        )

    # ------------------------------------------------------------------ controls

    @imagemod.command(name="block")
    @app_commands.describe(user="The member to stop from generating images", reason="Why")
    async def block(
        self,
        interaction: discord.Interaction[LemonBot],
        user: discord.User,
        reason: Range[str, 1, MAX_REASON_LENGTH] | None = None,
    ) -> None:
        """Stop a member from using /imagine in this server."""
        guild_id = _guild(interaction)
        if user.bot:
            raise InvalidRequest("Bots can't use /imagine anyway.")
        await self.bot.db.block_user(guild_id, user.id, reason, interaction.user.id)
        text = f"blocked <@{user.id}> from generating images" + (f": {reason}" if reason else ".")
        await self._done(
            interaction,
            "block",
            text,
            target=f"user:{user.id}",
            detail=reason,
            reply=f"<@{user.id}> can no longer generate images here.",
        )

    @imagemod.command(name="unblock")
    @app_commands.describe(user="The member to allow again")
    async def unblock(self, interaction: discord.Interaction[LemonBot], user: discord.User) -> None:
        """Let a blocked member use /imagine again."""
        guild_id = _guild(interaction)
        if not await self.bot.db.unblock_user(guild_id, user.id):
            raise InvalidRequest(f"<@{user.id}> is not blocked.")
        await self._done(
            interaction,
            "unblock",
            f"unblocked <@{user.id}>.",
            target=f"user:{user.id}",
            reply=f"<@{user.id}> can generate images again.",
        )

    @imagemod.command(name="blocked")
    async def blocked(self, interaction: discord.Interaction[LemonBot]) -> None:
        """List the members blocked from generating images."""
        users = await self.bot.db.blocked_users(_guild(interaction))
        await interaction.response.send_message(embed=blocked_users_embed(users), ephemeral=True)

    @imagemod.command(name="delete")
    @app_commands.describe(job_id="The job whose image message should be deleted")
    async def delete(
        self, interaction: discord.Interaction[LemonBot], job_id: Range[int, 1, None]
    ) -> None:
        """Delete a job's posted image and record who did it."""
        job = await self._job(interaction, job_id)
        if job.deleted_at is not None:
            raise InvalidRequest(
                f"Job {job.id}'s image was already deleted by <@{job.deleted_by}>."
            )
        if job.delivered_message_id is None or job.delivered_channel_id is None:
            raise InvalidRequest(f"Job {job.id} has no posted message to delete.")
        await interaction.response.defer(ephemeral=True, thinking=True)
        gone = await self._delete_message(job, job.delivered_channel_id, job.delivered_message_id)
        if job.message_id and job.message_id != job.delivered_message_id:
            # The progress card of a result posted as a reply still shows the prompt.
            try:
                await self._delete_message(job, job.channel_id, job.message_id)
            except InvalidRequest:
                log.info("job %s: progress message could not be deleted", job.id)
        await self.bot.db.mark_deleted(job.id, interaction.user.id)
        await self.bot.moderation.record(
            job.guild_id,
            interaction.user.id,
            "delete",
            f"deleted the image of job {job.id} by <@{job.user_id}>.",
            target=f"job:{job.id}",
            detail="message already gone" if gone else None,
            thumbnail=thumbnail_url(job),
        )
        reply = f"Deleted the image of job {job.id}."
        if gone:
            reply = f"Job {job.id}'s message was already gone; recorded as deleted."
        await interaction.edit_original_response(content=reply)

    async def _delete_message(self, job: Job, channel_id: int, message_id: int) -> bool:
        """Delete one message; return True if it was already gone."""
        guild_id = None if job.delivered_via == "dm" else job.guild_id
        channel = self.bot.get_partial_messageable(channel_id, guild_id=guild_id)
        try:
            await channel.get_partial_message(message_id).delete()
        except discord.NotFound:
            return True
        except discord.Forbidden:
            raise InvalidRequest(
                "Discord doesn't let me delete that message (missing access to the channel)."
            ) from None
        return False

    # ------------------------------------------------------------------ blocklist

    @blocklist.command(name="add")
    @app_commands.describe(
        pattern="A word or phrase (whole words, any case), or a regular expression",
        regex="Treat the pattern as a regular expression (default: a plain word)",
    )
    async def blocklist_add(
        self,
        interaction: discord.Interaction[LemonBot],
        pattern: Range[str, 1, MAX_PATTERN_LENGTH],
        regex: bool = False,
    ) -> None:
        """Refuse prompts that contain a word or match a regular expression."""
        rule = await self.bot.moderation.add_rule(
            _guild(interaction), pattern, regex, interaction.user.id
        )
        kind = "regular expression" if rule.is_regex else "word"
        await _reply(interaction, f"Added blocklist entry #{rule.id} ({kind}).")

    @blocklist.command(name="remove")
    @app_commands.describe(entry="The entry number, from /imagemod blocklist list")
    async def blocklist_remove(
        self, interaction: discord.Interaction[LemonBot], entry: Range[int, 1, None]
    ) -> None:
        """Remove an entry from the prompt blocklist."""
        guild_id = _guild(interaction)
        if not await self.bot.db.remove_prompt_rule(guild_id, entry):
            raise InvalidRequest(f"There is no blocklist entry #{entry} in this server.")
        await self._done(
            interaction,
            "blocklist_remove",
            f"removed blocklist entry #{entry}.",
            target=f"rule:{entry}",
            reply=f"Removed blocklist entry #{entry}.",
        )

    @blocklist.command(name="list")
    async def blocklist_list(self, interaction: discord.Interaction[LemonBot]) -> None:
        """Show the prompt blocklist."""
        rules = await self.bot.db.prompt_rules(_guild(interaction))
        await interaction.response.send_message(embed=blocklist_embed(rules), ephemeral=True)

    # ------------------------------------------------------------------ quotas

    @quota.command(name="user")
    @app_commands.describe(
        user="The member", limit="Units per quota window", unlimited="No limit at all"
    )
    async def quota_user(
        self,
        interaction: discord.Interaction[LemonBot],
        user: discord.User,
        limit: Range[int, 0, MAX_LIMIT_UNITS] | None = None,
        unlimited: bool = False,
    ) -> None:
        """Give one member their own quota (overrides roles and the default)."""
        await self._set_rule(interaction, "user", user.id, f"<@{user.id}>", limit, unlimited)

    @quota.command(name="role")
    @app_commands.describe(
        role="The role", limit="Units per quota window", unlimited="No limit at all"
    )
    async def quota_role(
        self,
        interaction: discord.Interaction[LemonBot],
        role: discord.Role,
        limit: Range[int, 0, MAX_LIMIT_UNITS] | None = None,
        unlimited: bool = False,
    ) -> None:
        """Set a role's quota (a member gets the most generous of their roles)."""
        await self._set_rule(interaction, "role", role.id, f"<@&{role.id}>", limit, unlimited)

    @quota.command(name="clear-user")
    @app_commands.describe(user="The member")
    async def quota_clear_user(
        self, interaction: discord.Interaction[LemonBot], user: discord.User
    ) -> None:
        """Remove a member's own quota; their roles or the default apply again."""
        await self._clear_rule(interaction, "user", user.id, f"<@{user.id}>")

    @quota.command(name="clear-role")
    @app_commands.describe(role="The role")
    async def quota_clear_role(
        self, interaction: discord.Interaction[LemonBot], role: discord.Role
    ) -> None:
        """Remove a role's quota."""
        await self._clear_rule(interaction, "role", role.id, f"<@&{role.id}>")

    @quota.command(name="default")
    @app_commands.describe(
        limit="Units per member per quota window (0 turns generation off)",
        period="How long a quota window lasts",
        reset="Go back to the bot's default limit",
    )
    @app_commands.choices(period=PERIOD_CHOICES)
    async def quota_default(
        self,
        interaction: discord.Interaction[LemonBot],
        limit: Range[int, 0, MAX_LIMIT_UNITS] | None = None,
        period: str | None = None,
        reset: bool = False,
    ) -> None:
        """Set the server's default quota and its window (day, week or month)."""
        guild_id = _guild(interaction)
        if limit is None and period is None and not reset:
            raise InvalidRequest("Give a `limit`, a `period`, or `reset`.")
        if reset and limit is not None:
            raise InvalidRequest("Give either a `limit` or `reset`, not both.")
        changes: dict[str, Any] = {}
        if reset or limit is not None:
            changes["daily_limit"] = limit
        if period is not None:
            changes["quota_period"] = period
        settings = await self.bot.db.update_guild_settings(guild_id, **changes)
        default = self.bot.settings.daily_image_quota
        shown = default if settings.daily_limit is None else settings.daily_limit
        text = f"set the default quota to {limit_text(shown)} per {settings.quota_period}" + (
            " (the bot's default)." if settings.daily_limit is None else "."
        )
        await self._done(
            interaction,
            "quota_default",
            text,
            detail=", ".join(f"{k}={v}" for k, v in changes.items()),
            reply=f"Done: {text}",
        )

    @quota.command(name="show")
    @app_commands.describe(user="Also show this member's limit and usage")
    async def quota_show(
        self, interaction: discord.Interaction[LemonBot], user: discord.User | None = None
    ) -> None:
        """Show the quota rules, and a member's effective limit and usage."""
        guild_id = _guild(interaction)
        settings = await self.bot.db.guild_settings(guild_id)
        rules = await self.bot.db.quota_rules(guild_id)
        member = None
        if user is not None:
            status = await self.bot.quota.status(guild_id, user.id, member_role_ids(user))
            member = (user.id, status)
        embed = quota_embed(rules, settings, self.bot.settings.daily_image_quota, member)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def _set_rule(
        self,
        interaction: discord.Interaction[LemonBot],
        kind: str,
        target_id: int,
        mention: str,
        limit: int | None,
        unlimited: bool,
    ) -> None:
        guild_id = _guild(interaction)
        if unlimited == (limit is not None):
            raise InvalidRequest("Give either a `limit` or `unlimited: True`.")
        units = None if unlimited else limit
        await self.bot.db.set_quota_rule(guild_id, kind, target_id, units, interaction.user.id)
        text = f"set the quota of {mention} to {limit_text(units)}."
        await self._done(
            interaction,
            f"quota_{kind}",
            text,
            target=f"{kind}:{target_id}",
            detail=limit_text(units),
            reply=f"Done: {text}",
        )

    async def _clear_rule(
        self, interaction: discord.Interaction[LemonBot], kind: str, target_id: int, mention: str
    ) -> None:
        guild_id = _guild(interaction)
        if not await self.bot.db.clear_quota_rule(guild_id, kind, target_id):
            raise InvalidRequest(f"{mention} has no quota of their own.")
        text = f"removed the quota of {mention}."
        await self._done(
            interaction,
            f"quota_clear_{kind}",
            text,
            target=f"{kind}:{target_id}",
            reply=f"Done: {text}",
        )

    # ------------------------------------------------------------------ helpers

    async def _done(
        self,
        interaction: discord.Interaction[LemonBot],
        action: str,
        text: str,
        *,
        reply: str,
        **extra: Any,
    ) -> None:
        """Record a moderator action (log and audit channel), then confirm it privately."""
        await self.bot.moderation.record(
            _guild(interaction), interaction.user.id, action, text, **extra
        )
        await _reply(interaction, reply)

    def _filters(
        self,
        interaction: discord.Interaction[LemonBot],
        user: discord.User | None,
        model: str | None,
        state: str | None,
        since: str | None,
    ) -> JobFilter:
        if state is not None and state not in JOB_STATES:
            raise InvalidRequest(f"`state` must be one of {', '.join(JOB_STATES)}.")
        return JobFilter(
            guild_id=_guild(interaction),
            user_id=user.id if user is not None else None,
            model=model.strip() if model else None,
            state=state,
            since=parse_since(since, interaction.created_at.timestamp()) if since else None,
        )

    async def _job(self, interaction: discord.Interaction[LemonBot], job_id: int) -> Job:
        job = await self.bot.db.get_job(job_id)
        if job is None or job.guild_id != interaction.guild_id:
            raise InvalidRequest(f"There is no job {job_id} in this server.")
        return job

    async def _config_embed(self, guild_id: int) -> discord.Embed:
        settings = self.bot.settings
        return config_embed(
            await self.bot.db.guild_settings(guild_id),
            bot_daily_limit=settings.daily_image_quota,
            bot_user_cap=settings.max_running_jobs_per_user,
            bot_guild_cap=settings.max_running_jobs_per_guild,
            retention_days=settings.log_retention_days,
            rule_count=len(await self.bot.db.prompt_rules(guild_id)),
            blocked_count=len(await self.bot.db.blocked_users(guild_id)),
        )


def _guild(interaction: discord.Interaction[LemonBot]) -> int:
    assert interaction.guild_id is not None  # the group is guild-only
    return interaction.guild_id


async def _reply(interaction: discord.Interaction[LemonBot], text: str) -> None:
    await interaction.response.send_message(
        text, ephemeral=True, allowed_mentions=discord.AllowedMentions.none()
    )


async def setup(bot: LemonBot) -> None:
    """Load the cog (discord.py extension entry point)."""
    await bot.add_cog(Moderation(bot))
