"""The /help guide and the /models pages, in the reader's language.

``/models`` is built from the cached model list only (no gateway call while the member
waits): for each recommended model, what it accepts, how it runs, what one image costs
in quota on this server, and its price as the gateway publishes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import discord

from bot.catalog import RATIOS, Family, Geometry, ImageInput, ImageMode, ModelSpec, spec_of
from bot.i18n import Joined, LocaleLike, Text, money, t
from bot.lemondata import Pricing
from bot.ui.cards import COLOUR_DONE, COLOUR_PROGRESS, family_text, option_value
from bot.ui.format import limit_text

MODELS_PER_PAGE = 5
TOKEN_UNITS = ("per_1m_tokens", "per_token", "tokens")


@dataclass(frozen=True)
class ModelEntry:
    """What /models says of one model: its rules, image input, quota weight and price."""

    model: str
    family: Family
    image_input: ImageInput
    weight: int
    pricing: Pricing | None
    spec: ModelSpec | None = None  # what it takes (the gateway's description first)


def _values(values: Sequence[str]) -> str:
    return "/".join(values)


def accepts_text(entry: ModelEntry) -> Text:
    """Return what a model accepts: ratio, resolution, quality, style, outputs, count, images.

    From the gateway's description of the model where there is one, else its family's.
    """
    family = entry.family
    spec = entry.spec or spec_of(entry.model)
    items: list[Text] = []
    if spec.geometry is Geometry.NONE:
        items.append(Text("models.ratio_none"))
    elif spec.geometry is Geometry.ASPECT_RATIO and spec.ratios != RATIOS:
        items.append(Text.of("models.ratios", values=_values(spec.ratios)))
    else:
        items.append(Text("models.ratio"))
    if spec.resolutions:
        items.append(Text.of("models.resolution", values=_values(spec.resolutions)))
    if spec.qualities:
        qualities = [option_value("quality", q) for q in spec.qualities]
        items.append(Text.of("models.quality", values=Joined(qualities, "slash")))
    if spec.styles:
        styles = [option_value("style", s) for s in spec.styles]
        items.append(Text.of("models.style", values=Joined(styles, "slash")))
    if spec.backgrounds:
        items.append(Text.of("models.background", values=_values(spec.backgrounds)))
    if spec.output_formats:
        items.append(Text.of("models.formats", values=_values(spec.output_formats)))
    for option in ("negative_prompt", "seed"):
        if spec.takes(option):
            items.append(Text(f"models.{option}"))
    items.append(Text.of("models.count", count=family.max_count))
    accepts = entry.image_input
    if not accepts.accepted:
        items.append(Text("models.images_none"))
    else:
        how = Text("models.mode_edit" if accepts.mode is ImageMode.EDIT else "models.mode_i2i")
        items.append(Text.of("models.images", count=accepts.max_images, how=how))
    return Text.of("models.accepts", items=Joined(items, "dots"))


def price_text(pricing: Pricing | None, locale: LocaleLike) -> str:
    """Return a model's price as the gateway publishes it, or say it is unknown."""
    if pricing is None:
        return t("models.price_unknown", locale)

    def amount(value: str) -> str:
        return money(value, pricing.currency or "USD", locale)

    def span(key: str) -> str:
        low, high = pricing.min_price, pricing.max_price
        if not low or not high or low == high:
            return ""
        return t(key, locale, low=amount(low), high=amount(high))

    if pricing.unit in TOKEN_UNITS or (not pricing.per_request and pricing.output_per_1m):
        return t("models.price_tokens", locale, range=span("models.price_range"))
    if pricing.per_request:
        price = amount(pricing.per_request)
        return t("models.price_per_image", locale, price=price, range=span("models.price_span"))
    return t("models.price_unknown", locale)


def model_field(entry: ModelEntry, locale: LocaleLike) -> tuple[str, str]:
    """Return one model's field on a /models page: its name, and what to know of it."""
    family = entry.family
    name = entry.model
    if family.name != "other":
        name = t("models.name", locale, model=entry.model, family=family_text(family, locale))
    runs = "models.runs_async" if family.supports_async else "models.runs_sync"
    weight = "models.weight_4k" if "4k" in family.resolutions else "models.weight"
    lines = [
        accepts_text(entry).render(locale),
        t(runs, locale),
        t(weight, locale, units=limit_text(entry.weight)),
        price_text(entry.pricing, locale),
    ]
    return name[:256], "\n".join(lines)[:1024]


def model_pages(entries: Sequence[ModelEntry], locale: LocaleLike) -> list[discord.Embed]:
    """Return the /models pages, :data:`MODELS_PER_PAGE` models each."""
    chunks = [
        entries[start : start + MODELS_PER_PAGE]
        for start in range(0, len(entries), MODELS_PER_PAGE)
    ]
    pages = []
    for number, chunk in enumerate(chunks, start=1):
        embed = discord.Embed(
            title=t("models.title", locale),
            description=t("models.intro", locale),
            colour=COLOUR_DONE,
        )
        for entry in chunk:
            name, value = model_field(entry, locale)
            embed.add_field(name=name, value=value, inline=False)
        if len(chunks) > 1:
            embed.set_footer(text=t("models.page", locale, page=number, pages=len(chunks)))
        pages.append(embed)
    return pages


def help_embed(locale: LocaleLike) -> discord.Embed:
    """Return the /help guide: making an image, editing and remixing, quota, moderation."""
    buttons = {
        action: t(f"button.{action}", locale)
        for action in ("reroll", "edit", "details", "delete", "cancel")
    }
    embed = discord.Embed(
        title=t("help.title", locale), description=t("help.intro", locale), colour=COLOUR_PROGRESS
    )
    sections: tuple[tuple[str, str, dict[str, str]], ...] = (
        ("help.make_title", "help.make", {}),
        ("help.edit_title", "help.edit", {**buttons, "remix": t("cmd.remix", locale)}),
        ("help.quota_title", "help.quota", {"cancel": buttons["cancel"]}),
        ("help.moderators_title", "help.moderators", {}),
    )
    for title, body, params in sections:
        embed.add_field(name=t(title, locale), value=t(body, locale, **params), inline=False)
    return embed


def model_label(spec: ModelSpec, locale: LocaleLike, limit: int = 100) -> str:
    """Return a model's autocomplete label: its family, or what its description says.

    A model of a known family reads ``gpt-image-2 · GPT Image 2``; one only the gateway
    describes (``midjourney``) reads what it takes: ``midjourney · 1:1/2:3/3:2 · seed``.
    """
    if spec.family.name != "other":
        return f"{spec.model} · {family_text(spec.family, locale)}"[:limit]
    parts = [spec.model]
    if spec.described:
        if spec.geometry is Geometry.ASPECT_RATIO and spec.ratios != RATIOS:
            parts.append(_values(spec.ratios))
        parts += [t(f"models.{o}", locale) for o in ("negative_prompt", "seed") if spec.takes(o)]
    return " · ".join(parts)[:limit]
