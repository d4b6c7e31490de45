"""Parts shared by the /imagemod modules: the command groups, choices, small helpers."""

from __future__ import annotations

import discord
from discord import app_commands
from discord.app_commands import Choice
from discord.ext import commands

from bot.client import LemonBot
from bot.i18n import Renderable, command_text
from bot.moderation import ModerationService
from bot.quota import PERIODS
from bot.store import JOB_STATES

STATE_CHOICES = [
    Choice(name=command_text(f"state_name.{state}"), value=state) for state in JOB_STATES
]
PERIOD_CHOICES = [
    Choice(name=command_text(f"choice.per_{period}"), value=period) for period in PERIODS
]

imagemod = app_commands.Group(
    name="imagemod",
    description=command_text("cmd.imagemod"),
    guild_only=True,
    default_permissions=discord.Permissions(manage_messages=True),
)
blocklist = app_commands.Group(
    name="blocklist", description=command_text("cmd.imagemod.blocklist"), parent=imagemod
)
quota = app_commands.Group(
    name="quota", description=command_text("cmd.imagemod.quota"), parent=imagemod
)
budget = app_commands.Group(
    name="budget", description=command_text("cmd.imagemod.budget"), parent=imagemod
)


class CommandsBase(commands.Cog):
    """What every /imagemod mixin relies on: the bot and the moderation service.

    The mixins are Cog subclasses so that their commands type-check; only the
    assembled :class:`~cogs.moderation.Moderation` is ever added to the bot.
    """

    bot: LemonBot
    service: ModerationService


def guild_of(interaction: discord.Interaction[LemonBot]) -> int:
    """Return the server of an /imagemod interaction (the group is guild-only)."""
    assert interaction.guild_id is not None
    return interaction.guild_id


async def reply(interaction: discord.Interaction[LemonBot], text: Renderable) -> None:
    """Confirm privately, in the moderator's language, mentioning nobody."""
    await interaction.response.send_message(
        text.render(interaction.locale),
        ephemeral=True,
        allowed_mentions=discord.AllowedMentions.none(),
    )
