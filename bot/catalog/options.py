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
BACKGROUNDS = ("auto", "opaque", "transparent")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
TRANSPARENT_FORMATS = ("png", "webp")  # a transparent background needs an alpha channel
COMPRESSED_FORMATS = ("jpeg", "webp")  # compression applies to these only
MAX_COMPRESSION = 100
MAX_NEGATIVE_PROMPT_LENGTH = 1000
MAX_SEED = 2**32 - 1
STRICTNESS = ("auto", "low")  # the gateway's moderation values
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
    background: str | None = None
    output_format: str | None = None
    compression: int | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    # Set by the bot, never by the member: the format it picked when none was asked
    # (``output_format`` then holds it), and the server's strictness for this channel.
    format_picked: bool = False
    moderation: str | None = None

    def normalized(self) -> ImagineOptions:
        """Strip the prompt and lower-case the enumerated values."""
        return replace(
            self,
            prompt=self.prompt.strip(),
            model=self.model.strip(),
            resolution=self.resolution.lower() if self.resolution else None,
            quality=self.quality.lower() if self.quality else None,
            style=self.style.lower() if self.style else None,
            background=self.background.lower() if self.background else None,
            output_format=_format(self.output_format),
            negative_prompt=(self.negative_prompt or "").strip() or None,
        )


def _format(value: str | None) -> str | None:
    """Lower-case an output format; ``jpg`` is ``jpeg``."""
    value = value.strip().lower() if value else None
    return "jpeg" if value == "jpg" else value or None


def rerolled(options: ImagineOptions) -> ImagineOptions:
    """Return the options of a Reroll: the same request, with a new seed drawn.

    What the bot decided for the first job (its seed, a format it picked, the server's
    strictness) is decided again for the new one.
    """
    return replace(
        options,
        images=0,
        seed=None,
        moderation=None,
        output_format=None if options.format_picked else options.output_format,
        format_picked=False,
    )


def edit_options(
    model: str,
    source: Mapping[str, Any],
    prompt: str,
    ratio: str | None,
    *,
    takes_images: Callable[[str], bool],
    fallback: str,
    seed: int | None = None,
) -> ImagineOptions:
    """Return the options of an Edit of a result made by ``model`` with ``source`` options.

    The Edit keeps the result's model when that model takes a reference image, with
    its resolution, quality and output options; else it uses ``fallback``
    (``DEFAULT_EDIT_MODEL``), records the model it replaced, and drops what was the
    replaced model's. ``seed`` is the form's (the parent's unless the member changed it).
    """
    if takes_images(model):
        picked = bool(source.get("format_picked"))
        return ImagineOptions(
            prompt=prompt,
            model=model,
            ratio=ratio,
            resolution=source.get("resolution"),
            quality=source.get("quality"),
            background=source.get("background"),
            output_format=None if picked else source.get("output_format"),
            compression=source.get("compression"),
            negative_prompt=source.get("negative_prompt"),
            seed=seed,
        )
    return ImagineOptions(
        prompt=prompt, model=fallback, ratio=ratio, replaced_model=model, seed=seed
    )
