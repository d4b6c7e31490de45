"""Model families: the request rules shared by a group of models, from LemonData's contract."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.catalog.options import DALLE_QUALITIES, GPT_QUALITIES, MAX_COUNT, RESOLUTIONS, STYLES


class Geometry(Enum):
    """How a family takes the picture's shape."""

    ASPECT_RATIO = "aspect_ratio"
    GPT_SIZE = "gpt_size"
    DALLE_SIZE = "dalle_size"
    NONE = "none"


@dataclass(frozen=True)
class Family:
    """The request rules shared by a group of models."""

    name: str
    geometry: Geometry
    ids: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    resolutions: tuple[str, ...] = ()
    qualities: tuple[str, ...] = ()
    styles: tuple[str, ...] = ()
    max_count: int = MAX_COUNT
    supports_async: bool = False
    weight: int = 1

    def matches(self, model: str) -> bool:
        """Return True if ``model`` belongs to this family."""
        return model in self.ids or model.startswith(self.prefixes)


FAMILIES: tuple[Family, ...] = (
    Family(
        name="GPT Image 2",
        geometry=Geometry.GPT_SIZE,
        ids=frozenset({"gpt-image-2"}),
        prefixes=("gpt-image-2-",),
        resolutions=RESOLUTIONS,
        qualities=GPT_QUALITIES,
        supports_async=True,
        weight=2,
    ),
    Family(
        name="DALL-E 3",
        geometry=Geometry.DALLE_SIZE,
        ids=frozenset({"dall-e-3"}),
        qualities=DALLE_QUALITIES,
        styles=STYLES,
        max_count=1,
    ),
    Family(
        name="Gemini Pro image",
        geometry=Geometry.ASPECT_RATIO,
        ids=frozenset({"gemini-3-pro-image-preview", "nano-banana-pro", "nano-banana-2"}),
        resolutions=RESOLUTIONS,
        weight=2,
    ),
    Family(
        name="Gemini Flash image",
        geometry=Geometry.ASPECT_RATIO,
        ids=frozenset(
            {
                "gemini-2.5-flash-image",
                "gemini-3.1-flash-image-preview",
                "nano-banana",
                "nano-banana-edit",
            }
        ),
    ),
    Family(
        name="Gemini 2.0 Flash (prompt only)",
        geometry=Geometry.NONE,
        ids=frozenset({"gemini-2.0-flash-preview-image-generation"}),
        max_count=1,
    ),
    Family(
        name="FLUX",
        geometry=Geometry.ASPECT_RATIO,
        prefixes=("flux-", "flux.", "black-forest-labs/"),
        supports_async=True,
    ),
)

CONSERVATIVE = Family(name="other", geometry=Geometry.ASPECT_RATIO)


def family_of(model: str) -> Family:
    """Return the family rules for ``model``; unknown models get the conservative rule."""
    for family in FAMILIES:
        if family.matches(model):
            return family
    return CONSERVATIVE
