"""JobService: intake of image requests, and the member's hold on their jobs.

``accept`` validates (before anything is reserved or sent), checks the server's rules,
reserves quota and writes the job row, atomically (with the requests arriving alongside,
in one transaction: :mod:`bot.jobs.admission`). Once the interaction is answered,
``acknowledged`` hands the job to the :class:`~bot.jobs.lifecycle.JobRunner`, which
runs it in the background. ``cancel`` takes back a job still waiting for a slot.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import asdict, dataclass, replace

from bot.background import Background
from bot.billing import Price, estimate_cost
from bot.catalog import (
    ImageInput,
    ImagineOptions,
    ModelCatalog,
    ModelSpec,
    build_request,
    cost_units,
    validate,
)
from bot.config import Settings
from bot.errors import InvalidRequest, NotAllowed, ServiceUnavailable
from bot.i18n import ENGLISH, locale_of
from bot.jobs.admission import Accepted, Admissions
from bot.jobs.delivery import Delivery
from bot.jobs.formats import pixels_of
from bot.jobs.lifecycle import JobRunner
from bot.jobs.policies import Policies
from bot.jobs.readings import Readings
from bot.lemondata import LemonDataClient
from bot.lemondata.downloads import Download
from bot.moderation import ModerationService
from bot.quota import QuotaService, api_user
from bot.scheduler.loop import PollBudget
from bot.store import InputImage, Job, JobDraft, Store
from bot.store.group import GroupCommit
from bot.store.outage import DatabaseUnavailable, impatient

log = logging.getLogger(__name__)

CATALOG_WAIT_SECONDS = 1.5
INTERACTION_TOKEN_LIFETIME = 15 * 60


@dataclass(frozen=True)
class JobRequest:
    """A /imagine invocation: the user's options and where the answer must go."""

    options: ImagineOptions
    guild_id: int
    channel_id: int
    user_id: int
    application_id: int
    interaction_id: int | None
    interaction_token: str | None
    upload_limit: int
    received_at: float
    role_ids: tuple[int, ...] = ()
    inputs: tuple[InputImage, ...] = ()  # reference images, already checked bytes
    parent_id: int | None = None  # the job a Reroll, Edit or Remix starts from
    kind: str = "imagine"
    locale: str = ENGLISH  # the requester's language: their cards are in it (bot.i18n)
    age_restricted: bool = False  # asked in an age-restricted channel (never in a DM)


def draft_for(
    request: JobRequest,
    options: ImagineOptions,
    weights: Mapping[str, int],
    accepts: ImageInput | None = None,
    spec: ModelSpec | None = None,
    price: Price | None = None,
) -> JobDraft:
    """Return the job row a request with validated ``options`` makes (nothing reserved).

    ``accepts``: how the model takes reference images, as validated (the gateway's word);
    ``spec``: what else it takes, as validated; ``price``: the gateway's price of the
    model (None: unknown), from which the worst-case cost is estimated.
    """
    user = api_user(request.guild_id, request.user_id)
    body = build_request(options, user, accepts, spec)
    estimate = (
        estimate_cost(
            price,
            prompt=options.prompt,
            count=options.count,
            pixels=pixels_of(body),
            quality=options.quality,
            references=len(request.inputs),
        )
        if price is not None
        else 0
    )
    return JobDraft(
        guild_id=request.guild_id,
        channel_id=request.channel_id,
        user_id=request.user_id,
        api_user=user,
        application_id=request.application_id,
        interaction_id=request.interaction_id,
        interaction_token=request.interaction_token,
        token_expires_at=(
            request.received_at + INTERACTION_TOKEN_LIFETIME if request.interaction_token else None
        ),
        upload_limit=request.upload_limit,
        model=options.model,
        options=asdict(options),
        prompt=options.prompt,
        request=body,
        quota_units=cost_units(options, weights),
        parent_id=request.parent_id,
        kind=request.kind,
        input_count=len(request.inputs),
        locale=locale_of(request.locale),
        cost_estimate=estimate,
        cost_source=None if price is not None else "unpriced",
    )


