"""Model catalog: which models exist (from the gateway) and what each family accepts.

The gateway's list of recommended image models decides *which* models may be used;
the family rules below (taken from LemonData's image API contract) decide *how* a
request for each model must look. :func:`validate` and :func:`build_request` are
pure functions; :class:`ModelCatalog` adds the cached, refreshed model list.

The one place that translates the user's ``ratio`` is :func:`geometry_for`:

* Gemini families and models without a family rule get ``aspect_ratio``;
* gpt-image-2 gets a ``WIDTHxHEIGHT`` ``size`` that satisfies its size contract and
  is as close to the ratio as that contract allows (see :func:`gpt_image_size`);
* DALL-E 3 gets the closest of its three sizes;
* prompt-only models get nothing, and refuse a ratio other than 1:1.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from bot.errors import InvalidRequest
from bot.lemondata import LemonDataError, ModelInfo

log = logging.getLogger(__name__)

MAX_PROMPT_LENGTH = 4000
RATIOS = ("1:1", "16:9", "9:16", "3:2", "2:3", "4:3", "3:4", "21:9")
DEFAULT_RATIO = "1:1"
RESOLUTIONS = ("1k", "2k", "4k")
GPT_QUALITIES = ("auto", "low", "medium", "high")
DALLE_QUALITIES = ("standard", "hd")
STYLES = ("vivid", "natural")
MAX_COUNT = 4
RESOLUTION_WEIGHT = {"1k": 1, "2k": 1, "4k": 2}

# gpt-image-2 size contract
GPT_EDGE_STEP = 16
GPT_MAX_EDGE = 3840
GPT_MAX_RATIO = 3.0
GPT_MIN_PIXELS = 655_360
GPT_MAX_PIXELS = 8_294_400
GPT_TARGET_PIXELS = {"1k": 1024 * 1024, "2k": 2048 * 2048, "4k": GPT_MAX_PIXELS}
# How much a 1 % miss in pixel count weighs against a 1 % miss in aspect ratio.
GPT_AREA_WEIGHT = 0.1

DALLE_SIZES = ((1024, 1024), (1792, 1024), (1024, 1792))


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


def _ratio_value(ratio: str) -> float:
    width, _, height = ratio.partition(":")
    return int(width) / int(height)


@functools.cache
def gpt_image_size(ratio: str, resolution: str | None = None) -> tuple[int, int]:
    """Return the gpt-image-2 ``(width, height)`` closest to ``ratio`` at ``resolution``.

    Candidates satisfy the whole size contract (multiples of 16, longest edge at most
    3840, long/short at most 3, pixels within bounds). Among them the winner minimises
    ``|log aspect error| + GPT_AREA_WEIGHT * |log pixel error|`` against the target
    pixel count of the resolution (1k by default), so the shape is kept first and the
    size second.
    """
    target_ratio = _ratio_value(ratio)
    target_pixels = GPT_TARGET_PIXELS[resolution or "1k"]
    best: tuple[float, int, int] | None = None
    for height in range(GPT_EDGE_STEP, GPT_MAX_EDGE + 1, GPT_EDGE_STEP):
        exact = height * target_ratio / GPT_EDGE_STEP
        for steps in {math.floor(exact), math.ceil(exact)}:
            width = steps * GPT_EDGE_STEP
            if not is_valid_gpt_size(width, height):
                continue
            score = abs(math.log(width / height / target_ratio)) + GPT_AREA_WEIGHT * abs(
                math.log(width * height / target_pixels)
            )
            if best is None or score < best[0]:
                best = (score, width, height)
    if best is None:  # pragma: no cover - every offered ratio has candidates
        raise InvalidRequest(f"gpt-image-2 has no size for ratio {ratio}.")
    return best[1], best[2]


def is_valid_gpt_size(width: int, height: int) -> bool:
    """Return True if ``width x height`` satisfies the gpt-image-2 size contract."""
    if width <= 0 or height <= 0:
        return False
    if width % GPT_EDGE_STEP or height % GPT_EDGE_STEP:
        return False
    long_edge, short_edge = max(width, height), min(width, height)
    if long_edge > GPT_MAX_EDGE or long_edge / short_edge > GPT_MAX_RATIO:
        return False
    return GPT_MIN_PIXELS <= width * height <= GPT_MAX_PIXELS


def dalle_size(ratio: str) -> tuple[int, int]:
    """Return the DALL-E 3 size whose shape is closest to ``ratio``."""
    target = math.log(_ratio_value(ratio))
    return min(DALLE_SIZES, key=lambda size: abs(math.log(size[0] / size[1]) - target))


def geometry_for(options: ImagineOptions) -> dict[str, str]:
    """Translate ``ratio`` (and resolution) into the fields the model's family takes."""
    family = family_of(options.model)
    ratio = options.ratio or DEFAULT_RATIO
    if family.geometry is Geometry.ASPECT_RATIO:
        fields = {"aspect_ratio": ratio}
        if options.resolution:
            fields["resolution"] = options.resolution
        return fields
    if family.geometry is Geometry.GPT_SIZE:
        width, height = gpt_image_size(ratio, options.resolution)
        return {"size": f"{width}x{height}"}
    if family.geometry is Geometry.DALLE_SIZE:
        width, height = dalle_size(ratio)
        return {"size": f"{width}x{height}"}
    return {}


