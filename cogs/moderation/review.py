"""/imagemod logs, job, export and delete: who generated what, and taking an image down."""

from __future__ import annotations

import datetime as dt
import io
import logging

import discord
from discord import app_commands
from discord.app_commands import Choice, Range

from bot.client import LemonBot
from bot.errors import InvalidRequest
from bot.i18n import Text, command_text, t
from bot.moderation.audit import as_files, attachable
from bot.store import JOB_STATES, JobFilter
from bot.ui.moderation import (
    ReferenceFiles,
    describe_filter,
    job_detail_embed,
    job_summary_embed,
)
from bot.ui.options import Since
from bot.ui.views import PageView
from cogs.moderation.common import STATE_CHOICES, CommandsBase, guild_of, imagemod

log = logging.getLogger(__name__)

FILTER_DESCRIPTIONS = {
    name: command_text(f"cmd.imagemod.filter.{name}")
    for name in ("user", "model", "state", "since")
}
PAGE_SIZE = 5
EXPORT_MAX_ROWS = 10_000


class ReviewCommands(CommandsBase):
    """The job log: list, detail, export, delete."""

    # ------------------------------------------------------------------ review

    @imagemod.command(name="logs", description=command_text("cmd.imagemod.logs"))
    @app_commands.describe(**FILTER_DESCRIPTIONS)
    @app_commands.choices(state=STATE_CHOICES)
    async def logs(
        self,
        interaction: discord.Interaction[LemonBot],
        user: discord.User | None = None,
        model: str | None = None,
        state: str | None = None,
        since: Since | None = None,
    ) -> None:
        """Show who generated what, newest first, with page buttons."""
        filters = _filters(interaction, user, model, state, since)
        lang = interaction.locale

        async def fetch(page: int) -> tuple[str, list[discord.Embed], bool]:
            jobs = await self.service.jobs(filters, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE)
            first = page * PAGE_SIZE + 1
            shown = jobs[:PAGE_SIZE]
            described = describe_filter(filters)
            if shown:
                last = first + len(shown) - 1
                header = t("mod.logs_header", lang, filters=described, first=first, last=last)
            else:
                header = t("mod.logs_none", lang, filters=described)
            embeds = [job_summary_embed(j, lang) for j in shown]
            return header, embeds, len(jobs) > PAGE_SIZE

        content, embeds, has_next = await fetch(0)
        if not embeds:
            await interaction.response.send_message(content, ephemeral=True)
            return
        view = PageView(fetch, interaction.user.id, interaction, has_next)
        await interaction.response.send_message(content, embeds=embeds, view=view, ephemeral=True)

    @imagemod.command(name="job", description=command_text("cmd.imagemod.job"))
    @app_commands.describe(job_id=command_text("cmd.imagemod.job.job_id"))
    async def job(
        self, interaction: discord.Interaction[LemonBot], job_id: Range[int, 1, None]
    ) -> None:
        """Show everything stored about one job."""
        job = await self.service.job(guild_of(interaction), job_id)
        lang = interaction.locale
        chosen, references = attachable(await self.service.inputs(job), interaction.filesize_limit)
        if not chosen:
            await interaction.response.send_message(
                embed=job_detail_embed(job, lang, references), ephemeral=True
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)  # 25 MiB may pass 3 s
        try:
            await interaction.edit_original_response(
                embed=job_detail_embed(job, lang, references), attachments=as_files(chosen)
            )
        except discord.HTTPException as exc:
            log.info("job %s: detail with reference images refused (HTTP %s)", job.id, exc.status)
            without = ReferenceFiles(too_large=references.too_large, not_attached=len(chosen))
            await interaction.edit_original_response(
                embed=job_detail_embed(job, lang, without), attachments=[]
            )

    @imagemod.command(name="export", description=command_text("cmd.imagemod.export"))
    @app_commands.describe(**FILTER_DESCRIPTIONS)
    @app_commands.choices(state=STATE_CHOICES)
    async def export(
        self,
        interaction: discord.Interaction[LemonBot],
        user: discord.User | None = None,
        model: str | None = None,
        state: str | None = None,
        since: Since | None = None,
    ) -> None:
        """Download the matching jobs as a CSV file."""
        filters = _filters(interaction, user, model, state, since)
        await interaction.response.defer(ephemeral=True, thinking=True)
        text, count = await self.service.export(filters, EXPORT_MAX_ROWS, interaction.locale)
        data = text.encode("utf-8")
        if len(data) > interaction.filesize_limit:
            raise InvalidRequest("refusal.export_too_large")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M")
        name = f"lemonbot-jobs-{filters.guild_id}-{stamp}.csv"
        described = describe_filter(filters)
        note = (
            Text.of("mod.export_capped", count=count, filters=described, max=EXPORT_MAX_ROWS)
            if count >= EXPORT_MAX_ROWS
            else Text.of("mod.export", count=count, filters=described)
        )
        await interaction.edit_original_response(
            content=note.render(interaction.locale),
            attachments=[discord.File(io.BytesIO(data), filename=name)],
        )

    @logs.autocomplete("model")
    @export.autocomplete("model")
    async def model_autocomplete(
        self, interaction: discord.Interaction[LemonBot], current: str
    ) -> list[Choice[str]]:
        """Suggest model ids from the cached model list."""
        names = self.bot.catalog.suggest(current)
        return [Choice(name=name, value=name) for name in names if len(name) <= 100]

    @imagemod.command(name="delete", description=command_text("cmd.imagemod.delete"))
    @app_commands.describe(job_id=command_text("cmd.imagemod.delete.job_id"))
    async def delete(
        self, interaction: discord.Interaction[LemonBot], job_id: Range[int, 1, None]
    ) -> None:
        """Delete a job's posted image and record who did it."""
        job = self.service.deletable(await self.service.job(guild_of(interaction), job_id))
        await interaction.response.defer(ephemeral=True, thinking=True)
        reply = await self.service.delete_image(job, interaction.user.id)
        await interaction.edit_original_response(content=reply.render(interaction.locale))


def _filters(
    interaction: discord.Interaction[LemonBot],
    user: discord.User | None,
    model: str | None,
    state: str | None,
    since: float | None,
) -> JobFilter:
    if state is not None and state not in JOB_STATES:
        raise InvalidRequest("refusal.state_unknown", states=", ".join(JOB_STATES))
    return JobFilter(
        guild_id=guild_of(interaction),
        user_id=user.id if user is not None else None,
        model=model.strip() if model else None,
        state=state,
        since=since,
    )
