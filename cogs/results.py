"""Acting on results: Reroll, Edit, Details, Delete, and the "Remix with lemonbot" menu.

Thin adapters. The buttons are persistent (their custom_id carries the job, see
:mod:`bot.ui.views`), so they work after a restart and on old messages; every press is
checked again at run time. A new job made from a result goes through the same intake as
/imagine: the blocklist, the member's block, the quota, the caps and the queue.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.catalog import MAX_REFERENCE_IMAGES, ImagineOptions
from bot.client import LemonBot
from bot.errors import InvalidRequest, NotAllowed
from bot.i18n import Text, command_text, t
from bot.jobs import JobRequest
from bot.jobs.parts import file_name
from bot.jobs.references import Source, Unreadable, read, read_attachments, read_sources
from bot.store import InputImage, Job, StoredImage
from bot.ui.cards import details_messages, footer_job
from bot.ui.modals import (
    EDIT_MODAL,
    MODEL_FIELD,
    PROMPT_FIELD,
    RATIO_FIELD,
    REMIX_MODAL,
    edit_modal,
    modal_values,
    remix_modal,
)
from bot.ui.replies import report_error, send_ephemeral
from cogs.submit import request_for, submit, submit_deferred

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]
REMIX_TTL_SECONDS = 15 * 60
MAX_PENDING_REMIXES = 500


@dataclass
class PendingRemix:
    """A Remix form on its way to the member: the message's images, kept until submitted."""

    images: list[Source]
    parent_id: int | None
    created: float = field(default_factory=time.monotonic)


class Results(commands.Cog):
    """Buttons on delivered results, and Remix on any message with an image."""

    def __init__(self, bot: LemonBot) -> None:
        self.bot = bot
        self._remixes: dict[str, PendingRemix] = {}
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
        options = replace(ImagineOptions(**job.options), images=0)
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
        await interaction.response.send_modal(
            edit_modal(job.id, image, job.prompt, job.options.get("ratio"), interaction.locale)
        )

    async def details(self, interaction: Interaction, job_id: int) -> None:
        """Show the result's details privately."""
        job, _ = await self.bot.jobs.source(job_id, interaction.guild_id, inputs=False)
        first, *more = details_messages(job, interaction.locale)  # a long revised prompt
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
        reply = await self.bot.moderation.delete_image(
            job, interaction.user.id, self.bot.delivery.remove
        )
        await interaction.edit_original_response(content=reply.render(interaction.locale))

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
        model, replaced = job.model, None
        if not self.bot.jobs.takes_images(job.model):
            model, replaced = self.bot.settings.default_edit_model, job.model
        options = ImagineOptions(
            prompt=values.get(PROMPT_FIELD, ""),
            model=model,
            ratio=values.get(RATIO_FIELD) or None,
            resolution=job.options.get("resolution") if not replaced else None,
            quality=job.options.get("quality") if not replaced else None,
            replaced_model=replaced,
        )
        await self.bot.jobs.check(replace(options, images=1))  # before anything is fetched

        async def build() -> JobRequest:
            reference = await self._result_image(interaction, job, image)
            return request_for(
                interaction,
                options,
                inputs=[reference],
                parent_id=job.id,
                kind="edit",
                guild_id=job.guild_id,
            )

        await submit_deferred(self.bot, interaction, build)

    async def _result_image(self, interaction: Interaction, job: Job, image: int) -> InputImage:
        """Return the bytes of a result's image: from the message, else the gateway's link."""
        limit = self.bot.settings.max_input_image_bytes
        fetch = self.bot.jobs.download
        stored = StoredImage(image - 1, None, "image/png", None)
        wanted = file_name(job.id, stored).rsplit(".", 1)[0] + "."
        message = interaction.message
        for attachment in message.attachments if message else ():
            if attachment.filename.startswith(wanted):
                (reference,) = await read_attachments([attachment], limit, fetch)
                return reference
        if image <= len(job.result_urls):
            name = Text.of("refusal.result_image", n=image)
            try:
                return await read(Source(job.result_urls[image - 1], name), 0, limit, fetch)
            except Unreadable:
                pass  # the gateway's link expired: said below
        raise InvalidRequest("refusal.edit_gone", image=image, job_id=job.id)

    # ------------------------------------------------------------------ remix

    async def remix(self, interaction: Interaction, message: discord.Message) -> None:
        """Remix with lemonbot: start from this message's images.

        Its images are its attachments, the images of its embeds (a link's preview, a
        result card's image) and, on a lemonbot result, the images delivered as links.
        """
        assert interaction.guild_id is not None  # the menu is offered in servers only
        parent = await self.bot.jobs.known(_job_of(message), interaction.guild_id)
        # Only the result's URLs (a result delivered as links): the modal must open
        # within Discord's 3 s, so no reference bytes are read here.
        result_urls = (
            await self.bot.jobs.result_urls(parent, interaction.guild_id) if parent else []
        )
        images = message_images(message, result_urls)
        if not images:
            raise InvalidRequest("refusal.no_image_to_remix")
        await self.bot.moderation.check_member(interaction.guild_id, interaction.user.id)
        self._forget_old_remixes()
        token = secrets.token_hex(8)
        self._remixes[token] = PendingRemix(images, parent)
        await interaction.response.send_modal(
            remix_modal(token, self.bot.settings.default_edit_model, interaction.locale)
        )

    async def _remix_submitted(self, interaction: Interaction, token: str) -> None:
        """Make the Remix: with the message's first images, as many as the model takes.

        Unlike /imagine, where each attachment was the member's choice, a message's
        images come as they are: a gallery of four stays remixable with a model that
        takes one. The member is told privately which were left out.
        """
        pending = self._remixes.pop(token, None)
        if pending is None:
            raise InvalidRequest("refusal.remix_expired")
        values = modal_values(interaction.data)
        model = values.get(MODEL_FIELD, "").strip() or self.bot.settings.default_edit_model
        takes = min(self.bot.jobs.image_input(model).max_images, MAX_REFERENCE_IMAGES)
        sources = pending.images[: max(1, takes)]
        options = ImagineOptions(prompt=values.get(PROMPT_FIELD, ""), model=model)
        await self.bot.jobs.check(replace(options, images=len(sources)))

        async def build() -> JobRequest:
            limit = self.bot.settings.max_input_image_bytes
            inputs = await read_sources(sources, limit, self.bot.jobs.download)
            return request_for(
                interaction, options, inputs=inputs, parent_id=pending.parent_id, kind="remix"
            )

        accepted = await submit_deferred(self.bot, interaction, build)
        left_out = len(pending.images) - len(sources)
        if accepted is not None and left_out:
            note = t(
                "remix.images_left_out",
                interaction.locale,
                count=len(sources),
                total=len(pending.images),
                model=f"`{model}`",
            )
            await send_ephemeral(interaction, note)

    def _forget_old_remixes(self) -> None:
        now = time.monotonic()
        for token, pending in list(self._remixes.items()):
            if now - pending.created > REMIX_TTL_SECONDS or len(self._remixes) > (
                MAX_PENDING_REMIXES
            ):
                self._remixes.pop(token, None)


