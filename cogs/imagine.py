"""/imagine: turn a prompt into images. A thin adapter over ``bot.jobs``."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice, Range
from discord.ext import commands

from bot.catalog import (
    BACKGROUNDS,
    DALLE_QUALITIES,
    GPT_QUALITIES,
    MAX_COMPRESSION,
    MAX_COUNT,
    MAX_NEGATIVE_PROMPT_LENGTH,
    MAX_PROMPT_LENGTH,
    MAX_SEED,
    OUTPUT_FORMATS,
    ImagineOptions,
    unit_weight,
)
from bot.client import LemonBot
from bot.i18n import Text, command_text
from bot.jobs import JobRequest
from bot.ui.cards import quota_embed
from bot.ui.guide import model_label
from bot.ui.replies import member_role_ids
from cogs.submit import request_for, submit, submit_deferred

log = logging.getLogger(__name__)

AUTOCOMPLETE_WAIT_SECONDS = 1.5
CHOICE_NAME_LIMIT = 100
# ratio -> its shape, named in the choice (choice.ratio_<shape>)
RATIO_SHAPES = {
    "1:1": "square",
    "16:9": "landscape",
    "9:16": "portrait",
    "3:2": "landscape",
    "2:3": "portrait",
    "4:3": "landscape",
    "3:4": "portrait",
    "21:9": "wide",
}
RATIO_CHOICES = [
    Choice(name=command_text(f"choice.ratio_{shape}", ratio=ratio), value=ratio)
    for ratio, shape in RATIO_SHAPES.items()
]
RESOLUTION_CHOICES = [
    Choice(name=command_text("choice.resolution", resolution="1k"), value="1k"),
    Choice(name=command_text("choice.resolution", resolution="2k"), value="2k"),
    Choice(name=command_text("choice.resolution_4k"), value="4k"),
]
QUALITY_CHOICES = [
    Choice(name=command_text("choice.quality_gpt", quality=Text(f"quality.{q}")), value=q)
    for q in GPT_QUALITIES
] + [
    Choice(name=command_text("choice.quality_dalle", quality=Text(f"quality.{q}")), value=q)
    for q in DALLE_QUALITIES
]
STYLE_CHOICES = [
    Choice(name=command_text("choice.style_vivid"), value="vivid"),
    Choice(name=command_text("choice.style_natural"), value="natural"),
]
BACKGROUND_CHOICES = [
    Choice(name=command_text(f"choice.background_{b}"), value=b) for b in BACKGROUNDS
]
FORMAT_CHOICES = [Choice(name=command_text(f"choice.format_{f}"), value=f) for f in OUTPUT_FORMATS]


class Imagine(commands.Cog):
    """Image generation commands."""

    def __init__(self, bot: LemonBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        """Handle Cancel presses (also on cards sent before a restart)."""
        self.bot.button_handlers["cancel"] = self.cancel_pressed

    async def cog_unload(self) -> None:
        """Stop handling Cancel presses."""
        self.bot.button_handlers.pop("cancel", None)

    async def cancel_pressed(self, interaction: discord.Interaction[Any], job_id: int) -> None:
        """Cancel a waiting job (requester or moderator); the card is edited as an outcome."""
        assert interaction.guild_id is not None
        moderator = await self.bot.members.moderates(interaction, interaction.guild_id)
        await interaction.response.defer()  # answer within 3 s; the card is edited below
        await self.bot.jobs.cancel(
            job_id,
            guild_id=interaction.guild_id,
            by_user_id=interaction.user.id,
            moderator=moderator,
        )

    @app_commands.command(name="imagine", description=command_text("cmd.imagine"))
    @app_commands.guild_only()
    @app_commands.describe(
        prompt=command_text("cmd.imagine.prompt"),
        model=command_text("cmd.imagine.model"),
        ratio=command_text("cmd.imagine.ratio"),
        resolution=command_text("cmd.imagine.resolution"),
        quality=command_text("cmd.imagine.quality"),
        count=command_text("cmd.imagine.count"),
        style=command_text("cmd.imagine.style"),
        image=command_text("cmd.imagine.image"),
        image2=command_text("cmd.imagine.image2"),
        image3=command_text("cmd.imagine.image3"),
        background=command_text("cmd.imagine.background"),
        output_format=command_text("cmd.imagine.output_format"),
        compression=command_text("cmd.imagine.compression"),
        negative_prompt=command_text("cmd.imagine.negative_prompt"),
        seed=command_text("cmd.imagine.seed"),
    )
    @app_commands.choices(
        ratio=RATIO_CHOICES,
        resolution=RESOLUTION_CHOICES,
        quality=QUALITY_CHOICES,
        style=STYLE_CHOICES,
        background=BACKGROUND_CHOICES,
        output_format=FORMAT_CHOICES,
    )
    async def imagine(
        self,
        interaction: discord.Interaction[LemonBot],
        prompt: Range[str, 1, MAX_PROMPT_LENGTH],
        model: str | None = None,
        ratio: str | None = None,
        resolution: str | None = None,
        quality: str | None = None,
        count: Range[int, 1, MAX_COUNT] = 1,
        style: str | None = None,
        image: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        background: str | None = None,
        output_format: str | None = None,
        compression: Range[int, 0, MAX_COMPRESSION] | None = None,
        negative_prompt: Range[str, 1, MAX_NEGATIVE_PROMPT_LENGTH] | None = None,
        seed: Range[int, 0, MAX_SEED] | None = None,
    ) -> None:
        """Generate images from a text prompt, optionally starting from reference images.

        The output options (background, format, compression, negative prompt, seed) are
        checked against what the chosen model takes, before anything is reserved.
        """
        options = ImagineOptions(
            prompt=prompt,
            model=model or self.bot.settings.default_model,
            ratio=ratio,
            resolution=resolution,
            quality=quality,
            count=count,
            style=style,
            background=background,
            output_format=output_format,
            compression=compression,
            negative_prompt=negative_prompt,
            seed=seed,
        )
        references = [a for a in (image, image2, image3) if a is not None]
        if not references:  # a Refusal is answered ephemerally by the error router
            await submit(self.bot, interaction, request_for(interaction, options))
            return
        # What needs no download is refused at once, privately, as the first answer: the
        # model, the count, and what Discord declares of each file (its type and size).
        await self.bot.jobs.check(replace(options, images=len(references)), interaction.guild_id)
        self.bot.references.check_declared(references)

        async def build() -> JobRequest:
            inputs = await self.bot.references.attachments(references)
            return request_for(interaction, options, inputs=inputs)

        await submit_deferred(self.bot, interaction, build)

    @app_commands.command(name="quota", description=command_text("cmd.quota"))
    @app_commands.guild_only()
    async def quota(self, interaction: discord.Interaction[LemonBot]) -> None:
        """Show your image quota, when it resets, and what each model costs."""
        assert interaction.guild_id is not None
        guild_id, user_id = interaction.guild_id, interaction.user.id
        status = await self.bot.quota.status(guild_id, user_id, member_role_ids(interaction.user))
        running, queued = await self.bot.jobs.activity(guild_id, user_id)
        weights = self.bot.settings.model_weights
        costs = [(name, unit_weight(name, None, weights)) for name in self.bot.catalog.names()]
        budget = await self.bot.billing.member_standing(guild_id, user_id)
        embed = quota_embed(status, running, queued, costs, interaction.locale, budget)
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @imagine.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction[LemonBot], current: str
    ) -> list[Choice[str]]:
        """Suggest the gateway's recommended image models, from the cached list."""
        catalog = self.bot.catalog
        if not catalog.loaded:
            await catalog.ensure_loaded(AUTOCOMPLETE_WAIT_SECONDS)
        return [
            Choice(name=model_label(catalog.spec(name), interaction.locale), value=name)
            for name in catalog.suggest(current)
            if len(name) <= CHOICE_NAME_LIMIT  # Discord refuses longer choice values
        ]


async def setup(bot: LemonBot) -> None:
    """Load the cog (discord.py extension entry point)."""
    await bot.add_cog(Imagine(bot))
