"""The bot's one exception tree, and the failures a member may be told about.

Every exception the bot defines descends from :class:`LemonbotError`, in one of five
branches (as httpx's tree does for its client); the leaves live beside the code that
raises them::

    LemonbotError
    ├── ConfigurationError         a setting is missing or malformed (bot.config)
    ├── GatewayError               talking to LemonData failed: status, code, retry_after
    │   ├── TransportError         no answer (timeout, refused or dropped connection)
    │   ├── MalformedResponseError an answer the contract does not allow
    │   ├── BadRequestError        HTTP 400
    │   │   └── ContentPolicyError the content policy refused the prompt or image
    │   ├── AuthenticationError    HTTP 401 / 403: the API key
    │   ├── InsufficientBalanceError  HTTP 402
    │   ├── NotFoundError          HTTP 404: unknown model or task
    │   ├── RateLimitError         HTTP 429
    │   ├── ServerError            HTTP 5xx
    │   └── UnsafeURLError         a URL the bot will not fetch (bot.lemondata.urls)
    ├── DeliveryError              Discord cannot be given a job's message (bot.jobs.delivery)
    ├── StorageError               the database refused a write the caller relied on
    │   ├── LeaseLost              another process holds the job now (bot.store.jobs)
    │   ├── DatabaseUnavailable    the database is unreachable (bot.store.outage)
    │   └── LedgerCopyError        migrate-db cannot copy this ledger (bot.store.migrate)
    ├── Refusal                    the member's request is refused, with a catalogue message
    │   ├── InvalidRequest         options, images or targets that are not valid
    │   │   ├── Unreadable         a reference image that cannot be downloaded
    │   │   ├── PromptTooLong      a prompt too long for the blocklist to check
    │   │   └── BadImage           not an image to decode within bounds (bot.dashboard.thumbnails)
    │   ├── QuotaExceeded          no units left in the window
    │   ├── BudgetExceeded         the request could pass the server's dollar budget
    │   ├── QueueFull              too many requests waiting
    │   ├── ServiceUnavailable     the bot cannot take requests right now
    │   ├── NotAllowed             a blocked member or prompt, a missing permission
    │   │   ├── PromptBlocked      a server rule blocked the prompt
    │   │   ├── MatchTimedOut      the blocklist check ran out of time
    │   │   ├── NotMember          not in the server any more (bot.moderation.members)
    │   │   └── SignInFailed       a way back from Discord's sign-in not started here (bot.web.auth)
    │   └── CheckRefused           a command check refused (bot.ui.replies; a CheckFailure)
    └── Stopped                    a signal asked the bot to stop while it waited (__main__)

A :class:`Refusal` carries a catalogue key and its parameters
(``InvalidRequest("refusal.prompt_empty")``); the one error router,
:func:`bot.ui.replies.report_error`, renders it in the language of the member who is
answered. A :class:`GatewayError` that reaches the router tells the member the image
service is unavailable and is logged in one line; any other error becomes "Something
went wrong (ref XYZ)", logged with that ref: in one line naming its branch when it is a
:class:`LemonbotError`, with its traceback when it is not. The background work of the
jobs logs the same way (:func:`log_failure`): one warning line for the bot's own
errors, a traceback for anything else.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.i18n import LocaleLike, Text

DISCORD_MESSAGE_LIMIT = 2000
# HTTP statuses after which repeating a read may succeed.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})

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


class LemonbotError(Exception):
    """The root of every exception the bot defines."""


class ConfigurationError(LemonbotError):
    """A setting is missing or malformed; the message is one line meant for a human."""


class GatewayError(LemonbotError):
    """Any failure talking to LemonData; ``status`` is None when no HTTP answer came."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        retry_after: float | None = None,
        hints: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.retry_after = retry_after  # seconds, from the answer's Retry-After
        # What a refusal says is allowed (ApiError's param, allowed_aspect_ratios, ...).
        self.hints: Mapping[str, Any] = hints or {}

    @property
    def retryable(self) -> bool:
        """Whether repeating a *read* may succeed."""
        return self.status in RETRYABLE_STATUSES

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r})"
        )


class DeliveryError(LemonbotError):
    """A job's message cannot be handed to Discord (the next path is tried)."""


class StorageError(LemonbotError):
    """The database refused a write, or a copy, that the caller relied on."""


class Refusal(LemonbotError):
    """A refused request, with a message the member may read in their language.

    ``message`` is the English rendering (for logs and tests); :meth:`render` gives the
    text for a reader's locale.
    """

    def __init__(self, message: Text | str, /, **params: object) -> None:
        # Imported here: bot.config raises ConfigurationError before discord and Babel
        # (which bot.i18n needs) are imported, so that a bad setting is said at once.
        from bot.i18n import ENGLISH, Text

        self.text = message if isinstance(message, Text) else Text(message, params)
        self.message = self.text.render(ENGLISH)[:DISCORD_MESSAGE_LIMIT]
        super().__init__(self.message)

    def render(self, locale: LocaleLike) -> str:
        """Return the message as ``locale`` reads it."""
        return self.text.render(locale)[:DISCORD_MESSAGE_LIMIT]


class InvalidRequest(Refusal):
    """The user's options are not valid for the chosen model."""


class QuotaExceeded(Refusal):
    """The user has no images left in the current window."""


class BudgetExceeded(Refusal):
    """The request could cost more than is left of the server's (or member's) dollar budget."""


class QueueFull(Refusal):
    """Too many requests are already waiting for a free slot."""


class ServiceUnavailable(Refusal):
    """A dependency needed to accept the request is down right now."""


class NotAllowed(Refusal):
    """The user may not do this (blocked user, missing permission, blocked prompt)."""


def branch_of(error: LemonbotError) -> str:
    """Return the branch of the exception tree ``error`` is in (``StorageError``, ...)."""
    branches = [c for c in type(error).__mro__ if LemonbotError in c.__bases__]
    return branches[0].__name__ if branches else type(error).__name__


def log_failure(logger: logging.Logger, error: BaseException, message: str, *args: Any) -> None:
    """Log a failure the way its place in the tree calls for.

    An error of the bot's own (a :class:`LemonbotError`: the database unreachable, a
    delivery refused, the gateway down) is expected: one warning line naming its branch,
    without a traceback. Anything else is a bug: logged at ERROR with its traceback.
    """
    if isinstance(error, LemonbotError):
        logger.warning(message + ": %s: %s", *args, branch_of(error), error)
    else:
        logger.error(message, *args, exc_info=error)
