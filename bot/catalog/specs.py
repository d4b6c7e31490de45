"""What one model takes: the gateway's description of it first, its family's rules after.

``GET /v1/models/{model}`` (:class:`~bot.lemondata.ModelDescription`) names the
parameters a model takes, its aspect ratios, resolutions, output formats and prompt
limit. :func:`spec_of` merges it over the family table (:mod:`bot.catalog.families`),
which remains the rule where the gateway says nothing, and :func:`disagreements` names
where the two differ (the gateway wins; the catalog logs it once per model).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.catalog.families import CONSERVATIVE, Family, Geometry, family_of
from bot.catalog.options import (
    BACKGROUNDS,
    DALLE_QUALITIES,
    GPT_QUALITIES,
    MAX_PROMPT_LENGTH,
    OUTPUT_FORMATS,
    RATIOS,
    RESOLUTIONS,
    STYLES,
)
from bot.lemondata import ModelDescription

# A member's option (or the server's strictness) -> the request fields that carry it, the
# first one the model takes being the one sent.
OPTION_FIELDS: dict[str, tuple[str, ...]] = {
    "quality": ("quality",),
    "style": ("style",),
    "background": ("background",),
    "output_format": ("output_format",),
    "compression": ("output_compression", "compression"),
    "negative_prompt": ("negative_prompt",),
    "seed": ("seed",),
    "moderation": ("moderation",),
}
# The options a member sets in /imagine that only some models take, in the order named.
MEMBER_OPTIONS = ("background", "output_format", "compression", "negative_prompt", "seed")


@dataclass(frozen=True)
class ModelSpec:
    """What ``model`` takes, as the gateway describes it or, failing that, its family."""

    model: str
    family: Family
    geometry: Geometry
    options: frozenset[str]  # keys of OPTION_FIELDS it takes
    fields: dict[str, str]  # option -> the request field that carries it
    ratios: tuple[str, ...]
    resolutions: tuple[str, ...]
    qualities: tuple[str, ...]
    styles: tuple[str, ...]
    backgrounds: tuple[str, ...]
    output_formats: tuple[str, ...]
    prompt_max: int
    described: bool  # the gateway described it (else: the family table alone)

    def takes(self, option: str) -> bool:
        """Whether the model takes ``option`` (a key of :data:`OPTION_FIELDS`)."""
        return option in self.options


def _family_options(family: Family) -> set[str]:
    flags = {
        "quality": bool(family.qualities),
        "style": bool(family.styles),
        "background": bool(family.backgrounds),
        "output_format": bool(family.output_formats),
        "compression": family.compression,
        "negative_prompt": family.negative_prompt,
        "seed": family.seed,
        "moderation": family.moderation,
    }
    return {option for option, taken in flags.items() if taken}


def spec_of(model: str, description: ModelDescription | None = None) -> ModelSpec:
    """Return what ``model`` takes: ``description`` where it speaks, else the family's rules."""
    family = family_of(model)
    options = _family_options(family)
    fields = {option: names[0] for option, names in OPTION_FIELDS.items()}
    geometry = family.geometry
    ratios: tuple[str, ...] = () if geometry is Geometry.NONE else RATIOS
    resolutions = family.resolutions
    qualities = family.qualities
    styles = family.styles
    backgrounds = family.backgrounds
    formats = family.output_formats
    prompt_max = MAX_PROMPT_LENGTH
    described = description is not None and description.parameters is not None
    if description is not None and description.parameters is not None:
        params = description.parameters
        options = set()
        for option, names in OPTION_FIELDS.items():
            taken = [name for name in names if name in params]
            if taken:
                options.add(option)
                fields[option] = taken[0]
        if geometry in (Geometry.ASPECT_RATIO, Geometry.NONE) or family is CONSERVATIVE:
            # The shape travels as aspect_ratio (and resolution) only where it is taken.
            geometry = Geometry.ASPECT_RATIO if "aspect_ratio" in params else Geometry.NONE
            listed = tuple(r for r in description.aspect_ratios if r in RATIOS)
            ratios = listed or (RATIOS if geometry is Geometry.ASPECT_RATIO else ())
            resolutions = (
                tuple(r for r in description.resolutions if r in RESOLUTIONS)
                if "resolution" in params
                else ()
            )
        if "quality" in options and not qualities:
            qualities = (*GPT_QUALITIES, *DALLE_QUALITIES)
        if "style" in options and not styles:
            styles = STYLES
        if "background" in options and not backgrounds:
            backgrounds = BACKGROUNDS  # a family the table does not know: the gateway judges
        if "output_format" in options:
            formats = tuple(f for f in description.output_formats if f in OUTPUT_FORMATS) or (
                formats or OUTPUT_FORMATS
            )
        if description.prompt_max_characters:
            prompt_max = min(MAX_PROMPT_LENGTH, description.prompt_max_characters)
    return ModelSpec(
        model=model,
        family=family,
        geometry=geometry,
        options=frozenset(options),
        fields=fields,
        ratios=ratios,
        resolutions=resolutions,
        qualities=qualities if "quality" in options else (),
        styles=styles if "style" in options else (),
        backgrounds=backgrounds if "background" in options else (),
        output_formats=formats if "output_format" in options else (),
        prompt_max=prompt_max,
        described=described,
    )


def disagreements(model: str, description: ModelDescription) -> dict[str, object]:
    """Return where the gateway's description and the family table differ (gateway wins).

    Keys: ``options`` (those the gateway adds, and drops), ``ratios``, ``resolutions``.
    """
    family = family_of(model)
    if family is CONSERVATIVE or description.parameters is None:
        return {}
    table, gateway = spec_of(model), spec_of(model, description)
    said: dict[str, object] = {}
    if table.options != gateway.options:
        said["options"] = (
            sorted(gateway.options - table.options),
            sorted(table.options - gateway.options),
        )
    if table.geometry is Geometry.ASPECT_RATIO and set(table.ratios) != set(gateway.ratios):
        said["ratios"] = list(gateway.ratios)
    same = set(table.resolutions) == set(gateway.resolutions)
    if table.geometry is Geometry.ASPECT_RATIO and not same:
        said["resolutions"] = list(gateway.resolutions)
    return said
