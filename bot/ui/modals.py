"""Modals: what to change in an Edit, and what to make of a Remix.

A modal is sent stopped (not kept in discord.py's view store), and its submit is routed
by custom_id (``lemonbot:editmodal:<job>:<image>``, ``lemonbot:remix:<token>``) to the
cog's ``on_interaction`` listener, so no state lives in the modal object itself.
"""

from __future__ import annotations

from typing import Any

import discord

from bot.catalog import MAX_PROMPT_LENGTH, MAX_SEED
from bot.errors import InvalidRequest
from bot.i18n import LocaleLike, t

EDIT_MODAL = "lemonbot:editmodal:"
REMIX_MODAL = "lemonbot:remix:"
PROMPT_FIELD = "prompt"
RATIO_FIELD = "ratio"
MODEL_FIELD = "model"
SEED_FIELD = "seed"
TITLE_LIMIT = 45
MODEL_ID_LIMIT = 100


def _modal(title: str, custom_id: str, *inputs: discord.ui.TextInput[Any]) -> discord.ui.Modal:
    modal = discord.ui.Modal(title=title[:TITLE_LIMIT], custom_id=custom_id, timeout=None)
    for text_input in inputs:
        modal.add_item(text_input)
    modal.stop()  # routed by custom_id, see the module docstring
    return modal


def _seed_input(seed: int | None, locale: LocaleLike) -> discord.ui.TextInput[Any]:
    """Return the seed field: the parent's seed, kept unless changed (empty: a new one)."""
    return discord.ui.TextInput(
        label=t("modal.seed", locale),
        custom_id=SEED_FIELD,
        default="" if seed is None else str(seed),
        placeholder=t("modal.seed_placeholder", locale),
        required=False,
        max_length=len(str(MAX_SEED)),
    )


def seed_field(values: dict[str, str]) -> int | None:
    """Return the seed a form was submitted with (None: empty); refuse one that is not."""
    text = values.get(SEED_FIELD, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) > MAX_SEED:
        raise InvalidRequest("refusal.seed_range", limit=MAX_SEED)
    return int(text)


def edit_modal(
    job_id: int,
    image: int,
    prompt: str,
    ratio: str | None,
    locale: LocaleLike,
    *,
    seed: int | None = None,
) -> discord.ui.Modal:
    """Return the Edit modal, pre-filled with the result's prompt, ratio and seed."""
    return _modal(
        t("modal.edit_title", locale, image=image, job_id=job_id),
        f"{EDIT_MODAL}{job_id}:{image}",
        discord.ui.TextInput(
            label=t("modal.edit_prompt", locale),
            custom_id=PROMPT_FIELD,
            style=discord.TextStyle.paragraph,
            default=prompt[:MAX_PROMPT_LENGTH],
            max_length=MAX_PROMPT_LENGTH,
        ),
        discord.ui.TextInput(
            label=t("modal.edit_ratio", locale),
            custom_id=RATIO_FIELD,
            default=ratio or "",
            required=False,
            max_length=5,
        ),
        _seed_input(seed, locale),
    )


def remix_modal(
    token: str, default_model: str, locale: LocaleLike, *, seed: int | None = None
) -> discord.ui.Modal:
    """Return the Remix modal: a prompt, optionally a model, and the seed (a result's)."""
    return _modal(
        t("modal.remix_title", locale),
        f"{REMIX_MODAL}{token}",
        discord.ui.TextInput(
            label=t("modal.remix_prompt", locale),
            custom_id=PROMPT_FIELD,
            style=discord.TextStyle.paragraph,
            max_length=MAX_PROMPT_LENGTH,
        ),
        discord.ui.TextInput(
            label=t("modal.remix_model", locale),
            custom_id=MODEL_FIELD,
            placeholder=default_model[:MODEL_ID_LIMIT],
            required=False,
            max_length=MODEL_ID_LIMIT,
        ),
        _seed_input(seed, locale),
    )


def modal_values(data: Any) -> dict[str, str]:
    """Return a modal submit's values by custom_id (action rows and labels both)."""
    values: dict[str, str] = {}

    def walk(components: Any) -> None:
        for component in components or ():
            if not isinstance(component, dict):
                continue
            if component.get("type") == 1:
                walk(component.get("components"))
            elif component.get("type") == 18:
                walk([component.get("component")])
            elif "custom_id" in component:
                value = component.get("value", component.get("values"))
                values[str(component["custom_id"])] = (
                    value[0] if isinstance(value, list) and value else str(value or "")
                )

    walk((data or {}).get("components"))
    return values
