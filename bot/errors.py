"""BotError: failures with a short message meant for the user who caused them.

Raise a subclass anywhere below the cogs with a catalogue key and its parameters
(``InvalidRequest("refusal.prompt_empty")``); the one error router,
:func:`bot.ui.replies.report_error`, renders it in the language of the member who is
answered. Anything that is not a BotError becomes "Something went wrong (ref XYZ)" and
is logged with that ref.
"""

from __future__ import annotations

from discord import app_commands

from bot.i18n import ENGLISH, LocaleLike, Text

DISCORD_MESSAGE_LIMIT = 2000
# Discord's upload limits (https://discord.com/developers/docs/reference#uploading-files).
MIB = 1024 * 1024
DISCORD_FILE_LIMIT = 10 * MIB  # per file, in a server without boosts
DISCORD_REQUEST_LIMIT = 25 * MIB  # per request, every file and the JSON part together
DISCORD_REQUEST_OVERHEAD = 256 * 1024  # room for the JSON part and the multipart framing
DISCORD_MAX_FILES = 10  # per message

# The bot's own details of a failure. They are stored in English in the job's
# ``error_message`` (moderators and logs read them as they read the gateway's own
# messages); a member reads them through their catalogue key, in their language.
DETAIL_LOST_TASK = "the image service lost track of the task"
DETAIL_NO_IMAGES = "completed task has no images"
DETAIL_DOWNLOAD_TIMEOUT = "the images could not be downloaded in time"
OWN_DETAILS = {
    DETAIL_LOST_TASK: "detail.lost_task",
    DETAIL_NO_IMAGES: "detail.no_images",
    DETAIL_DOWNLOAD_TIMEOUT: "detail.download_timeout",
}


class BotError(Exception):
    """An error whose message may be shown to the user, in their language.

    ``message`` is the English rendering (for logs and tests); :meth:`render` gives the
    text for a reader's locale.
    """

    def __init__(self, message: Text | str, /, **params: object) -> None:
        self.text = message if isinstance(message, Text) else Text(message, params)
        self.message = self.text.render(ENGLISH)[:DISCORD_MESSAGE_LIMIT]
        super().__init__(self.message)

    def render(self, locale: LocaleLike) -> str:
        """Return the message as ``locale`` reads it."""
        return self.text.render(locale)[:DISCORD_MESSAGE_LIMIT]


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


class CheckRefused(app_commands.CheckFailure):
    """A command check refused the member, with a message from the catalogue."""

    def __init__(self, key: str, /, **params: object) -> None:
        self.text = Text(key, params)
        super().__init__(self.text.render(ENGLISH))
