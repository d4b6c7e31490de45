"""/imagemod budget: a server's dollar budget per day, week or month (bot.billing)."""

from __future__ import annotations

import io

import discord
from discord import app_commands
from discord.app_commands import Range

from bot.billing.budgets import MAX_DOLLARS, MIN_DOLLARS, typed_micros
from bot.billing.usage import usage_chart
from bot.client import LemonBot
from bot.i18n import Text, command_text
from bot.ui.budgets import USAGE_CHART, budget_embed, usage_embed
from cogs.moderation.common import (
    PERIOD_CHOICES,
    CommandsBase,
    budget,
    guild_of,
    imagemod,
    reply,
)


class BudgetCommands(CommandsBase):
    """``/imagemod budget set | clear | show``."""

    @budget.command(name="set", description=command_text("cmd.imagemod.budget.set"))
    @app_commands.describe(
        amount=command_text("cmd.imagemod.budget.amount"),
        period=command_text("cmd.imagemod.budget.period"),
        member_cap=command_text("cmd.imagemod.budget.member_cap"),
        allow_unpriced=command_text("cmd.imagemod.budget.allow_unpriced"),
    )
    @app_commands.choices(period=PERIOD_CHOICES)
    async def budget_set(
        self,
        interaction: discord.Interaction[LemonBot],
        amount: Range[float, MIN_DOLLARS, MAX_DOLLARS],
        period: str,
        member_cap: Range[float, MIN_DOLLARS, MAX_DOLLARS] | None = None,
        allow_unpriced: bool = False,
    ) -> None:
        """Set the server's image budget in dollars: no request is sent that could pass it."""
        guild_id = guild_of(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        await self.bot.billing.set_budget(
            guild_id,
            interaction.user.id,
            amount=typed_micros(amount),
            period=period,
            member_cap=typed_micros(member_cap) if member_cap is not None else None,
            allow_unpriced=allow_unpriced,
        )
        standing = await self.bot.billing.standing(guild_id)
        await interaction.edit_original_response(
            content=Text("budget.set_done").render(interaction.locale),
            embed=budget_embed(standing, interaction.locale),
        )

    @budget.command(name="role", description=command_text("cmd.imagemod.budget.role"))
    @app_commands.describe(
        role=command_text("cmd.imagemod.budget.the_role"),
        amount=command_text("cmd.imagemod.budget.role_amount"),
    )
    async def budget_role(
        self,
        interaction: discord.Interaction[LemonBot],
        role: discord.Role,
        amount: Range[float, 0.0, MAX_DOLLARS],
    ) -> None:
        """Give a role its own dollar cap per member (its most generous role wins)."""
        await self.bot.billing.set_role_cap(
            guild_of(interaction), interaction.user.id, role.id, typed_micros(amount)
        )
        await reply(interaction, Text("budget.role_cap_set"))

    @budget.command(name="clear-role", description=command_text("cmd.imagemod.budget.clear_role"))
    @app_commands.describe(role=command_text("cmd.imagemod.budget.the_role"))
    async def budget_clear_role(
        self, interaction: discord.Interaction[LemonBot], role: discord.Role
    ) -> None:
        """Remove a role's dollar cap (the budget's member cap applies again)."""
        cleared = await self.bot.billing.clear_role_cap(
            guild_of(interaction), interaction.user.id, role.id
        )
        await reply(
            interaction, Text("budget.role_cap_cleared" if cleared else "budget.no_role_cap")
        )

    @budget.command(name="clear", description=command_text("cmd.imagemod.budget.clear"))
    async def budget_clear(self, interaction: discord.Interaction[LemonBot]) -> None:
        """Remove the server's dollar budget (the unit quotas still apply)."""
        cleared = await self.bot.billing.clear_budget(guild_of(interaction), interaction.user.id)
        await reply(interaction, Text("budget.cleared" if cleared else "budget.none"))

    @budget.command(name="show", description=command_text("cmd.imagemod.budget.show"))
    async def budget_show(self, interaction: discord.Interaction[LemonBot]) -> None:
        """Show the server's budget, what it spent this period and what is left."""
        standing = await self.bot.billing.standing(guild_of(interaction))
        await interaction.response.send_message(
            embed=budget_embed(standing, interaction.locale), ephemeral=True
        )


class UsageCommands(CommandsBase):
    """``/imagemod usage [period]``."""

    @imagemod.command(name="usage", description=command_text("cmd.imagemod.usage"))
    @app_commands.describe(period=command_text("cmd.imagemod.usage.period"))
    @app_commands.choices(period=PERIOD_CHOICES)
    async def usage(
        self, interaction: discord.Interaction[LemonBot], period: str | None = None
    ) -> None:
        """Show what the server spent this period, per member and model, with a chart."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        report = await self.bot.billing.usage(guild_of(interaction), period)
        chart = discord.File(io.BytesIO(await usage_chart(report)), filename=USAGE_CHART)
        await interaction.edit_original_response(
            embed=usage_embed(report, interaction.locale), attachments=[chart]
        )
