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
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands, tasks

from bot.client import LemonBot
from bot.errors import InvalidRequest
from bot.moderation.blocklist import MAX_PATTERN_LENGTH
from bot.quota import PERIODS
from bot.store import JOB_STATES, Job, JobFilter
from bot.ui.cards import thumbnail_url
from bot.ui.moderation import (
    blocked_users_embed,
    blocklist_embed,
    config_embed,
    describe_filter,
    job_detail_embed,
    job_summary_embed,
    quota_rules_embed,
)
from bot.ui.options import AuditChannel, Since
from bot.ui.replies import member_role_ids
from bot.ui.views import LogsView

log = logging.getLogger(__name__)

FILTER_DESCRIPTIONS = {
    "user": "Only jobs of this member",
    "model": "Only jobs of this model",
    "state": "Only jobs in this state",
    "since": "Only jobs newer than this: 30m, 24h, 7d, 2w, or a date such as 2026-01-31",
}

NOT_MODERATOR_TEXT = "Only moderators can use /imagemod."
PAGE_SIZE = 5
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
# reset choice -> (settings put back to the default, what the confirmation says)
RESETS = {
    "log_channel": (("log_channel_id",), "turned the audit channel off"),
    "moderator_role": (("moderator_role_id",), "removed the moderator role"),
    "running": (
        ("max_running_per_user", "max_running_per_guild"),
        "reset the running-job limits to the bot's defaults",
    ),
}


