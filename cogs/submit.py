"""One way into the job service for every entry point: /imagine, Reroll, Edit and Remix.

:func:`submit` builds the :class:`~bot.jobs.JobRequest` from the interaction, has the
service accept it, and answers with the job's progress card (public). A refusal
(:class:`~bot.errors.Refusal`) is raised to the one error router
(:func:`bot.ui.replies.report_error`), which answers privately. When reference images
must be downloaded first, the interaction is deferred at once (Discord wants an answer
within 3 s) and :func:`submit_deferred` finishes it: the card replaces the "thinking"
message, or a failure removes it and goes on to the router. A press outside the server
(a result sent by DM) acts as the member the server knows now (:func:`as_member`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any

import discord

from bot.catalog import ImagineOptions
from bot.client import LemonBot
from bot.i18n import locale_of
from bot.jobs import Accepted, JobRequest
from bot.store import InputImage
from bot.ui.cards import progress_embed
from bot.ui.replies import member_role_ids
from bot.ui.views import cancel_view

log = logging.getLogger(__name__)

Interaction = discord.Interaction[Any]


def request_for(
    interaction: Interaction,
    options: ImagineOptions,
    *,
    inputs: Sequence[InputImage] = (),
    parent_id: int | None = None,
    kind: str = "imagine",
    guild_id: int | None = None,
) -> JobRequest:
    """Return the request an interaction makes (a DM press acts for the job's server)."""
    guild = interaction.guild_id or guild_id
    assert guild is not None and interaction.channel_id is not None
    return JobRequest(
        options=options,
        guild_id=guild,
        channel_id=interaction.channel_id,
        user_id=interaction.user.id,
        application_id=interaction.application_id,
        interaction_id=interaction.id,
        interaction_token=interaction.token,
        upload_limit=interaction.filesize_limit,
        received_at=interaction.created_at.timestamp(),
        role_ids=member_role_ids(interaction.user),
        inputs=tuple(inputs),
        parent_id=parent_id,
        kind=kind,
        locale=locale_of(interaction.locale),
        age_restricted=age_restricted(interaction),
    )


def age_restricted(interaction: Interaction) -> bool:
    """Whether the interaction came from an age-restricted channel of a server (a DM: no)."""
    channel = interaction.channel
    is_nsfw = getattr(channel, "is_nsfw", None)
    return interaction.guild_id is not None and callable(is_nsfw) and bool(is_nsfw())


async def as_member(bot: LemonBot, interaction: Interaction, request: JobRequest) -> JobRequest:
    """Return the request as made by the member the request's server knows now.

    In the server, the interaction carries the member's current roles. A press outside it
    (Reroll or Edit on a result sent by DM) carries none, and the member may have left or
    been banned since: they are fetched from Discord and refused (privately, before
    anything is reserved) unless still in the server; their roles now set the quota.
    """
    if interaction.guild_id == request.guild_id:
        return request
    member = await bot.members.of(interaction, request.guild_id)
    return replace(request, role_ids=member.role_ids)


def _card(accepted: Accepted) -> dict[str, Any]:
    job = accepted.job
    waiting = accepted.position is not None
    return {
        "embed": progress_embed(job, accepted.position),
        "view": cancel_view(job.id, job.locale) if waiting else discord.utils.MISSING,
    }


async def submit(bot: LemonBot, interaction: Interaction, request: JobRequest) -> None:
    """Accept a request and answer with its progress card (a refusal raises)."""
    accepted = await bot.jobs.accept(await as_member(bot, interaction, request))
    try:
        response = await interaction.response.send_message(**_card(accepted))
    except BaseException:  # HTTP error, dropped connection, cancellation: nobody saw it
        await bot.jobs.abandon(accepted.job.id)
        raise
    await bot.jobs.acknowledged(accepted.job.id, response.message_id)


async def submit_deferred(
    bot: LemonBot, interaction: Interaction, build: Callable[[], Awaitable[JobRequest]]
) -> Accepted:
    """Defer, build the request (downloads, checks), accept it and show its card.

    A refusal (or any failure) at any step removes the public "thinking" message and is
    raised on to the error router, which answers privately, so that only the member
    sees it; nothing is reserved or sent. Returns the accepted job.
    """
    bot.jobs.check_reading(interaction.user.id)  # refused before a public "thinking..."
    if not interaction.response.is_done():
        await interaction.response.defer(thinking=True)
    try:
        async with bot.jobs.reading(interaction.user.id):  # one member's images in turn
            request = await build()
        accepted = await bot.jobs.accept(await as_member(bot, interaction, request))
    except Exception:
        await _withdraw(interaction)
        raise
    try:
        message = await interaction.edit_original_response(**_card(accepted))
    except BaseException:
        await bot.jobs.abandon(accepted.job.id)
        raise
    await bot.jobs.acknowledged(accepted.job.id, message.id)
    return accepted


async def _withdraw(interaction: Interaction) -> None:
    """Remove the public "thinking" message of a deferred interaction."""
    try:
        await interaction.delete_original_response()
    except discord.HTTPException as exc:
        log.info("could not remove the thinking message: HTTP %s", exc.status)
