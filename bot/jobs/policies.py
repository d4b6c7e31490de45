"""Policies: what the bot and the server decide for a request, beside what the member asked.

Applied at intake (:meth:`bot.jobs.service.JobService.accept`), after validation:

* the gateway's ``moderation`` is the server's strictness (``low`` only in an
  age-restricted channel when the server says so; a DM never is), for the models that
  take it; the job records it, and so does the audit post;
* a model the gateway describes as taking a seed gets one drawn when the member gave
  none, so Details can show it (Reroll draws another, Edit and Remix keep it); the
  family table alone never adds a parameter the member did not ask for;
* with no format chosen (nor a server default), the bot picks PNG or WebP
  (:class:`~bot.jobs.formats.OutputSizes`).

And the model's price, from which a job's worst case is estimated (:mod:`bot.billing`).
"""

from __future__ import annotations

import secrets
from dataclasses import replace

from bot.billing import Price, price_of
from bot.catalog import MAX_SEED, ImagineOptions, ModelCatalog
from bot.jobs.formats import OutputSizes
from bot.store.guilds import GuildStore


class Policies:
    """The bot's and the server's decisions for a request (see the module docstring)."""

    def __init__(self, catalog: ModelCatalog, guilds: GuildStore, sizes: OutputSizes) -> None:
        self._catalog = catalog
        self._guilds = guilds
        self._sizes = sizes

    async def server_format(self, options: ImagineOptions, guild_id: int) -> ImagineOptions:
        """Apply the server's default output format, where the model takes it."""
        if options.output_format is not None:
            return options
        default = (await self._guilds.settings(guild_id)).output_format
        if default and default in self._catalog.spec(options.model.strip()).output_formats:
            return replace(options, output_format=default)
        return options

    async def apply(
        self, options: ImagineOptions, *, guild_id: int, age_restricted: bool, upload_limit: int
    ) -> ImagineOptions:
        """Return validated ``options`` with the strictness, a seed and the format decided."""
        spec = self._catalog.spec(options.model)
        if spec.takes("moderation"):
            settings = await self._guilds.settings(guild_id)
            low = settings.strictness == "low_age_restricted" and age_restricted
            options = replace(options, moderation="low" if low else "auto")
        if spec.described and spec.takes("seed") and options.seed is None:
            options = replace(options, seed=secrets.randbelow(MAX_SEED + 1))
        if spec.takes("output_format") and options.output_format is None:
            picked = self._sizes.pick(options, spec, upload_limit)
            options = replace(options, output_format=picked, format_picked=picked is not None)
        return options

    def price(self, model: str) -> Price | None:
        """Return the gateway's price of ``model`` (micro-dollars), or None when unknown."""
        info = self._catalog.info(model)
        return price_of(info.pricing if info else None, self._catalog.price_detail(model))

    def keep_taken(self, options: ImagineOptions) -> ImagineOptions:
        """Drop the seed and output options a new job's model does not take.

        An Edit or a Remix carries its parent's (or the form's) seed and outputs; a
        model that takes none of them makes its image without them, rather than refuse.
        """
        spec = self._catalog.spec(options.model.strip())
        return replace(
            options,
            background=options.background if spec.takes("background") else None,
            output_format=options.output_format if spec.takes("output_format") else None,
            compression=options.compression if spec.takes("compression") else None,
            negative_prompt=options.negative_prompt if spec.takes("negative_prompt") else None,
            seed=options.seed if spec.takes("seed") else None,
        )
