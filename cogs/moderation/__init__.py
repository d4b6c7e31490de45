"""/imagemod: review and moderate image generation. A thin adapter over ``bot.moderation``.

Every subcommand is moderator-only twice over: Discord hides the group from members
without Manage Messages (``default_member_permissions``), and because server admins
can override that default, :meth:`Moderation.interaction_check` checks again at run
time (Manage Messages, or the server's moderator role). Every reply is ephemeral.

The commands live in mixins by concern (:mod:`.review`, :mod:`.rules`); this module
assembles the cog, with the settings command and log retention.
"""

from __future__ import annotations

import logging
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import tasks

from bot.client import LemonBot
from bot.errors import InvalidRequest
from bot.ui.moderation import config_embed
from bot.ui.options import AuditChannel
from bot.ui.replies import member_role_ids
from cogs.moderation.common import MAX_RUNNING, blocklist, guild_of, imagemod, quota
from cogs.moderation.review import ReviewCommands
from cogs.moderation.rules import RuleCommands

log = logging.getLogger(__name__)

NOT_MODERATOR_TEXT = "Only moderators can use /imagemod."
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


class Moderation(ReviewCommands, RuleCommands):
    """Moderator commands: logs, export, audit channel, blocks, blocklist, quotas."""

    imagemod = imagemod
    blocklist = blocklist
    quota = quota

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
        guild_id = guild_of(interaction)
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


async def setup(bot: LemonBot) -> None:
    """Load the cog (discord.py extension entry point)."""
    await bot.add_cog(Moderation(bot))
