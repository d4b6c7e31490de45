"""Model families: the request rules shared by a group of models, from LemonData's contract."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bot.catalog.options import (
    BACKGROUNDS,
    DALLE_QUALITIES,
    GPT_QUALITIES,
    MAX_COUNT,
    OUTPUT_FORMATS,
    RESOLUTIONS,
    STYLES,
)


class ImageMode(Enum):
    """How a family takes reference images, if at all (the gateway's operations)."""

    NONE = "none"  # text to image only
    EDIT = "image-edit"  # POST /v1/images/edits, files as image[]
    IMAGE_TO_IMAGE = "image-to-image"  # POST /v1/images/generations, operation + image


@dataclass(frozen=True)
class ImageInput:
    """Whether a model takes reference images, how, and how many."""

    mode: ImageMode
    max_images: int = 0

    @property
    def accepted(self) -> bool:
        """Whether the model takes any reference image."""
        return self.mode is not ImageMode.NONE and self.max_images > 0


TEXT_ONLY = ImageInput(ImageMode.NONE)


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
    # Reference images: GPT Image edits take up to 16; a multipart generation (Gemini,
    # Nano Banana) carries one upload; FLUX edits one source image.
    image_input: ImageInput = TEXT_ONLY
    # The output options of LemonData's contract, where the family takes them (the
    # gateway's own description of a model wins: :mod:`bot.catalog.specs`).
    backgrounds: tuple[str, ...] = ()
    output_formats: tuple[str, ...] = ()
    compression: bool = False  # output_compression, for jpeg and webp
    seed: bool = False
    negative_prompt: bool = False
    moderation: bool = False  # the server's strictness (gpt-image-2: auto or low)

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
        image_input=ImageInput(ImageMode.EDIT, 16),
        backgrounds=("auto", "opaque"),  # not transparent (the contract says so)
        output_formats=OUTPUT_FORMATS,
        compression=True,
        moderation=True,
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
        image_input=ImageInput(ImageMode.IMAGE_TO_IMAGE, 1),
        seed=True,
        negative_prompt=True,
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
        image_input=ImageInput(ImageMode.IMAGE_TO_IMAGE, 1),
        seed=True,
        negative_prompt=True,
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
        image_input=ImageInput(ImageMode.EDIT, 1),
        backgrounds=BACKGROUNDS,
        output_formats=OUTPUT_FORMATS,
        compression=True,
        seed=True,
        negative_prompt=True,
    ),
)

CONSERVATIVE = Family(name="other", geometry=Geometry.ASPECT_RATIO)


def family_of(model: str) -> Family:
    """Return the family rules for ``model``; unknown models get the conservative rule."""
    for family in FAMILIES:
        if family.matches(model):
            return family
    return CONSERVATIVE


# The most images one member may attach to a request (the /imagine options image..image3).
MAX_REFERENCE_IMAGES = 3


def image_input_of(model: str, operations: tuple[str, ...] | None = None) -> ImageInput:
    """Return how ``model`` takes reference images.

    ``operations`` is what the gateway's model list says the model supports (its
    ``supported_operations``), which wins when known; the family table is the fallback.
    """
    family = family_of(model)
    if operations is None:
        return family.image_input
    known = family.image_input.max_images or 1
    if ImageMode.EDIT.value in operations and family.image_input.mode is not (
        ImageMode.IMAGE_TO_IMAGE
    ):
        return ImageInput(ImageMode.EDIT, known)
    if ImageMode.IMAGE_TO_IMAGE.value in operations:
        return ImageInput(ImageMode.IMAGE_TO_IMAGE, 1)
    if ImageMode.EDIT.value in operations:
        return ImageInput(ImageMode.EDIT, known)
    return TEXT_ONLY
