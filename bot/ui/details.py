"""Details: a result's private card, whole (full prompt, facts, the revised prompt).

Built from the job's row like the other cards (:mod:`bot.ui.cards`, whose header and
fields it shares), in the language of whoever pressed Details, and packed within
Discord's limits per embed and per message.
"""

from __future__ import annotations

import discord

from bot.i18n import Dollars, Joined, LocaleLike, Text, seconds, t
from bot.store import Job
from bot.ui.cards import (
    COLOUR_DONE,
    footer_text,
    has_lineage,
    job_header,
    lineage_text,
    option_value,
    ratio_text,
)
from bot.ui.format import escaped, timestamp

# Discord's embed limits (https://discord.com/developers/docs/resources/message#embed-object).
DESCRIPTION_LIMIT = 4096
MESSAGE_EMBED_TOTAL = 6000  # all embeds of one message together
MAX_EMBEDS = 10
REVISED_CHUNK = DESCRIPTION_LIMIT  # a longer revised prompt continues in the next embed
MAX_REVISED_CHUNKS = 10
COST_SOURCES = ("usage", "price", "estimate")  # where a settled cost came from


def details_messages(
    job: Job, locale: LocaleLike, *, show_cost: bool = True
) -> list[list[discord.Embed]]:
    """Return the private Details of a result, whole, as the embeds of one or more messages.

    ``show_cost``: the job's cost in dollars is shown (to moderators; to its requester
    when the server allows it: ``/imagemod config show_cost``).

    The first embed has the full prompt (up to 4,000 characters, within a description's
    4,096) and the facts; the revised prompt follows whole in embeds of its own. They
    are packed into as few messages as Discord's 6,000 characters (and 10 embeds) per
    message allow.
    """
    embeds = [details_embed(job, locale, show_cost=show_cost), *revised_prompt_embeds(job, locale)]
    messages: list[list[discord.Embed]] = [[]]
    total = 0
    for embed in embeds:
        size = len(embed)
        if messages[-1] and (total + size > MESSAGE_EMBED_TOTAL or len(messages[-1]) == MAX_EMBEDS):
            messages.append([])
            total = 0
        messages[-1].append(embed)
        total += size
    return messages


def revised_prompt_embeds(job: Job, locale: LocaleLike) -> list[discord.Embed]:
    """Return the revised prompt in embeds of up to 4,096 characters (none if none).

    Whole up to ``MAX_REVISED_CHUNKS`` embeds (about 40,000 characters, far past what a
    gateway revises); the rest of a longer one is left out.
    """
    if not job.revised_prompt:
        return []
    chunks = _chunks(escaped(job.revised_prompt.strip()), REVISED_CHUNK)[:MAX_REVISED_CHUNKS]
    if len(chunks) == 1:
        titles = [t("card.revised_prompt", locale)]
    else:
        titles = [
            t("details.revised_part", locale, part=n, parts=len(chunks))
            for n in range(1, len(chunks) + 1)
        ]
    return [
        discord.Embed(title=title, description=chunk, colour=COLOUR_DONE)
        for title, chunk in zip(titles, chunks, strict=True)
    ]


def _chunks(text: str, size: int) -> list[str]:
    """Split ``text`` into pieces of at most ``size`` characters, at a space where one is near."""
    pieces = []
    while len(text) > size:
        cut = text.rfind(" ", size - 200, size)
        cut = cut if cut > 0 else size
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text] if text else pieces


def cost_text(job: Job) -> Text | None:
    """Return what a job cost in dollars and where the figure came from, or None.

    ``$0.17 (from the gateway's usage)`` once settled; ``up to $0.19`` before; nothing
    for a model without a published price.
    """
    if job.cost is not None and job.cost_source in COST_SOURCES:
        return Text.of(f"details.cost_{job.cost_source}", amount=Dollars(job.cost, up=True))
    if job.cost is None and job.cost_estimate and job.cost_source != "unpriced":
        return Text.of("details.cost_up_to", amount=Dollars(job.cost_estimate, up=True))
    return None


def details_embed(job: Job, locale: LocaleLike, *, show_cost: bool = True) -> discord.Embed:
    """Return the first embed of Details: the full prompt, model, options, charge, timings."""
    lang = locale
    embed = job_header(
        job,
        lang,
        title=t("details.title", lang, job_id=job.id),
        prompt_limit=DESCRIPTION_LIMIT,
        colour=COLOUR_DONE,
    )
    if job.prompt and len(escaped(job.prompt)) <= DESCRIPTION_LIMIT:
        embed.description = escaped(job.prompt)  # as typed, line breaks and all
    embed.add_field(name=t("card.model", lang), value=f"`{job.model}`")
    embed.add_field(name=t("card.ratio", lang), value=ratio_text(job, lang))
    shown_options = ("resolution", "quality", "count", "style", "background", "compression")
    chosen = [
        Text.of(f"details.option_{k}", value=option_value(k, v))
        for k, v in job.options.items()
        if k in shown_options and v not in (None, 1)
    ]
    if fmt := job.options.get("output_format"):
        picked = "details.format_picked" if job.options.get("format_picked") else "details.format"
        chosen.append(Text.of(picked, value=str(fmt).upper()))
    if strictness := job.options.get("moderation"):
        chosen.append(Text.of("details.option_moderation", value=strictness))
    if chosen:
        embed.add_field(name=t("card.options", lang), value=Joined(chosen).render(lang))
    if (seed := job.options.get("seed")) is not None:
        embed.add_field(name=t("card.seed", lang), value=f"`{seed}`")
    if negative := job.options.get("negative_prompt"):
        embed.add_field(
            name=t("card.negative_prompt", lang), value=escaped(str(negative))[:1000], inline=False
        )
    charged = t(
        "details.charged",
        lang,
        units=job.quota_units,
        state=t(f"quota_state.{job.quota_state}", lang),
    )
    embed.add_field(name=t("card.charged", lang), value=charged)
    if show_cost and (cost := cost_text(job)) is not None:
        embed.add_field(name=t("card.cost", lang), value=cost.render(lang))
    timings = [t("details.asked", lang, when=timestamp(job.created_at, "R"))]
    if job.submitted_at and job.finished_at:
        made = seconds(job.finished_at - job.submitted_at, lang)
        timings.append(t("details.made_in", lang, duration=made))
    embed.add_field(name=t("card.timings", lang), value=Joined(timings).render(lang), inline=False)
    if has_lineage(job):
        embed.add_field(name=t("card.made_from", lang), value=lineage_text(job).render(lang))
    if job.input_count:
        embed.add_field(name=t("details.reference_images", lang), value=str(job.input_count))
    if job.error_message and job.state != "succeeded":  # the gateway's own words, as sent
        embed.add_field(
            name=t("details.gateway_said", lang),
            value=escaped(job.error_message)[:1000],
            inline=False,
        )
    embed.set_footer(text=footer_text(job.id, lang))
    return embed
