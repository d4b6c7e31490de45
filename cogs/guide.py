"""/help and /models: a short guide, and what each recommended image model offers.

Both answer privately and at once: /models reads the cached model list (never the
gateway while the member waits) and pages it when it is long.
"""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import family_of, unit_weight
from bot.client import LemonBot
from bot.i18n import command_text, t
from bot.ui.guide import ModelEntry, help_embed, model_pages
from bot.ui.views import PageView

log = logging.getLogger(__name__)


class Guide(commands.Cog):
    """The guide and the model list."""

    def __init__(self, bot: LemonBot) -> None:
        self.bot = bot

    @app_commands.command(name="help", description=command_text("cmd.help"))
    @app_commands.guild_only()
    async def help(self, interaction: discord.Interaction[LemonBot]) -> None:
        """Show how to make, edit and remix images, the quota, and where moderators look."""
        await interaction.response.send_message(
            embed=help_embed(interaction.locale), ephemeral=True
        )

    @app_commands.command(name="models", description=command_text("cmd.models"))
    @app_commands.guild_only()
    async def models(self, interaction: discord.Interaction[LemonBot]) -> None:
        """List the recommended image models: what each accepts, its cost and price."""
        catalog = self.bot.catalog
        lang = interaction.locale
        models = catalog.models()  # the cached list; a stale one is refreshed behind it
        if not models:
            key = "models.not_loaded" if not catalog.loaded else "models.empty"
            await interaction.response.send_message(t(key, lang), ephemeral=True)
            return
        weights = self.bot.settings.model_weights
        entries = [
            ModelEntry(
                model=info.id,
                family=family_of(info.id),
                image_input=catalog.image_input(info.id),
                weight=unit_weight(info.id, None, weights),
                pricing=info.pricing,
                spec=catalog.spec(info.id),
            )
            for info in models
        ]
        pages = model_pages(entries, lang)

        async def fetch(page: int) -> tuple[str, list[discord.Embed], bool]:
            return "", [pages[page]], page + 1 < len(pages)

        if len(pages) == 1:
            await interaction.response.send_message(embed=pages[0], ephemeral=True)
            return
        view = PageView(
            fetch, interaction.user.id, interaction, True, not_owner="refusal.not_list_owner"
        )
        await interaction.response.send_message(embed=pages[0], view=view, ephemeral=True)


async def setup(bot: LemonBot) -> None:
    """Load the cog (discord.py extension entry point)."""
    await bot.add_cog(Guide(bot))
