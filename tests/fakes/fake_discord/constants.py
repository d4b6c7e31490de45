"""Discord's constants (permission bits, flags, types) and snowflakes."""

from __future__ import annotations

import time
from datetime import UTC, datetime

DISCORD_EPOCH_MS = 1_420_070_400_000
API_PREFIX = "/api/v10"
DEFAULT_BOT_TOKEN = "fake-bot-token"
DEFAULT_ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
DEFAULT_HEARTBEAT_INTERVAL_MS = 41_250

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
USE_EXTERNAL_EMOJIS = 1 << 18
USE_APPLICATION_COMMANDS = 1 << 31
SEND_MESSAGES_IN_THREADS = 1 << 38
EVERYONE_PERMISSIONS = (
    ADD_REACTIONS
    | VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | USE_EXTERNAL_EMOJIS
    | USE_APPLICATION_COMMANDS
)
ALL_PERMISSIONS = (1 << 51) - 1

# Permission overwrite types.
OVERWRITE_ROLE = 0
OVERWRITE_MEMBER = 1

# Message flags.
FLAG_SUPPRESS_EMBEDS = 1 << 2
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS = 1 << 12
FLAG_COMPONENTS_V2 = 1 << 15
SETTABLE_FLAGS = (
    FLAG_SUPPRESS_EMBEDS | FLAG_EPHEMERAL | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_COMPONENTS_V2
)

# Message types.
MESSAGE_DEFAULT = 0
MESSAGE_REPLY = 19
MESSAGE_CHAT_INPUT_COMMAND = 20

# Interaction callback types.
CB_PONG = 1
CB_CHANNEL_MESSAGE = 4
CB_DEFERRED_CHANNEL_MESSAGE = 5
CB_DEFERRED_UPDATE = 6
CB_UPDATE_MESSAGE = 7
CB_AUTOCOMPLETE_RESULT = 8
CB_MODAL = 9
CALLBACK_TYPES = {1, 4, 5, 6, 7, 8, 9, 10, 12}

# Application command option types.
OPT_SUB_COMMAND = 1
OPT_SUB_COMMAND_GROUP = 2
OPT_STRING = 3
OPT_INTEGER = 4
OPT_BOOLEAN = 5
OPT_USER = 6
OPT_CHANNEL = 7
OPT_ROLE = 8
OPT_MENTIONABLE = 9
OPT_NUMBER = 10
OPT_ATTACHMENT = 11

JOINED_AT = "2024-01-01T00:00:00.000000+00:00"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_last_snowflake = 0


def snowflake() -> int:
    """Return a new 64-bit snowflake based on Discord's epoch, increasing with the clock.

    Within one millisecond (or a clock that moved back a little) ids keep increasing. A
    clock moved back by more than a second (a test's time travel ended) starts again
    from the clock, as Discord's ids follow its time: an id made while a test travelled
    must not push every later id, and the interaction tokens dated from them, ahead.
    """
    global _last_snowflake
    now_ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
    candidate = (now_ms << 22) | (1 << 17)  # worker 1, process 0, increment 0
    if (_last_snowflake >> 22) - now_ms > 1000:
        _last_snowflake = candidate
    else:
        _last_snowflake = max(_last_snowflake + 1, candidate)
    return _last_snowflake


def now_iso() -> str:
    return datetime.now(UTC).isoformat()
