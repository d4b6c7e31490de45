"""What a member may ask for: the option values the slash command offers, and ImagineOptions."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

MAX_PROMPT_LENGTH = 4000
RATIOS = ("1:1", "16:9", "9:16", "3:2", "2:3", "4:3", "3:4", "21:9")
DEFAULT_RATIO = "1:1"
RESOLUTIONS = ("1k", "2k", "4k")
GPT_QUALITIES = ("auto", "low", "medium", "high")
DALLE_QUALITIES = ("standard", "hd")
STYLES = ("vivid", "natural")
MAX_COUNT = 4
RESOLUTION_WEIGHT = {"1k": 1, "2k": 1, "4k": 2}


@dataclass(frozen=True)
class ImagineOptions:
    """What a user asked for, as parsed from the slash command."""

    prompt: str
    model: str
    ratio: str | None = None
    resolution: str | None = None
    quality: str | None = None
    count: int = 1
    style: str | None = None
    images: int = 0  # reference images sent with the request (their bytes travel apart)
    replaced_model: str | None = None  # an Edit of a text-only model's image uses another

    def normalized(self) -> ImagineOptions:
        """Strip the prompt and lower-case the enumerated values."""
        return replace(
            self,
            prompt=self.prompt.strip(),
            model=self.model.strip(),
            resolution=self.resolution.lower() if self.resolution else None,
            quality=self.quality.lower() if self.quality else None,
            style=self.style.lower() if self.style else None,
        )


def edit_options(
    model: str,
    source: Mapping[str, Any],
    prompt: str,
    ratio: str | None,
    *,
    takes_images: Callable[[str], bool],
    fallback: str,
) -> ImagineOptions:
    """Return the options of an Edit of a result made by ``model`` with ``source`` options.

    The Edit keeps the result's model when that model takes a reference image; else it
    uses ``fallback`` (``DEFAULT_EDIT_MODEL``), records the model it replaced, and drops
    the resolution and quality, which were the replaced model's.
    """
    if takes_images(model):
        return ImagineOptions(
            prompt=prompt,
            model=model,
            ratio=ratio,
            resolution=source.get("resolution"),
            quality=source.get("quality"),
        )
    return ImagineOptions(prompt=prompt, model=fallback, ratio=ratio, replaced_model=model)
