"""/imagemod block, blocklist and quota: who may generate, which prompts, how much."""

from __future__ import annotations

from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Range

from bot.client import LemonBot
from bot.errors import InvalidRequest
from bot.moderation.blocklist import MAX_PATTERN_LENGTH
from bot.ui.moderation import blocked_users_embed, blocklist_embed, quota_rules_embed
from bot.ui.replies import member_role_ids
from cogs.moderation.common import (
    MAX_LIMIT_UNITS,
    MAX_REASON_LENGTH,
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
        await self.service.block(guild_of(interaction), user.id, reason, interaction.user.id)
        await reply(interaction, f"<@{user.id}> can no longer generate images here.")

    @imagemod.command(name="unblock")
    @app_commands.describe(user="The member to allow again")
    async def unblock(self, interaction: discord.Interaction[LemonBot], user: discord.User) -> None:
        """Let a blocked member use /imagine again."""
        await self.service.unblock(guild_of(interaction), user.id, interaction.user.id)
        await reply(interaction, f"<@{user.id}> can generate images again.")

    @imagemod.command(name="blocked")
    async def blocked(self, interaction: discord.Interaction[LemonBot]) -> None:
        """List the members blocked from generating images."""
        _, _, users, _ = await self.service.overview(guild_of(interaction))
        await interaction.response.send_message(embed=blocked_users_embed(users), ephemeral=True)

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
        rule = await self.service.add_rule(
            guild_of(interaction), pattern, regex, interaction.user.id
        )
        kind = "regular expression" if rule.is_regex else "word"
        await reply(interaction, f"Added blocklist entry #{rule.id} ({kind}).")

    @blocklist.command(name="remove")
    @app_commands.describe(entry="The entry number, from /imagemod blocklist list")
    async def blocklist_remove(
        self, interaction: discord.Interaction[LemonBot], entry: Range[int, 1, None]
    ) -> None:
        """Remove an entry from the prompt blocklist."""
        await self.service.remove_rule(guild_of(interaction), entry, interaction.user.id)
        await reply(interaction, f"Removed blocklist entry #{entry}.")

    @blocklist.command(name="list")
    async def blocklist_list(self, interaction: discord.Interaction[LemonBot]) -> None:
        """Show the prompt blocklist."""
        _, rules, _, _ = await self.service.overview(guild_of(interaction))
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
            guild_of(interaction), "user", user.id, interaction.user.id, f"<@{user.id}>"
        )
        await reply(interaction, f"Done: {text}")

    @quota.command(name="clear-role")
    @app_commands.describe(role="The role")
    async def quota_clear_role(
        self, interaction: discord.Interaction[LemonBot], role: discord.Role
    ) -> None:
        """Remove a role's quota."""
        text = await self.service.clear_quota_rule(
            guild_of(interaction), "role", role.id, interaction.user.id, f"<@&{role.id}>"
        )
        await reply(interaction, f"Done: {text}")

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
            guild_of(interaction), interaction.user.id, changes, self.bot.settings.daily_image_quota
        )
        await reply(interaction, f"Done: {text}")

    @quota.command(name="show")
    @app_commands.describe(user="Also show this member's limit and usage")
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
            guild_of(interaction), kind, target_id, units, interaction.user.id, mention
        )
        await reply(interaction, f"Done: {text}")
