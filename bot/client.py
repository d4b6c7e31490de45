"""LemonBot: the composition of every service, wired to Discord's lifecycle.

The bot builds and owns the services (the audit log included), connects their
listeners, and hands the cogs what they need. ``setup_hook`` loads the cogs, resumes
unfinished jobs, starts the poller and syncs commands; ``close`` stops background work
(jobs stay resumable) and disconnects. :class:`LemonTree` routes every command error
through the one error router, :func:`bot.ui.replies.report_error`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import discord
import httpx
from discord import app_commands
from discord.ext import commands

from bot.background import Background
from bot.billing.service import BillingService
from bot.catalog import ModelCatalog
from bot.config import Settings
from bot.dashboard import Gallery, WebSessions
from bot.i18n import CatalogTranslator
from bot.jobs import JobService
from bot.jobs.delivery import Delivery
from bot.jobs.references import References
from bot.lemondata import LemonDataClient
from bot.moderation import AuditLog, Members, ModerationService
from bot.quota import QuotaService
from bot.scheduler import RequestBudget
from bot.scheduler.shared import SharedBudget
from bot.store import Job, Store
from bot.ui.moderation import finished_audit_embed
from bot.ui.replies import report_error
from bot.ui.views import PERSISTENT_ITEMS, ButtonHandler

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.imagine", "cogs.results", "cogs.moderation", "cogs.guide")
COMMANDS_HASH_KEY = "commands_hash"
# Post results, link them, attach images, and reply to the progress message.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)


SHARED_DESCRIBE_GAP = 10.0  # seconds between two description fetches, several processes


def shared_budget(settings: Settings, store: Store) -> RequestBudget | SharedBudget:
    """Return the key's request budget: local, or shared by the processes of one database."""
    local = RequestBudget(rpm=settings.lemondata_rpm)
    if store.db.engine == "sqlite":
        return local  # one process: its own budget is the whole budget
    key = hashlib.sha256(settings.lemondata_api_key.encode()).hexdigest()[:32]
    return SharedBudget(local, key=key, places=store.budget)


def invite_url(application_id: int) -> str:
    """Return the link that adds the bot to a server, with the permissions it needs."""
    return discord.utils.oauth_url(
        application_id, permissions=INVITE_PERMISSIONS, scopes=("bot", "applications.commands")
    )


class LemonTree(app_commands.CommandTree["LemonBot"]):
    """The command tree, with the one error router for every app command."""

    async def on_error(
        self, interaction: discord.Interaction[LemonBot], error: app_commands.AppCommandError
    ) -> None:
        """Answer the member privately; log anything unexpected with a reference."""
        name = interaction.command.qualified_name if interaction.command else "?"
        await report_error(interaction, error, f"command {name}")


