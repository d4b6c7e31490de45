"""/imagemod block, blocklist and quota: who may generate, which prompts, how much."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import Range

from bot.client import LemonBot
from bot.errors import InvalidRequest
from bot.i18n import Text, command_text
from bot.moderation.blocklist import MAX_GUILD_PROGRAM_SIZE, MAX_PATTERN_LENGTH
from bot.moderation.config import (
    MAX_LIMIT_UNITS,
    MAX_REASON_LENGTH,
    default_quota_changes,
    rule_units,
)
from bot.ui.format import mention
from bot.ui.replies import member_role_ids
from bot.ui.rules import blocked_users_embed, blocklist_embed, quota_rules_embed
from cogs.moderation.common import (
    PERIOD_CHOICES,
    CommandsBase,
    blocklist,
    guild_of,
    imagemod,
    quota,
    reply,
)


class RuleCommands(CommandsBase):
    """Blocked members, the prompt blocklist, and quota rules."""

    # ------------------------------------------------------------------ controls

    @imagemod.command(name="block", description=command_text("cmd.imagemod.block"))
    @app_commands.describe(
        user=command_text("cmd.imagemod.block.user"),
        reason=command_text("cmd.imagemod.block.reason"),
    )
    async def block(
        self,
        interaction: discord.Interaction[LemonBot],
        user: discord.User,
        reason: Range[str, 1, MAX_REASON_LENGTH] | None = None,
    ) -> None:
        """Stop a member from using /imagine in this server."""
        if user.bot:
            raise InvalidRequest("refusal.block_bot")
        await self.service.block(guild_of(interaction), user.id, reason, interaction.user.id)
        await reply(interaction, Text.of("mod.blocked", user=mention(user.id)))

    @imagemod.command(name="unblock", description=command_text("cmd.imagemod.unblock"))
    @app_commands.describe(user=command_text("cmd.imagemod.unblock.user"))
    async def unblock(self, interaction: discord.Interaction[LemonBot], user: discord.User) -> None:
        """Let a blocked member use /imagine again."""
        await self.service.unblock(guild_of(interaction), user.id, interaction.user.id)
        await reply(interaction, Text.of("mod.unblocked", user=mention(user.id)))

    @imagemod.command(name="blocked", description=command_text("cmd.imagemod.blocked"))
    async def blocked(self, interaction: discord.Interaction[LemonBot]) -> None:
        """List the members blocked from generating images."""
        _, _, users, _ = await self.service.overview(guild_of(interaction))
        await interaction.response.send_message(
            embed=blocked_users_embed(users, interaction.locale), ephemeral=True
        )

    # ------------------------------------------------------------------ blocklist

    @blocklist.command(name="add", description=command_text("cmd.imagemod.blocklist.add"))
    @app_commands.describe(
        pattern=command_text("cmd.imagemod.blocklist.add.pattern"),
        regex=command_text("cmd.imagemod.blocklist.add.regex"),
    )
    async def blocklist_add(
        self,
        interaction: discord.Interaction[LemonBot],
        pattern: Range[str, 1, MAX_PATTERN_LENGTH],
        regex: bool = False,
    ) -> None:
        """Refuse prompts that contain a word or match a regular expression."""
        rule = await self.service.add_rule(
            guild_of(interaction), pattern, regex, interaction.user.id
        )
        kind = Text("blocklist.regex_long" if rule.is_regex else "blocklist.word")
        await reply(interaction, Text.of("mod.rule_added", id=rule.id, kind=kind))

    @blocklist.command(name="remove", description=command_text("cmd.imagemod.blocklist.remove"))
    @app_commands.describe(entry=command_text("cmd.imagemod.blocklist.remove.entry"))
    async def blocklist_remove(
        self, interaction: discord.Interaction[LemonBot], entry: Range[int, 1, None]
    ) -> None:
        """Remove an entry from the prompt blocklist."""
        await self.service.remove_rule(guild_of(interaction), entry, interaction.user.id)
        await reply(interaction, Text.of("mod.rule_removed", id=entry))

    @blocklist.command(name="list", description=command_text("cmd.imagemod.blocklist.list"))
    async def blocklist_list(self, interaction: discord.Interaction[LemonBot]) -> None:
        """Show the prompt blocklist, flagging entries the limits leave out."""
        rules, applied = await self.service.blocklist(guild_of(interaction))
        embed = blocklist_embed(
            rules,
            interaction.locale,
            skipped=applied.skipped,
            cost=(applied.cost, MAX_GUILD_PROGRAM_SIZE),
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    # ------------------------------------------------------------------ quotas

    @quota.command(name="user", description=command_text("cmd.imagemod.quota.user"))
    @app_commands.describe(
        user=command_text("cmd.imagemod.quota.member"),
        limit=command_text("cmd.imagemod.quota.limit"),
        unlimited=command_text("cmd.imagemod.quota.unlimited"),
    )
    async def quota_user(
        self,
        interaction: discord.Interaction[LemonBot],
        user: discord.User,
        limit: Range[int, 0, MAX_LIMIT_UNITS] | None = None,
        unlimited: bool = False,
    ) -> None:
        """Give one member their own quota (overrides roles and the default)."""
        await self._set_rule(interaction, "user", user.id, limit, unlimited)

    @quota.command(name="role", description=command_text("cmd.imagemod.quota.role"))
    @app_commands.describe(
        role=command_text("cmd.imagemod.quota.the_role"),
        limit=command_text("cmd.imagemod.quota.limit"),
        unlimited=command_text("cmd.imagemod.quota.unlimited"),
    )
    async def quota_role(
        self,
        interaction: discord.Interaction[LemonBot],
        role: discord.Role,
        limit: Range[int, 0, MAX_LIMIT_UNITS] | None = None,
        unlimited: bool = False,
    ) -> None:
        """Set a role's quota (a member gets the most generous of their roles)."""
        await self._set_rule(interaction, "role", role.id, limit, unlimited)

    @quota.command(name="clear-user", description=command_text("cmd.imagemod.quota.clear_user"))
    @app_commands.describe(user=command_text("cmd.imagemod.quota.member"))
    async def quota_clear_user(
        self, interaction: discord.Interaction[LemonBot], user: discord.User
    ) -> None:
        """Remove a member's own quota; their roles or the default apply again."""
        text = await self.service.clear_quota_rule(
            guild_of(interaction), "user", user.id, interaction.user.id
        )
        await reply(interaction, Text.of("mod.done", text=text))

    @quota.command(name="clear-role", description=command_text("cmd.imagemod.quota.clear_role"))
    @app_commands.describe(role=command_text("cmd.imagemod.quota.the_role"))
    async def quota_clear_role(
        self, interaction: discord.Interaction[LemonBot], role: discord.Role
    ) -> None:
        """Remove a role's quota."""
        text = await self.service.clear_quota_rule(
            guild_of(interaction), "role", role.id, interaction.user.id
        )
        await reply(interaction, Text.of("mod.done", text=text))

    @quota.command(name="default", description=command_text("cmd.imagemod.quota.default"))
    @app_commands.describe(
        limit=command_text("cmd.imagemod.quota.default.limit"),
        period=command_text("cmd.imagemod.quota.default.period"),
        reset=command_text("cmd.imagemod.quota.default.reset"),
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
        changes = default_quota_changes(limit, period, reset)
        text = await self.service.set_default_quota(
            guild_of(interaction), interaction.user.id, changes, self.bot.settings.daily_image_quota
        )
        await reply(interaction, Text.of("mod.done", text=text))

    @quota.command(name="show", description=command_text("cmd.imagemod.quota.show"))
    @app_commands.describe(user=command_text("cmd.imagemod.quota.show.user"))
    async def quota_show(
        self, interaction: discord.Interaction[LemonBot], user: discord.User | None = None
    ) -> None:
        """Show the quota rules, and a member's effective limit and usage."""
        guild_id = guild_of(interaction)
        settings, _, _, rules = await self.service.overview(guild_id)
        member = None
        if user is not None:
            status = await self.bot.quota.status(guild_id, user.id, member_role_ids(user))
            member = (user.id, status)
        embed = quota_rules_embed(
            rules, settings, self.bot.settings.daily_image_quota, interaction.locale, member
        )
        await interaction.response.send_message(embed=embed, ephemeral=True)

    async def _set_rule(
        self,
        interaction: discord.Interaction[LemonBot],
        kind: str,
        target_id: int,
        limit: int | None,
        unlimited: bool,
    ) -> None:
        units = rule_units(limit, unlimited)
        text = await self.service.set_quota_rule(
            guild_of(interaction), kind, target_id, units, interaction.user.id
        )
        await reply(interaction, Text.of("mod.done", text=text))
