"""BotError: failures with a short message meant for the user who caused them.

Raise a subclass anywhere below the cogs; the app-command error router in
``bot/client.py`` turns it into an ephemeral reply. Anything that is not a
BotError becomes "Something went wrong (ref XYZ)" and is logged with that ref.
"""

from __future__ import annotations

DISCORD_MESSAGE_LIMIT = 2000


class BotError(Exception):
    """An error whose message may be shown to the user as-is."""

    def __init__(self, message: str) -> None:
        super().__init__(message[:DISCORD_MESSAGE_LIMIT])
        self.message = message[:DISCORD_MESSAGE_LIMIT]


class InvalidRequest(BotError):
    """The user's options are not valid for the chosen model."""


class QuotaExceeded(BotError):
    """The user has no images left in the current window."""


class QueueFull(BotError):
    """Too many requests are already waiting for a free slot."""


class ServiceUnavailable(BotError):
    """A dependency needed to accept the request is down right now."""


class NotAllowed(BotError):
    """The user may not do this (blocked user, missing permission, blocked prompt)."""