class LemonBot(commands.AutoShardedBot):
    """The bot: owns the services and wires them to Discord's lifecycle.

    It runs the shards ``SHARD_IDS`` of ``SHARD_COUNT`` (all of them by default); several
    identical processes, each with its own slice, share one PostgreSQL. Only the process
    holding shard 0 syncs the commands.
    """

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        http: httpx.AsyncClient,
        serve_jobs: bool = True,
    ) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        shards: dict[str, Any] = {}
        if settings.shard_count is not None:
            shards["shard_count"] = settings.shard_count
        if settings.shard_ids is not None:
            shards["shard_ids"] = list(settings.shard_ids)
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=LemonTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
            **shards,
        )
        self.settings = settings
        self.store = store
        # False for ``python -m bot web``: logged in over HTTP only, it serves the
        # dashboard and runs no jobs, cogs or command sync (setup_hook does nothing).
        self.serve_jobs = serve_jobs
        self.shutdown_grace = 0.0  # set by the composition root on a signal
        self._invite_logged = False
        self.background = Background()
        # Persistent buttons hand their presses to the handler a cog registered here.
        self.button_handlers: dict[str, ButtonHandler] = {}
        # One request budget for every gateway request of the key (creates, polls, list),
        # shared through the database when several processes use one PostgreSQL.
        self.budget = shared_budget(settings, store)
        self.api = LemonDataClient(
            http,
            base_url=settings.lemondata_base_url,
            api_key=settings.lemondata_api_key,
            budget=self.budget,
        )
        self.catalog = ModelCatalog(
            fetch=self.api.list_image_models,
            max_age=settings.model_cache_seconds,
            spawn=self.background.spawn,  # a refresh in flight is cancelled at close
            # Each model's description, fetched only with requests to spare.
            describe=self.api.describe_model,
            pricing=self.api.list_pricing,
            spare=self.budget.spare,
            # Several processes share the key's budget, but each sees only its own room:
            # their descriptions go far apart, so that they never crowd a window the
            # members' creates need (a limit change mid-window turned them into 429s).
            describe_gap=SHARED_DESCRIBE_GAP if isinstance(self.budget, SharedBudget) else 1.0,
        )
        self.audit = AuditLog(self, store, self.background)
        self.quota = QuotaService(store, period_limit=settings.daily_image_quota)
        # Who a member is in a server: roles and server-wide permissions (moderator
        # rights), fetched from Discord for a press outside the server.
        self.members = Members(self, store)
        self.delivery = Delivery(self, store, self.background)
        self.moderation = ModerationService(store, self.audit, remove=self.delivery.remove)
        self.jobs = JobService(
            store=store,
            api=self.api,
            catalog=self.catalog,
            quota=self.quota,
            moderation=self.moderation,
            delivery=self.delivery,
            settings=settings,
            background=self.background,
            budget=self.budget,
        )
        self.jobs.finished_listeners.append(self._audit_finished_job)
        # Dollar budgets: set by moderators, their thresholds announced after each job.
        self.billing = BillingService(store, self.audit)
        self.jobs.finished_listeners.append(self.billing.job_finished)
        # Reference images download like result images (bounded, address-checked).
        self.references = References(self.jobs.download, settings.max_input_image_bytes)
        # The web dashboard's services (bot/web calls them; the cogs do not).
        self.sessions = WebSessions(store)
        self.gallery = Gallery(store)

    async def _audit_finished_job(self, job: Job) -> None:
        """Post a finished job to the audit channel, with the reference images that fit."""
        inputs = await self.store.jobs.inputs(job.id) if job.input_count else []
        await self.audit.post_with_references(
            job.guild_id, lambda lang, refs: finished_audit_embed(job, lang, refs), inputs
        )

    async def setup_hook(self) -> None:
        """Load cogs, resume unfinished jobs, start the poller and sync commands."""
        if not self.serve_jobs:
            return  # the web dashboard alone: no cogs, no jobs, no sync
        await self.tree.set_translator(CatalogTranslator())  # before the sync reads it
        self.add_dynamic_items(*PERSISTENT_ITEMS)
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.catalog.names()  # starts the first model-list fetch in the background
        await self.jobs.resume()
        self.jobs.start_background()
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Sync to DEV_GUILD_ID at every start, or globally when the command set changed.

        Only the process holding shard 0 syncs: the others leave the commands alone.
        """
        if not self.settings.holds_shard_zero:
            log.info("not syncing commands: shard 0 runs in another process")
            return
        if self.settings.dev_guild_id is not None:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), guild.id)
            return
        digest = await self.command_digest()
        if await self.store.state.get(COMMANDS_HASH_KEY) == digest:
            log.info("command set unchanged; not syncing")
            return
        synced = await self.tree.sync()
        await self.store.state.set(COMMANDS_HASH_KEY, digest)
        log.info("synced %d global commands", len(synced))

    async def command_digest(self) -> str:
        """Return a hash of the command set as it is synced, translations included.

        ``to_dict`` leaves localizations out, so a changed translation would never be
        synced; the translated payload is what ``tree.sync`` sends.
        """
        translator = self.tree.translator
        payload = [
            await command.get_translated_payload(self.tree, translator)
            if translator is not None
            else command.to_dict(self.tree)
            for command in self.tree.get_commands()
        ]
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()

    async def on_ready(self) -> None:
        """Log readiness and, once, the invite link (this fires again on every reconnect)."""
        log.info("ready as %s in %d servers", self.user, len(self.guilds))
        if not self._invite_logged and self.application_id is not None:
            self._invite_logged = True
            log.info("invite the bot to a server: %s", invite_url(self.application_id))

    async def close(self) -> None:
        """Stop background work (jobs stay resumable), then disconnect."""
        await self.background.close(grace=self.shutdown_grace)
        if isinstance(self.budget, SharedBudget):
            await self.budget.flush()  # the answers, so other processes stop counting them
        try:  # nothing of this process runs any more: its jobs may go to others at once
            given = await self.jobs.give_back()
        except Exception as exc:  # the database is gone: the leases simply run out
            log.warning("could not give the job leases back (%s); they expire instead", exc)
        else:
            if given:
                log.info("gave back %d job leases", given)
        await super().close()
