"""LemonBot: the Discord client, owner of the services, and the app-command error router."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets

import discord
import httpx
from discord import app_commands
from discord.ext import commands

from bot.catalog import ModelCatalog
from bot.config import Settings
from bot.db import Database
from bot.delivery import Delivery
from bot.errors import DISCORD_MESSAGE_LIMIT, BotError
from bot.jobs import JobService
from bot.lemondata import LemonDataClient
from bot.moderation import Moderation
from bot.quota import QuotaService

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.imagine", "cogs.moderation")
COMMANDS_HASH_KEY = "commands_hash"
CHECK_FAILURE_TEXT = {
    app_commands.NoPrivateMessage: "This command works only in a server.",
    app_commands.MissingPermissions: "You don't have permission to use this command.",
}


class LemonTree(app_commands.CommandTree["LemonBot"]):
    """The command tree, with the one error router for every app command."""

    async def on_error(
        self, interaction: discord.Interaction[LemonBot], error: app_commands.AppCommandError
    ) -> None:
        """Turn BotErrors into ephemeral replies and anything else into a logged ref."""
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(original, BotError):
            text = original.message
        elif type(original) in CHECK_FAILURE_TEXT:
            text = CHECK_FAILURE_TEXT[type(original)]
        elif isinstance(original, app_commands.CheckFailure):
            text = str(original) or "You can't use this command here."
        else:
            ref = secrets.token_hex(3).upper()
            log.error(
                "command %s failed (ref %s)",
                interaction.command.qualified_name if interaction.command else "?",
                ref,
                exc_info=original,
            )
            text = f"Something went wrong (ref {ref}). Please try again."
        await send_ephemeral(interaction, text)


def member_role_ids(user: discord.User | discord.Member) -> tuple[int, ...]:
    """Return the ids of a member's roles, as sent with the interaction.

    The raw ids are used rather than ``Member.roles``, which drops roles missing from
    the guild cache (for instance right after a reconnect).
    """
    if not isinstance(user, discord.Member):
        return ()
    return tuple(user._roles)


async def send_ephemeral(interaction: discord.Interaction[LemonBot], text: str) -> None:
    """Reply ephemerally, whether or not the interaction was answered already."""
    text = text[:DISCORD_MESSAGE_LIMIT]
    try:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)
    except discord.HTTPException as exc:
        log.warning("could not send an ephemeral reply: HTTP %s", exc.status)


class LemonBot(commands.Bot):
    """The bot: owns the services and wires them to Discord's lifecycle."""

    def __init__(self, *, settings: Settings, db: Database, http: httpx.AsyncClient) -> None:
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=LemonTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.db = db
        self.shutdown_grace = 0.0  # set by the composition root on a signal
        self.api = LemonDataClient(
            http, base_url=settings.lemondata_base_url, api_key=settings.lemondata_api_key
        )
        self.catalog = ModelCatalog(
            fetch=self.api.list_image_models, max_age=settings.model_cache_seconds
        )
        self.quota = QuotaService(db, daily_limit=settings.daily_image_quota)
        self.moderation = Moderation(db)
        self.delivery = Delivery(self, db)
        self.jobs = JobService(
            db=db,
            api=self.api,
            catalog=self.catalog,
            quota=self.quota,
            moderation=self.moderation,
            delivery=self.delivery,
            settings=settings,
        )

    async def setup_hook(self) -> None:
        """Load cogs, resume unfinished jobs, start the poller and sync commands."""
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        self.catalog.names()  # starts the first model-list fetch in the background
        await self.jobs.resume()
        self.jobs.start_background()
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Sync to DEV_GUILD_ID at every start, or globally when the command set changed."""
        if self.settings.dev_guild_id is not None:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to guild %s", len(synced), guild.id)
            return
        payload = [command.to_dict(self.tree) for command in self.tree.get_commands()]
        digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
        if await self.db.get_state(COMMANDS_HASH_KEY) == digest:
            log.info("command set unchanged; not syncing")
            return
        synced = await self.tree.sync()
        await self.db.set_state(COMMANDS_HASH_KEY, digest)
        log.info("synced %d global commands", len(synced))

    async def on_ready(self) -> None:
        """Log readiness (this fires again on every reconnect, so it does no set-up)."""
        log.info("ready as %s in %d servers", self.user, len(self.guilds))

    async def close(self) -> None:
        """Stop background work (jobs stay resumable), then disconnect."""
        await self.jobs.close(grace=self.shutdown_grace)
        await super().close()
