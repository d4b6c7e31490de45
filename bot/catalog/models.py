"""ModelCatalog: the gateway's recommended image models, cached and refreshed."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from bot.catalog.families import ImageInput, image_input_of
from bot.catalog.specs import ModelSpec, disagreements, spec_of
from bot.lemondata import AuthenticationError, GatewayError, ModelDescription, ModelInfo

log = logging.getLogger(__name__)

# Runs a refresh in the background: the bot's one owner of background tasks
# (``Background.spawn``), which cancels it at close.
Spawn = Callable[[Coroutine[Any, Any, None], str], "asyncio.Task[Any]"]
# A description is asked again after this long (they change far less than the list).
DESCRIPTION_MAX_AGE = 6 * 3600.0
# Between two description fetches, and while the request budget has no room to spare.
DESCRIBE_GAP_SECONDS = 1.0


@dataclass
class ModelCatalog:
    """The gateway's recommended image models, cached and refreshed in the background.

    Readers never wait on the network unless nothing has ever been fetched;
    :meth:`names` is instant and suits Discord's 3-second autocomplete window. Refreshes
    run through ``spawn``: the bot's background owner's (``Background.spawn``), so that
    close cancels one in flight.

    After each list, the models' descriptions (``describe``: ``GET /v1/models/{model}``)
    are fetched in the background, one at a time, only while the request budget has
    room to spare (``spare``) and only when missing or older than
    :data:`DESCRIPTION_MAX_AGE`: they never take a request a member's job could use, and
    nothing a member waits for reads them from the network. :meth:`spec` is what a model
    takes: its description first, its family's rules where there is none yet.
    """

    fetch: Callable[[], Awaitable[list[ModelInfo]]]
    spawn: Spawn
    max_age: float = 600.0
    describe: Callable[[str], Awaitable[ModelDescription]] | None = None
    # GET /v1/pricing: each model's detailed prices, fetched beside the descriptions
    pricing: Callable[[], Awaitable[dict[str, dict[str, str]]]] | None = None
    _priced_at: float | None = None
    spare: Callable[[], bool] = lambda: True
    describe_gap: float = DESCRIBE_GAP_SECONDS
    _descriptions: dict[str, tuple[float, ModelDescription]] = field(default_factory=dict)
    _specs: dict[str, ModelSpec] = field(default_factory=dict)
    _told: set[str] = field(default_factory=set)  # models whose disagreement was logged
    _describing: asyncio.Task[Any] | None = None
    # model -> detailed token prices (GET /v1/pricing's pricing_summary), when fetched
    _price_details: dict[str, dict[str, str]] = field(default_factory=dict)
    _key_refused: bool = False  # the gateway answered 401/403: an admin must fix the key
    _models: list[ModelInfo] = field(default_factory=list)
    _fetched_at: float | None = None
    _refused_at: float = 0.0
    _refreshing: asyncio.Task[Any] | None = None

    def names(self) -> list[str]:
        """Return the cached model ids, best first (may be empty before the first fetch)."""
        self._refresh_if_stale()
        return [m.id for m in self._models]

    def is_listed(self, model: str) -> bool:
        """Return True if the last fetched list has ``model``."""
        return self.info(model) is not None

    def info(self, model: str) -> ModelInfo | None:
        """Return what the last fetched list says of ``model``, or None."""
        return next((m for m in self._models if m.id == model), None)

    def models(self) -> list[ModelInfo]:
        """Return the cached models, best first (may be empty before the first fetch)."""
        self._refresh_if_stale()
        return list(self._models)

    def image_input(self, model: str) -> ImageInput:
        """Return how ``model`` takes reference images (the gateway's word, else its family)."""
        info = self.info(model)
        return image_input_of(model, info.operations if info else None)

    def price_detail(self, model: str) -> dict[str, str]:
        """Return the detailed token prices the gateway published for ``model`` ({} if none)."""
        return self._price_details.get(model, {})

    def description(self, model: str) -> ModelDescription | None:
        """Return the gateway's last description of ``model``, or None (not fetched yet)."""
        entry = self._descriptions.get(model)
        return entry[1] if entry else None

    def spec(self, model: str) -> ModelSpec:
        """Return what ``model`` takes: the gateway's description, else its family's rules."""
        spec = self._specs.get(model)
        if spec is None:
            spec = self._specs[model] = spec_of(model, self.description(model))
        return spec

    def takers(self, option: str, value: str | None = None) -> list[str]:
        """Return the listed models that take ``option`` (with ``value``, when given)."""
        found = []
        for name in self.names():
            spec = self.spec(name)
            if not spec.takes(option):
                continue
            values = {"background": spec.backgrounds, "output_format": spec.output_formats}
            if value is None or value in values.get(option, (value,)):
                found.append(name)
        return found

    def learn_description(self, description: ModelDescription) -> None:
        """Keep ``description`` (and say once per model where it overrides the table)."""
        model = description.model
        self._descriptions[model] = (time.time(), description)
        self._specs.pop(model, None)
        said = disagreements(model, description)
        if said and model not in self._told:
            self._told.add(model)
            log.info(
                "the gateway's description of %s differs from its family table (%s); "
                "the gateway's is used",
                model,
                said,
            )

    async def _fetch_pricing(self) -> None:
        """Fetch the detailed prices when stale, with a request to spare."""
        stale = self._priced_at is None or time.time() - self._priced_at >= DESCRIPTION_MAX_AGE
        if self.pricing is None or not stale:
            return
        await self._room()
        try:
            self._price_details = await self.pricing()
        except GatewayError as exc:
            log.warning("could not fetch the gateway's prices: %r", exc)
            return
        self._priced_at = time.time()
        log.info("image model prices refreshed: %d models", len(self._price_details))

    async def _room(self) -> None:
        """Return once the request budget has room to spare (it is asked every gap)."""
        for _ in itertools.count():
            if self.spare():
                return
            await asyncio.sleep(self.describe_gap)

    async def describe_all(self) -> None:
        """Fetch the descriptions that are missing or stale, one at a time, with spare room."""
        if self.describe is None:
            return
        await self._fetch_pricing()
        fetched = 0
        for info in list(self._models):
            entry = self._descriptions.get(info.id)
            if entry is not None and time.time() - entry[0] < DESCRIPTION_MAX_AGE:
                continue
            await self._room()
            try:
                self.learn_description(await self.describe(info.id))
            except AuthenticationError:
                self.key_rejected()
                return
            except GatewayError as exc:
                log.warning("could not fetch the description of %s: %r", info.id, exc)
            fetched += 1
            await asyncio.sleep(self.describe_gap)
        if fetched:
            log.info("image model descriptions refreshed: %d models", fetched)

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

    @property
    def key_refused(self) -> bool:
        """Whether the gateway refused the API key (401/403) at its last word on it.

        Set by a refused model-list fetch, create or poll (:meth:`key_rejected`), cleared
        by any request with the key that succeeds (:meth:`key_accepted`). While it is
        set, a read asks the gateway again now and then (a list fetch, in the background),
        so that a key the gateway accepts again is noticed without a member's request.
        """
        if self._key_refused:
            self._refresh_if_stale()
        return self._key_refused

    def key_rejected(self) -> None:
        """Record that a request with the key was answered 401/403 (the client logged it)."""
        self._key_refused = True
        self._refused_at = time.time()

    def key_accepted(self) -> None:
        """Record that a request with the key succeeded: members are accepted again."""
        if self._key_refused:
            self._key_refused = False
            log.info("LemonData accepts LEMONDATA_API_KEY again")

    async def refresh(self) -> None:
        """Fetch the list now; keep the previous list if the gateway fails."""
        try:
            models = await self.fetch()
        except AuthenticationError:
            self.key_rejected()
            return
        except GatewayError as exc:
            log.warning("could not refresh the image model list: %r", exc)
            return
        self.key_accepted()
        self._models = models
        self._fetched_at = time.time()
        log.info("image model list refreshed: %d models", len(models))
        if self.describe is not None and (self._describing is None or self._describing.done()):
            self._describing = self.spawn(self.describe_all(), "catalog-describe")

    def suggest(self, typed: str, limit: int = 25) -> list[str]:
        """Return up to ``limit`` model ids matching what the user typed."""
        needle = typed.strip().lower()
        names = self.names()
        hits = [n for n in names if needle in n.lower()] if needle else names
        return hits[:limit]

    def _refresh_if_stale(self) -> None:
        now = time.time()
        fresh = self._fetched_at is not None and now - self._fetched_at < self.max_age
        # A refused key will not start working by itself: ask again only now and then.
        refused = self._key_refused and now - self._refused_at < self.max_age
        if fresh or refused or (self._refreshing is not None and not self._refreshing.done()):
            return
        self._refreshing = self.spawn(self.refresh(), "catalog-refresh")
