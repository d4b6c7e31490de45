"""An in-process LemonBot wired to the fake Discord and the LemonData emulator.

The bot logs in over REST (which runs its real ``setup_hook``: cogs, resume, poller,
command sync) but opens no gateway; tests feed it interaction payloads through
discord.py's own ``parse_interaction_create``, exactly as the gateway would.

Tests start it through the ``running_bot`` fixture (tests/conftest.py), which hands
:func:`start_bot` the test's ``tmp_path``, ``monkeypatch`` and fakes.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import discord
import httpx
import yarl

from bot.client import LemonBot
from bot.config import Settings
from bot.store import Job, JobFilter, Store
from tests.fakes.fake_discord import FakeDiscord, FakeInteraction, FakeUser
from tests.fakes.lemondata import LemonDataEmulator

# How often a test re-reads a job it waits for (see :func:`wait_for_job`).
STORE_POLL_SECONDS = 0.01


@dataclasses.dataclass
class BotEnv:
    """A logged-in bot plus the two fakes it talks to."""

    bot: LemonBot
    fake: FakeDiscord
    lemondata: LemonDataEmulator
    db: Store

    def send(self, name: str, options: dict[str, Any] | None = None, **kw: Any) -> FakeInteraction:
        """Deliver an INTERACTION_CREATE to the bot; return the fake's interaction record."""
        payload = self.fake.interaction_payload(name, options, **kw)
        self.bot._connection.parse_interaction_create(payload)
        interaction = self.fake.get_interaction(int(payload["id"]))
        assert interaction is not None
        return interaction

    def click(
        self,
        shown: FakeInteraction,
        label: str,
        user: FakeUser,
        message: dict[str, Any] | None = None,
    ) -> FakeInteraction:
        """Press a button on the message ``shown`` answered with (MESSAGE_COMPONENT).

        The fake builds the type-3 payload (:meth:`FakeDiscord.component_payload`),
        handed to discord.py's own parse_interaction_create, which routes it to the view
        or dynamic item. ``message`` replaces the current message (a client that has not
        yet seen an edit still shows, and can press, the old buttons).
        """
        message = message or shown.original
        assert message is not None
        payload = self.fake.component_payload(message, label=label, user=user)
        self.bot._connection.parse_interaction_create(payload)
        return self.fake.get_interaction(payload["id"])

    async def imagine(self, user: FakeUser | None = None, **options: Any) -> FakeInteraction:
        """Run /imagine and wait for its first callback."""
        interaction = self.send("imagine", options, user=user or self.fake.alice)
        await self.fake.wait_for_callback(interaction)
        return interaction

    async def job_for(self, interaction: FakeInteraction) -> Job:
        """Return the stored job of an interaction."""
        for job in await self.db.jobs.search(JobFilter(), limit=1000):
            if job.interaction_id == interaction.id:
                return job
        raise AssertionError(f"no job for interaction {interaction.id}")

    async def wait_for_job(
        self, job_id: int, predicate: Callable[[Job], bool], timeout: float = 10.0
    ) -> Job:
        """Wait until the stored job satisfies ``predicate``; return it (see below)."""
        return await wait_for_job(self.db, job_id, predicate, timeout)

    async def settled(self, job_id: int, timeout: float = 10.0) -> Job:
        """Wait until a job is terminal and its outcome delivery was attempted."""
        return await self.wait_for_job(
            job_id, lambda j: j.terminal and j.delivery_state != "pending", timeout
        )


async def wait_for_job(
    store: Store, job_id: int, predicate: Callable[[Job], bool], timeout: float = 10.0
) -> Job:
    """Wait until the stored job satisfies ``predicate``; return it.

    The bot does not announce its writes (production code has no waiters to wake), so
    this re-reads the job every STORE_POLL_SECONDS until ``timeout``: a bounded condition
    wait on the ledger, like the e2e harness's, not a guessed sleep.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        job = await store.jobs.get(job_id)
        if job is not None and predicate(job):
            return job
        if loop.time() >= deadline:
            raise AssertionError(f"job {job_id}: condition still false after {timeout}s: {job!r}")
        await asyncio.sleep(STORE_POLL_SECONDS)


def settings_for(
    fake: FakeDiscord, lemondata: LemonDataEmulator, db_path: Path, **overrides: Any
) -> Settings:
    """Settings that point the bot at the fakes, with fast polling."""
    base = Settings(
        discord_token=fake.bot_token,
        lemondata_api_key=lemondata.api_key,
        lemondata_base_url=lemondata.base_url,
        database=db_path,
        poll_interval_seconds=0.01,
        poll_max_interval_seconds=0.05,
    )
    return dataclasses.replace(base, **overrides)


# What the ``running_bot`` fixture returns: ``running_bot(database=..., **settings)``.
StartBot = Callable[..., AbstractAsyncContextManager[BotEnv]]


@asynccontextmanager
async def start_bot(
    tmp_path: Path,
    monkeypatch: Any,
    *,
    fake: FakeDiscord,
    lemondata: LemonDataEmulator,
    database: Path | str | None = None,
    **overrides: Any,
) -> AsyncIterator[BotEnv]:
    """Start a LemonBot against the fakes; close it on exit.

    ``database`` (a SQLite path or a PostgreSQL URL, e.g. the ``database_url`` fixture)
    replaces the default SQLite file in ``tmp_path``.
    """
    monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
    monkeypatch.setattr(
        discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
    )
    settings = settings_for(fake, lemondata, tmp_path / "bot.db", **overrides)
    async with (
        httpx.AsyncClient(verify=False) as http,
        Store.open(database or settings.database) as db,
    ):
        bot = LemonBot(settings=settings, store=db, http=http)
        try:
            await bot.login(settings.discord_token)
            # No gateway here: hand the bot the guild as GUILD_CREATE would.
            bot._connection.parse_guild_create(fake.guild_payload())
            yield BotEnv(bot=bot, fake=fake, lemondata=lemondata, db=db)
        finally:
            await bot.close()
