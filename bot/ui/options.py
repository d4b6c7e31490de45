"""Option types for slash commands: what Discord cannot check, checked before the command.

Each is an :class:`app_commands.Transformer`, so a command receives a parsed value and
a bad one is refused privately, with a short reason, before the command runs.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import discord
import pytimeparse2
from discord import app_commands
from discord.app_commands import AppCommandChannel, Transform

from bot.errors import InvalidRequest

AUDIT_CHANNEL_TYPES = [discord.ChannelType.text, discord.ChannelType.news]


class TextChannelOption(app_commands.Transformer):
    """A text or announcement channel, taken as Discord resolved it (no cache needed)."""

    @property
    def type(self) -> discord.AppCommandOptionType:
        """Discord's option type: a channel."""
        return discord.AppCommandOptionType.channel

    @property
    def channel_types(self) -> list[discord.ChannelType]:
        """Channel kinds the picker offers."""
        return AUDIT_CHANNEL_TYPES

    async def transform(self, interaction: discord.Interaction[Any], value: Any, /) -> Any:
        """Return the resolved channel unchanged."""
        return value


def parse_since(text: str, now: float) -> float:
    """Turn an age (``30m``, ``24h``, ``7d``, ``2w``) or an ISO date (UTC) into a unix time."""
    seconds = pytimeparse2.parse(text.strip()) if text.strip() else None
    if seconds is not None:
        if seconds <= 0:
            raise InvalidRequest("refusal.since_help")
        return now - float(seconds)
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidRequest("refusal.since_help") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    since = moment.timestamp()
    if since > now:
        raise InvalidRequest("refusal.since_future")
    return since


class SinceOption(app_commands.Transformer):
    """A point in the past, typed as an age or a date; parsed with pytimeparse2."""

    async def transform(self, interaction: discord.Interaction[Any], value: Any, /) -> float:
        """Return the unix time the member meant (relative to the interaction)."""
        return parse_since(str(value), interaction.created_at.timestamp())


AuditChannel = Transform[AppCommandChannel, TextChannelOption]
Since = Transform[float, SinceOption]