class NotModerator(app_commands.CheckFailure):
    """The member has neither Manage Messages nor the server's moderator role."""


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
        self.service = bot.moderation

    async def cog_load(self) -> None:
        """Start log retention."""
        self.retention.start()

    async def cog_unload(self) -> None:
        """Stop log retention."""
        self.retention.cancel()

    async def interaction_check(self, interaction: discord.Interaction[Any], /) -> bool:
        """Allow members with Manage Messages or the server's moderator role."""
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        allowed = await self.service.is_moderator(
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

    @tasks.loop(hours=24)
    async def retention(self) -> None:
        """Strip prompts and URLs from jobs older than LOG_RETENTION_DAYS, once a day."""
        try:
            await self.service.apply_retention(self.bot.settings.log_retention_days)
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
        since: Since | None = None,
    ) -> None:
        """Show who generated what, newest first, with page buttons."""
        filters = _filters(interaction, user, model, state, since)

        async def fetch(page: int) -> tuple[str, list[discord.Embed], bool]:
            jobs = await self.service.jobs(filters, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE)
            first = page * PAGE_SIZE + 1
            shown = jobs[:PAGE_SIZE]
            header = f"**Jobs** ({describe_filter(filters)})"
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
        await interaction.response.send_message(content, embeds=embeds, view=view, ephemeral=True)

    @imagemod.command(name="job")
    @app_commands.describe(job_id="The job number (shown in the footer of every image)")
    async def job(
        self, interaction: discord.Interaction[LemonBot], job_id: Range[int, 1, None]
    ) -> None:
        """Show everything stored about one job."""
        job = await self.service.job(_guild(interaction), job_id)
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
        since: Since | None = None,
    ) -> None:
        """Download the matching jobs as a CSV file."""
        filters = _filters(interaction, user, model, state, since)
        await interaction.response.defer(ephemeral=True, thinking=True)
        text, count = await self.service.export(filters, EXPORT_MAX_ROWS)
        data = text.encode("utf-8")
        if len(data) > interaction.filesize_limit:
            raise InvalidRequest(
                "That export is too large to attach. Narrow it with `since`, `user` or `model`."
            )
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
        name = f"lemonbot-jobs-{filters.guild_id}-{stamp}.csv"
        note = f"{count} jobs ({describe_filter(filters)})"
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
        if reset in RESETS:
            names, text = RESETS[reset]
            changes.update(dict.fromkeys(names))
            said.append(text)
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
        text = "; ".join(said) + "."
        await interaction.response.defer(ephemeral=True, thinking=True)
        _, posted = await self.service.configure(guild_id, interaction.user.id, changes, text)
        reply = f"Done: {text}"
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
        if user.bot:
            raise InvalidRequest("Bots can't use /imagine anyway.")
        await self.service.block(_guild(interaction), user.id, reason, interaction.user.id)
        await _reply(interaction, f"<@{user.id}> can no longer generate images here.")

    @imagemod.command(name="unblock")
    @app_commands.describe(user="The member to allow again")
    async def unblock(self, interaction: discord.Interaction[LemonBot], user: discord.User) -> None:
        """Let a blocked member use /imagine again."""
        await self.service.unblock(_guild(interaction), user.id, interaction.user.id)
        await _reply(interaction, f"<@{user.id}> can generate images again.")

    @imagemod.command(name="blocked")
    async def blocked(self, interaction: discord.Interaction[LemonBot]) -> None:
        """List the members blocked from generating images."""
        _, _, users, _ = await self.service.overview(_guild(interaction))
        await interaction.response.send_message(embed=blocked_users_embed(users), ephemeral=True)

    @imagemod.command(name="delete")
    @app_commands.describe(job_id="The job whose image message should be deleted")
    async def delete(
        self, interaction: discord.Interaction[LemonBot], job_id: Range[int, 1, None]
    ) -> None:
        """Delete a job's posted image and record who did it."""
        job = await self.service.job(_guild(interaction), job_id)
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
        await self.service.record_deletion(
            job, interaction.user.id, already_gone=gone, thumbnail=thumbnail_url(job)
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
        rule = await self.service.add_rule(_guild(interaction), pattern, regex, interaction.user.id)
        kind = "regular expression" if rule.is_regex else "word"
        await _reply(interaction, f"Added blocklist entry #{rule.id} ({kind}).")

    @blocklist.command(name="remove")
    @app_commands.describe(entry="The entry number, from /imagemod blocklist list")
    async def blocklist_remove(
        self, interaction: discord.Interaction[LemonBot], entry: Range[int, 1, None]
    ) -> None:
        """Remove an entry from the prompt blocklist."""
        await self.service.remove_rule(_guild(interaction), entry, interaction.user.id)
        await _reply(interaction, f"Removed blocklist entry #{entry}.")

    @blocklist.command(name="list")
    async def blocklist_list(self, interaction: discord.Interaction[LemonBot]) -> None:
        """Show the prompt blocklist."""
        _, rules, _, _ = await self.service.overview(_guild(interaction))
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
        text = await self.service.clear_quota_rule(
            _guild(interaction), "user", user.id, interaction.user.id, f"<@{user.id}>"
        )
        await _reply(interaction, f"Done: {text}")

    @quota.command(name="clear-role")
    @app_commands.describe(role="The role")
    async def quota_clear_role(
        self, interaction: discord.Interaction[LemonBot], role: discord.Role
    ) -> None:
        """Remove a role's quota."""
        text = await self.service.clear_quota_rule(
            _guild(interaction), "role", role.id, interaction.user.id, f"<@&{role.id}>"
        )
        await _reply(interaction, f"Done: {text}")

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
        if limit is None and period is None and not reset:
            raise InvalidRequest("Give a `limit`, a `period`, or `reset`.")
        if reset and limit is not None:
            raise InvalidRequest("Give either a `limit` or `reset`, not both.")
        changes: dict[str, Any] = {}
        if reset or limit is not None:
            changes["daily_limit"] = limit
        if period is not None:
            changes["quota_period"] = period
        text = await self.service.set_default_quota(
            _guild(interaction), interaction.user.id, changes, self.bot.settings.daily_image_quota
        )
        await _reply(interaction, f"Done: {text}")

    @quota.command(name="show")
    @app_commands.describe(user="Also show this member's limit and usage")
    async def quota_show(
        self, interaction: discord.Interaction[LemonBot], user: discord.User | None = None
    ) -> None:
        """Show the quota rules, and a member's effective limit and usage."""
        guild_id = _guild(interaction)
        settings, _, _, rules = await self.service.overview(guild_id)
        member = None
        if user is not None:
            status = await self.bot.quota.status(guild_id, user.id, member_role_ids(user))
            member = (user.id, status)
        embed = quota_rules_embed(rules, settings, self.bot.settings.daily_image_quota, member)
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
        if unlimited == (limit is not None):
            raise InvalidRequest("Give either a `limit` or `unlimited: True`.")
        units = None if unlimited else limit
        text = await self.service.set_quota_rule(
            _guild(interaction), kind, target_id, units, interaction.user.id, mention
        )
        await _reply(interaction, f"Done: {text}")

    async def _config_embed(self, guild_id: int) -> discord.Embed:
        settings = self.bot.settings
        guild, rules, blocked, _ = await self.service.overview(guild_id)
        return config_embed(
            guild,
            bot_daily_limit=settings.daily_image_quota,
            bot_user_cap=settings.max_running_jobs_per_user,
            bot_guild_cap=settings.max_running_jobs_per_guild,
            retention_days=settings.log_retention_days,
            rule_count=len(rules),
            blocked_count=len(blocked),
        )


def _filters(
    interaction: discord.Interaction[LemonBot],
    user: discord.User | None,
    model: str | None,
    state: str | None,
    since: float | None,
) -> JobFilter:
    if state is not None and state not in JOB_STATES:
        raise InvalidRequest(f"`state` must be one of {', '.join(JOB_STATES)}.")
    return JobFilter(
        guild_id=_guild(interaction),
        user_id=user.id if user is not None else None,
        model=model.strip() if model else None,
        state=state,
        since=since,
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