def message_images(message: discord.Message, result_urls: Sequence[str] = ()) -> list[Source]:
    """Return the images a message shows, in order, each once.

    Its image attachments; then the gateway links of a lemonbot result
    (``result_urls``) that it shows (an image too large to attach is linked); then the
    images of its embeds: an embed's image, and the picture of a link's preview.
    """
    found: list[Source] = []
    seen: set[str] = set()

    def add(url: str | None, name: str | None = None, size: int | None = None) -> None:
        if not url or not url.startswith(("https://", "http://")):
            return  # attachment://…, an embed's own reference to a file listed above
        key = url.split("?", 1)[0]
        if key not in seen:
            seen.add(key)
            shown = name or Text.of("refusal.result_image", n=len(found) + 1)
            found.append(Source(url, shown, size))

    for attachment in message.attachments:
        if _looks_like_image(attachment):
            add(attachment.url, attachment.filename, attachment.size)
    text = " ".join([message.content, *(_embed_text(e) for e in message.embeds)])
    for url in result_urls:
        if url in text:
            add(url)
    for embed in message.embeds:
        add(embed.image.url)
        if embed.type in ("image", "gifv"):  # a posted link's preview
            add(embed.thumbnail.url or embed.url)
    return found


def _embed_text(embed: discord.Embed) -> str:
    parts = [embed.description or "", embed.image.url or ""]
    parts += [field.value or "" for field in embed.fields]
    return " ".join(parts)


def _looks_like_image(attachment: discord.Attachment) -> bool:
    """Whether an attachment says it is an image (its bytes are checked on download)."""
    kind = (attachment.content_type or "").lower()
    name = attachment.filename.lower()
    return kind.startswith("image/") or name.endswith((".png", ".jpg", ".jpeg", ".webp", ".gif"))


def _job_of(message: discord.Message) -> int | None:
    """Return the job a lemonbot result message shows (its card's footer), if any."""
    for embed in message.embeds:
        job_id = footer_job(embed.footer.text or "")
        if job_id is not None:
            return job_id
    return None


async def setup(bot: LemonBot) -> None:
    """Load the cog (discord.py extension entry point)."""
    await bot.add_cog(Results(bot))