def _choices(values: Sequence[str]) -> str:
    quoted = [f"`{v}`" for v in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def validate(options: ImagineOptions, listed: Callable[[str], bool]) -> ImagineOptions:
    """Return normalised options, or raise InvalidRequest with a short reason.

    ``listed`` says whether the gateway currently lists a model. Nothing here does
    I/O, so it runs before any quota is reserved or any request is sent.
    """
    options = options.normalized()
    if not options.prompt:
        raise InvalidRequest("Your prompt is empty: describe the image you want.")
    if len(options.prompt) > MAX_PROMPT_LENGTH:
        raise InvalidRequest(
            f"Your prompt is {len(options.prompt):,} characters long; "
            f"the limit is {MAX_PROMPT_LENGTH:,}."
        )
    if not options.model:
        raise InvalidRequest("Pick a model from the list.")
    if not listed(options.model):
        raise InvalidRequest(
            f"`{options.model[:80]}` is not an available image model. Pick one from the list."
        )
    family = family_of(options.model)
    model = f"`{options.model}`"
    if options.ratio is not None and options.ratio not in RATIOS:
        raise InvalidRequest(f"Ratio must be one of {_choices(RATIOS)}.")
    if family.geometry is Geometry.NONE and options.ratio not in (None, DEFAULT_RATIO):
        raise InvalidRequest(f"{model} takes only a prompt: leave `ratio` empty.")
    if options.resolution is not None:
        if options.resolution not in RESOLUTIONS:
            raise InvalidRequest(f"Resolution must be {_choices(RESOLUTIONS)}.")
        if options.resolution not in family.resolutions:
            raise InvalidRequest(
                f"{model} has no resolution choice: leave `resolution` empty "
                "or pick a Pro model such as `gemini-3-pro-image-preview`."
            )
    if options.quality is not None and options.quality not in family.qualities:
        if family.qualities:
            raise InvalidRequest(f"{model} takes quality {_choices(family.qualities)}.")
        raise InvalidRequest(f"{model} has no quality choice: leave `quality` empty.")
    if options.style is not None and options.style not in family.styles:
        raise InvalidRequest(f"{model} has no style choice: only `dall-e-3` takes a style.")
    if not 1 <= options.count <= family.max_count:
        images = "image" if family.max_count == 1 else "images"
        raise InvalidRequest(
            f"{model} makes at most {family.max_count} {images} per request; "
            f"you asked for {options.count}."
        )
    return options


def build_request(options: ImagineOptions, user: str) -> dict[str, Any]:
    """Build the ``POST /v1/images/generations`` body for validated ``options``."""
    family = family_of(options.model)
    body: dict[str, Any] = {
        "model": options.model,
        "prompt": options.prompt,
        "n": options.count,
        "user": user,
    }
    body.update(geometry_for(options))
    if options.quality:
        body["quality"] = options.quality
    if options.style:
        body["style"] = options.style
    if family.supports_async:
        body["async"] = True
    return body


def unit_weight(
    model: str, resolution: str | None = None, weights: Mapping[str, int] | None = None
) -> int:
    """Return what one image costs: the model weight times the resolution weight.

    The model weight is the configured one (``MODEL_WEIGHTS``), else its family's.
    """
    base = (weights or {}).get(model, family_of(model).weight)
    return base * RESOLUTION_WEIGHT.get(resolution or "1k", 1)


def cost_units(options: ImagineOptions, weights: Mapping[str, int] | None = None) -> int:
    """Return the quota units a request costs: count x :func:`unit_weight`."""
    return options.count * unit_weight(options.model, options.resolution, weights)


def describe_shape(options: ImagineOptions) -> str:
    """Return how the ratio was sent, e.g. ``16:9`` or ``16:9 (1360x768)``."""
    fields = geometry_for(options)
    ratio = options.ratio or DEFAULT_RATIO
    if "size" in fields:
        return f"{ratio} ({fields['size']})"
    if not fields:
        return "model default"
    return f"{ratio}, {options.resolution}" if options.resolution else ratio


@dataclass
class ModelCatalog:
    """The gateway's recommended image models, cached and refreshed in the background.

    Readers never wait on the network unless nothing has ever been fetched;
    :meth:`names` is instant and suits Discord's 3-second autocomplete window.
    """

    fetch: Callable[[], Awaitable[list[ModelInfo]]]
    max_age: float = 600.0
    clock: Callable[[], float] = time.monotonic
    _models: list[ModelInfo] = field(default_factory=list)
    _fetched_at: float | None = None
    _refreshing: asyncio.Task[None] | None = None

    def names(self) -> list[str]:
        """Return the cached model ids, best first (may be empty before the first fetch)."""
        self._refresh_if_stale()
        return [m.id for m in self._models]

    def is_listed(self, model: str) -> bool:
        """Return True if the last fetched list has ``model``."""
        return any(m.id == model for m in self._models)

    @property
    def loaded(self) -> bool:
        """Whether a list has been fetched at least once."""
        return self._fetched_at is not None

    async def ensure_loaded(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for a first list; return whether one is loaded."""
        self._refresh_if_stale()
        if not self.loaded and self._refreshing is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._refreshing), timeout)
        return self.loaded

    async def refresh(self) -> None:
        """Fetch the list now; keep the previous list if the gateway fails."""
        try:
            models = await self.fetch()
        except LemonDataError as exc:
            log.warning("could not refresh the image model list: %r", exc)
            return
        self._models = models
        self._fetched_at = self.clock()
        log.info("image model list refreshed: %d models", len(models))

    def suggest(self, typed: str, limit: int = 25) -> list[str]:
        """Return up to ``limit`` model ids matching what the user typed."""
        needle = typed.strip().lower()
        names = self.names()
        hits = [n for n in names if needle in n.lower()] if needle else names
        return hits[:limit]

    def _refresh_if_stale(self) -> None:
        fresh = self._fetched_at is not None and self.clock() - self._fetched_at < self.max_age
        if fresh or (self._refreshing is not None and not self._refreshing.done()):
            return
        self._refreshing = asyncio.get_running_loop().create_task(
            self.refresh(), name="catalog-refresh"
        )