class JobService:
    """Accept, start, cancel and resume image jobs."""

    def __init__(
        self,
        *,
        store: Store,
        api: LemonDataClient,
        catalog: ModelCatalog,
        quota: QuotaService,
        moderation: ModerationService,
        delivery: Delivery,
        settings: Settings,
        background: Background,
        budget: PollBudget,
    ) -> None:
        self._store = store
        self._api = api
        self._readings = Readings()
        self._catalog = catalog
        self._quota = quota
        self._moderation = moderation
        self._settings = settings
        self._background = background
        self.runner = JobRunner(
            store=store,
            api=api,
            quota=quota,
            delivery=delivery,
            settings=settings,
            background=background,
            budget=budget,
            key=catalog,  # a refused API key refuses the next requests before reserving
            price=lambda model: self.policies.price(model),  # settled at today's price
        )
        self.policies = Policies(catalog, store.guilds, self.runner.sizes)
        self.keep_taken = self.policies.keep_taken
        self.admissions = Admissions(store, quota, background=background, caps=self.runner.caps)
        self._acknowledgements: GroupCommit[tuple[int, int | None], None] = GroupCommit(
            self._record_answers,
            name="acknowledgements",
            spawn=functools.partial(background.spawn, flush=True),
        )
        self.poller = self.runner.poller

    @property
    def finished_listeners(self) -> list[Callable[[Job], Awaitable[None]]]:
        """Coroutines called with every job whose outcome delivery has ended."""
        return self.runner.finished_listeners

    async def check(self, options: ImagineOptions, guild_id: int | None = None) -> ImagineOptions:
        """Validate options (``images`` counting the references) against the live catalog.

        With ``guild_id``, the server's default output format applies first (where the
        model takes one and the member chose none). Raises a Refusal with a short
        reason; nothing is stored. Used before reference images are downloaded, and
        again by :meth:`accept`.
        """
        if self._background.closing:
            raise ServiceUnavailable("refusal.restarting")
        if self._catalog.key_refused:
            raise ServiceUnavailable("refusal.not_set_up")
        if not await self._catalog.ensure_loaded(CATALOG_WAIT_SECONDS):
            if self._catalog.key_refused:
                raise ServiceUnavailable("refusal.not_set_up")
            raise ServiceUnavailable("refusal.models_unavailable")
        if guild_id is not None:
            options = await self.policies.server_format(options, guild_id)
        catalog = self._catalog
        return validate(
            options, catalog.is_listed, catalog.image_input, catalog.spec, catalog.takers
        )

    def takes_images(self, model: str) -> bool:
        """Whether ``model`` takes a reference image (per the gateway, else its family)."""
        return self.image_input(model).accepted

    def image_input(self, model: str) -> ImageInput:
        """Return how ``model`` takes reference images (per the gateway, else its family)."""
        return self._catalog.image_input(model)

    async def download(self, url: str, max_bytes: int) -> Download:
        """Download an image (a reference, a result's link), streamed and capped.

        The same bounded download as a result image's, in the slots of reference images
        (never a billed result's): http(s) from allowed addresses only, no API key sent,
        the body kept only up to ``max_bytes`` (larger: no bytes) and sniffed (not an
        image: ``MalformedResponseError`` with code ``not_an_image``).
        """
        return await self._api.download(url, max_bytes=max_bytes, reference=True)

    def check_reading(self, member_id: int) -> None:
        """Refuse (InvalidRequest) when the member already has a request waiting its turn."""
        self._readings.check(member_id)

    def reading(self, member_id: int) -> AbstractAsyncContextManager[None]:
        """Hold the member's one turn to read reference images (a second waits for it).

        Raises InvalidRequest (``refusal.references_busy``) when one more already waits.
        """
        return self._readings.turn(member_id)

    async def accept(self, request: JobRequest) -> Accepted:
        """Validate, check server rules, reserve quota and store a job.

        Raises a Refusal (answered ephemerally) to refuse it; nothing is reserved or
        sent in that case. The database is tried once: while it is unreachable the
        request is refused at once, instead of waiting for it as jobs do.
        """
        try:
            with impatient():
                return await self._accept(request)
        except DatabaseUnavailable:
            raise ServiceUnavailable("refusal.database_unavailable") from None

    async def _accept(self, request: JobRequest) -> Accepted:
        asked = replace(request.options, images=len(request.inputs))
        options = await self.policies.apply(
            await self.check(asked, request.guild_id),
            guild_id=request.guild_id,
            age_restricted=request.age_restricted,
            upload_limit=request.upload_limit,
        )
        accepts = self._catalog.image_input(options.model)
        spec = self._catalog.spec(options.model)
        weights = self._settings.model_weights
        price = self.policies.price(options.model)
        draft = draft_for(request, options, weights, accepts, spec, price)
        # Its own step: a blocked prompt is recorded, and that record must not roll back.
        await self._moderation.check_request(
            request.guild_id, request.user_id, options.prompt, request.channel_id
        )
        # One transaction (shared with the requests arriving alongside): queue room,
        # quota and the insert see one state.
        accepted = await self.admissions.admit(draft, request.role_ids, request.inputs)
        job, position = accepted.job, accepted.position
        if position is not None:
            self.runner.positions[job.id] = position  # the first response shows it
        log.info(
            "job %s accepted: guild %s user %s model %s units %s position %s",
            job.id,
            job.guild_id,
            job.user_id,
            job.model,
            job.quota_units,
            position,
        )
        return accepted

    async def acknowledged(self, job_id: int, message_id: int | None) -> None:
        """Record the progress message and start the job (call after responding).

        The first answers of a burst are recorded together, in one transaction.
        """
        await self._acknowledgements.submit((job_id, message_id))
        self.runner.kick()  # it runs as soon as its server and member have a free slot

    async def _record_answers(self, answered: Sequence[tuple[int, int | None]]) -> list[None]:
        await self._store.jobs.acknowledge_many(answered)
        return [None] * len(answered)

    async def give_back(self) -> int:
        """Hand this process's job leases back at a clean stop (others take them at once).

        Call once nothing of this process runs any more; returns how many it held.
        """
        return await self.runner.leases.give_back()

    async def abandon(self, job_id: int) -> None:
        """Cancel a job whose interaction could not be answered; release its quota."""
        await self.runner.drop(job_id)
        self.runner.kick()

    async def cancel(
        self, job_id: int, *, guild_id: int, by_user_id: int, moderator: bool = False
    ) -> None:
        """Cancel a job still waiting for a slot (nothing was sent, so nothing is billed).

        Only the requester or a moderator of the job's own server may (a button pressed
        in another server is refused); the quota is released and the card says so. The
        job is leased to this process in the same write, so that no other process claims
        its delivery (it is delivered here, at once).
        """
        leases = self.runner.leases
        async with self._store.transaction():
            job = await self._store.jobs.get(job_id)
            if job is None or job.guild_id != guild_id:
                raise InvalidRequest("refusal.request_gone")
            if job.user_id != by_user_id and not moderator:
                raise NotAllowed("refusal.not_your_request")
            cancelled = await self._store.jobs.transition(
                job_id,
                ["queued"],
                "cancelled",
                lease_to=(leases.owner, leases.until()),
                error_code="cancelled",
                finished_at=time.time(),
            )
            if cancelled is None:
                raise InvalidRequest("refusal.already_sent")
            await self._quota.release(job_id)
        leases.hold(cancelled)
        self.runner.positions.pop(job_id, None)
        log.info("job %s cancelled by %s", job_id, by_user_id)
        self.runner.kick()
        await self.runner.deliver(job_id)

    async def parent(self, job_id: int | None, guild_id: int | None) -> Job | None:
        """Return a job a Remix starts from (None if gone or of another server); no bytes read."""
        job = await self._store.jobs.get(job_id) if job_id is not None else None
        if job is None or (guild_id is not None and job.guild_id != guild_id):
            return None
        return job

    async def source(
        self, job_id: int, guild_id: int | None, *, inputs: bool = True
    ) -> tuple[Job, list[InputImage]]:
        """Return a job to start a new one from (Reroll, Edit), with its reference images.

        Refused when the job is gone, belongs to another server, or its prompt was
        erased by log retention. ``inputs=False`` reads no image bytes (before a form
        opens or a private answer, within Discord's 3 s): the list is then empty.
        """
        job = await self._store.jobs.get(job_id)
        if job is None or (guild_id is not None and job.guild_id != guild_id):
            raise InvalidRequest("refusal.image_gone")
        if not job.prompt:
            raise InvalidRequest("refusal.prompt_retention")
        if not (inputs and job.input_count):
            return job, []
        return job, [i for i in await self._store.jobs.inputs(job_id) if i.data is not None]

    async def activity(self, guild_id: int, user_id: int) -> tuple[int, int]:
        """Return a member's (running, waiting) job counts."""
        count = self._store.queue.count
        return (
            await count(guild_id, user_id, queued=False),
            await count(guild_id, user_id, queued=True),
        )

    async def resume(self) -> dict[str, int]:
        """Pick up every unfinished job after a start (see :mod:`bot.jobs.lifecycle`)."""
        return await self.runner.resume()

    def start_background(self) -> None:
        """Start the poller and the lease upkeep."""
        self.runner.start()
