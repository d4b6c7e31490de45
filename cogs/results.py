"""Acting on results: Reroll, Edit, Details, Delete, and the "Remix with lemonbot" menu.

Thin adapters. The buttons are persistent (their custom_id carries the job, see
:mod:`bot.ui.views`), so they work after a restart and on old messages; every press is
checked again at run time. A new job made from a result goes through the same intake as
/imagine: the blocklist, the member's block, the quota, the caps and the queue.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import MAX_REFERENCE_IMAGES, ImagineOptions, edit_options, rerolled
from bot.client import LemonBot
from bot.errors import InvalidRequest, NotAllowed
from bot.i18n import command_text, t
from bot.jobs import JobRequest
from bot.jobs.references import job_of, message_images
from bot.store import Job
from bot.ui.details import details_messages
from bot.ui.modals import (
    EDIT_MODAL,
    MODEL_FIELD,
    PROMPT_FIELD,
    RATIO_FIELD,
    REMIX_MODAL,
    edit_modal,
    modal_values,
    remix_modal,
    seed_field,
)
from bot.ui.replies import report_error, send_ephemeral
from cogs.submit import request_for, submit, submit_deferred

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]


class Results(commands.Cog):
    """Buttons on delivered results, and Remix on any message with an image."""

    def __init__(self, bot: LemonBot) -> None:
        self.bot = bot
        self._menu = app_commands.ContextMenu(
            name=command_text("cmd.remix"),
            callback=self.remix,
            allowed_contexts=app_commands.AppCommandContext(guild=True),
        )

    async def cog_load(self) -> None:
        """Handle the result buttons and add the Remix message command."""
        handlers = self.bot.button_handlers
        handlers.update(
            reroll=self.reroll,
            edit=self.edit,
            editpick=self.edit_pick,
            details=self.details,
            delete=self.delete,
        )
        self.bot.tree.add_command(self._menu)

    async def cog_unload(self) -> None:
        """Stop handling them."""
        for action in ("reroll", "edit", "editpick", "details", "delete"):
            self.bot.button_handlers.pop(action, None)
        self.bot.tree.remove_command(self._menu.name, type=self._menu.type)

    # ------------------------------------------------------------------ buttons

    async def reroll(self, interaction: Interaction, job_id: int) -> None:
        """Make the same request again, as a new job with its own charge."""
        job, inputs = await self.bot.jobs.source(job_id, interaction.guild_id)
        options = rerolled(ImagineOptions(**job.options))
        request = request_for(
            interaction,
            options,
            inputs=inputs,
            parent_id=job.id,
            kind="reroll",
            guild_id=job.guild_id,
        )
        await submit(self.bot, interaction, request)

    async def edit(self, interaction: Interaction, job_id: int) -> None:
        """Open the Edit modal for the result's (only) image."""
        await self._open_edit(interaction, job_id, 1)

    async def edit_pick(self, interaction: Interaction, job_id: int) -> None:
        """Open the Edit modal for the image chosen in the select."""
        data: dict[str, Any] = dict(interaction.data or {})
        values = data.get("values") or ["1"]
        await self._open_edit(interaction, job_id, int(values[0]))

    async def _open_edit(self, interaction: Interaction, job_id: int, image: int) -> None:
        job, _ = await self.bot.jobs.source(job_id, interaction.guild_id, inputs=False)
        # A blocked member, or one no longer in the server (a press in a DM), is told
        # now, not after filling the form in.
        await self.bot.moderation.check_member(job.guild_id, interaction.user.id)
        await self.bot.members.of(interaction, job.guild_id)
        seed = job.options.get("seed")
        await interaction.response.send_modal(
            edit_modal(
                job.id, image, job.prompt, job.options.get("ratio"), interaction.locale, seed=seed
            )
        )

    async def details(self, interaction: Interaction, job_id: int) -> None:
        """Show the result's details privately."""
        job, _ = await self.bot.jobs.source(job_id, interaction.guild_id, inputs=False)
        show_cost = await self._sees_cost(interaction, job)
        first, *more = details_messages(job, interaction.locale, show_cost=show_cost)
        await interaction.response.send_message(embeds=first, ephemeral=True)
        for embeds in more:
            await interaction.followup.send(embeds=embeds, ephemeral=True)

    async def delete(self, interaction: Interaction, job_id: int) -> None:
        """Delete the result, for its requester or a moderator; recorded like /imagemod."""
        job, _ = await self.bot.jobs.source(job_id, interaction.guild_id, inputs=False)
        if interaction.user.id != job.user_id and not await self._moderates(interaction, job):
            raise NotAllowed("refusal.not_your_image")
        job = self.bot.moderation.deletable(job)
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await self.bot.moderation.delete_image(job, interaction.user.id)
        await interaction.edit_original_response(content=reply.render(interaction.locale))

    async def _sees_cost(self, interaction: Interaction, job: Job) -> bool:
        """Moderators see what a job cost; its requester too when the server allows it."""
        if interaction.user.id == job.user_id and await self.bot.moderation.cost_visible(
            job.guild_id
        ):
            return True
        return await self._moderates(interaction, job)

    async def _moderates(self, interaction: Interaction, job: Job) -> bool:
        if interaction.guild_id != job.guild_id:
            return False
        return await self.bot.members.moderates(interaction, job.guild_id)

    # ------------------------------------------------------------------ modals

    @commands.Cog.listener()
    async def on_interaction(self, interaction: Interaction) -> None:
        """Route submits of the Edit and Remix modals (by custom_id, see bot.ui.modals)."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        data: dict[str, Any] = dict(interaction.data or {})
        custom_id = str(data.get("custom_id", ""))
        try:
            if custom_id.startswith(EDIT_MODAL):
                job_id, image = (int(part) for part in custom_id[len(EDIT_MODAL) :].split(":"))
                await self._edit_submitted(interaction, job_id, image)
            elif custom_id.startswith(REMIX_MODAL):
                await self._remix_submitted(interaction, custom_id[len(REMIX_MODAL) :])
        except Exception as exc:
            await report_error(interaction, exc, f"modal {custom_id[:40]}")

    async def _edit_submitted(self, interaction: Interaction, job_id: int, image: int) -> None:
        job, _ = await self.bot.jobs.source(job_id, interaction.guild_id, inputs=False)
        values = modal_values(interaction.data)
        options = edit_options(
            job.model,
            job.options,
            values.get(PROMPT_FIELD, ""),
            values.get(RATIO_FIELD) or None,
            takes_images=self.bot.jobs.takes_images,
            fallback=self.bot.settings.default_edit_model,
            seed=seed_field(values),
        )
        options = self.bot.jobs.keep_taken(options)  # what the Edit's model takes of them
        # before anything is fetched
        await self.bot.jobs.check(replace(options, images=1), interaction.guild_id)

        async def build() -> JobRequest:
            reference = await self.bot.references.result_image(interaction.message, job, image)
            return request_for(
                interaction,
                options,
                inputs=[reference],
                parent_id=job.id,
                kind="edit",
                guild_id=job.guild_id,
            )

        await submit_deferred(self.bot, interaction, build)

    # ------------------------------------------------------------------ remix

    async def remix(self, interaction: Interaction, message: discord.Message) -> None:
        """Remix with lemonbot: start from this message's images.

        Its images are its attachments, the images of its embeds (a link's preview, a
        result card's image) and, on a lemonbot result, the images delivered as links.
        """
        assert interaction.guild_id is not None  # the menu is offered in servers only
        source = await self.bot.jobs.parent(job_of(message), interaction.guild_id)
        parent = source.id if source else None
        # Only the result's URLs (a result delivered as links): the modal must open
        # within Discord's 3 s, so no reference bytes are read here.
        images = message_images(message, source.result_urls if source else [])
        if not images:
            raise InvalidRequest("refusal.no_image_to_remix")
        await self.bot.moderation.check_member(interaction.guild_id, interaction.user.id)
        token = self.bot.references.hold_remix(images, parent)
        seed = source.options.get("seed") if source else None
        await interaction.response.send_modal(
            remix_modal(token, self.bot.settings.default_edit_model, interaction.locale, seed=seed)
        )

    async def _remix_submitted(self, interaction: Interaction, token: str) -> None:
        """Make the Remix: with the message's first images, as many as the model takes.

        Unlike /imagine, where each attachment was the member's choice, a message's
        images come as they are: a gallery of four stays remixable with a model that
        takes one. The member is told privately which were left out.
        """
        pending = self.bot.references.take_remix(token)
        values = modal_values(interaction.data)
        model = values.get(MODEL_FIELD, "").strip() or self.bot.settings.default_edit_model
        takes = min(self.bot.jobs.image_input(model).max_images, MAX_REFERENCE_IMAGES)
        sources = pending.images[: max(1, takes)]
        options = ImagineOptions(
            prompt=values.get(PROMPT_FIELD, ""), model=model, seed=seed_field(values)
        )
        options = self.bot.jobs.keep_taken(options)
        await self.bot.jobs.check(replace(options, images=len(sources)), interaction.guild_id)

        async def build() -> JobRequest:
            inputs = await self.bot.references.sources(sources)
            return request_for(
                interaction, options, inputs=inputs, parent_id=pending.parent_id, kind="remix"
            )

        await submit_deferred(self.bot, interaction, build)  # a refusal raises
        left_out = len(pending.images) - len(sources)
        if left_out:
            note = t(
                "remix.images_left_out",
                interaction.locale,
                count=len(sources),
                total=len(pending.images),
                model=f"`{model}`",
            )
            await send_ephemeral(interaction, note)


async def setup(bot: LemonBot) -> None:
    """Load the cog (discord.py extension entry point)."""
    await bot.add_cog(Results(bot))
