"""/imagemod: review and moderate image generation. A thin adapter over ``bot.moderation``.

Every subcommand is moderator-only twice over: Discord hides the group from members
without Manage Messages (``default_member_permissions``), and because server admins
can override that default (and Discord reads it with the channel's overwrites),
:meth:`Moderation.interaction_check` checks again at run time: Manage Messages or
Administrator server-wide (the owner has both), or the server's moderator role. Every
reply is ephemeral.

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
from bot.errors import Refusal
from bot.i18n import Text, command_text
from bot.moderation.config import FORMATS, MAX_RUNNING, RESETS, STRICTNESS, config_changes
from bot.ui.format import mention
from bot.ui.options import AuditChannel
from bot.ui.replies import CheckRefused
from bot.ui.rules import config_embed
from cogs.moderation.budget import BudgetCommands, UsageCommands
from cogs.moderation.common import blocklist, budget, guild_of, imagemod, quota
from cogs.moderation.review import ReviewCommands
from cogs.moderation.rules import RuleCommands

log = logging.getLogger(__name__)

RESET_CHOICES = [Choice(name=command_text(f"choice.reset_{name}"), value=name) for name in RESETS]
STRICTNESS_CHOICES = [
    Choice(name=command_text(f"choice.strictness_{value}"), value=value) for value in STRICTNESS
]
FORMAT_CHOICES = [
    Choice(name=command_text(f"choice.default_format_{value}"), value=value) for value in FORMATS
]


class NotModerator(CheckRefused):
    """The member has neither Manage Messages server-wide nor the server's moderator role."""


class Moderation(ReviewCommands, RuleCommands, BudgetCommands, UsageCommands):
    """Moderator commands: logs, export, audit channel, blocks, blocklist, quotas, budget."""

    imagemod = imagemod
    blocklist = blocklist
    quota = quota
    budget = budget

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
        """Allow members with Manage Messages server-wide, or the server's moderator role.

        The server-wide permissions (``Members.moderates``), not ``interaction.permissions``: a
        channel's overwrite must not make a moderator of the whole server.
        """
        if interaction.guild_id is None:
            raise app_commands.NoPrivateMessage()
        try:
            allowed = await self.bot.members.moderates(interaction, interaction.guild_id)
        except Refusal as exc:  # Discord could not say; a check failure answers privately
            raise CheckRefused(exc.text.key, **exc.text.params) from None
        if not allowed:
            log.info(
                "guild %s: %s refused for non-moderator %s",
                interaction.guild_id,
                interaction.command.qualified_name if interaction.command else "/imagemod",
                interaction.user.id,
            )
            raise NotModerator("refusal.not_moderator")
        return True

    @tasks.loop(hours=24)
    async def retention(self) -> None:
        """Strip prompts and URLs from jobs older than LOG_RETENTION_DAYS, once a day."""
        try:
            await self.service.apply_retention(self.bot.settings.log_retention_days)
        except Exception:
            log.exception("log retention failed; it will run again tomorrow")

    # ------------------------------------------------------------------ settings

    @imagemod.command(name="config", description=command_text("cmd.imagemod.config"))
    @app_commands.describe(
        log_channel=command_text("cmd.imagemod.config.log_channel"),
        moderator_role=command_text("cmd.imagemod.config.moderator_role"),
        max_running_per_user=command_text("cmd.imagemod.config.max_running_per_user"),
        max_running_per_server=command_text("cmd.imagemod.config.max_running_per_server"),
        reset=command_text("cmd.imagemod.config.reset"),
        fold_accents=command_text("cmd.imagemod.config.fold_accents"),
        strictness=command_text("cmd.imagemod.config.strictness"),
        output_format=command_text("cmd.imagemod.config.output_format"),
        show_cost=command_text("cmd.imagemod.config.show_cost"),
    )
    @app_commands.choices(
        reset=RESET_CHOICES, strictness=STRICTNESS_CHOICES, output_format=FORMAT_CHOICES
    )
    async def config(
        self,
        interaction: discord.Interaction[LemonBot],
        log_channel: AuditChannel | None = None,
        moderator_role: discord.Role | None = None,
        max_running_per_user: Range[int, 1, MAX_RUNNING] | None = None,
        max_running_per_server: Range[int, 1, MAX_RUNNING] | None = None,
        reset: str | None = None,
        fold_accents: bool | None = None,
        strictness: str | None = None,
        output_format: str | None = None,
        show_cost: bool | None = None,
    ) -> None:
        """Show or change this server's settings.

        The audit channel, moderator role, running-job limits, blocklist accents, the
        gateway's strictness and the default image format.
        """
        guild_id = guild_of(interaction)
        changes, text = config_changes(
            guild_id,
            reset=reset,
            log_channel_id=log_channel.id if log_channel is not None else None,
            moderator_role_id=moderator_role.id if moderator_role is not None else None,
            max_running_per_user=max_running_per_user,
            max_running_per_server=max_running_per_server,
            fold_accents=fold_accents,
            strictness=strictness,
            output_format=output_format,
            show_cost=show_cost,
        )
        locale = interaction.locale
        if text is None:
            await interaction.response.send_message(
                embed=await self._config_embed(guild_id, locale), ephemeral=True
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        _, posted = await self.service.configure(guild_id, interaction.user.id, changes, text)
        reply = Text.of("mod.done", text=text).render(locale)
        if log_channel is not None and not posted:
            cannot = Text.of("mod.cannot_post", channel=mention(log_channel.id, "channel"))
            reply += "\n" + cannot.render(locale)
        await interaction.edit_original_response(
            content=reply, embed=await self._config_embed(guild_id, locale)
        )

    async def _config_embed(self, guild_id: int, locale: discord.Locale) -> discord.Embed:
        settings = self.bot.settings
        guild, rules, blocked, _ = await self.service.overview(guild_id)
        return config_embed(
            guild,
            locale,
            bot_period_limit=settings.daily_image_quota,
            bot_user_cap=settings.max_running_jobs_per_user,
            bot_guild_cap=settings.max_running_jobs_per_guild,
            retention_days=settings.log_retention_days,
            rule_count=len(rules),
            blocked_count=len(blocked),
        )


async def setup(bot: LemonBot) -> None:
    """Load the cog (discord.py extension entry point)."""
    await bot.add_cog(Moderation(bot))
