"""Logging set-up in one place, with secrets redacted from every line."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
REDACTED = "[redacted]"
# At DEBUG these log request URLs or SQL parameters, which carry interaction tokens.
QUIET_LOGGERS = (
    "aiosqlite",
    "discord.gateway",
    "discord.http",
    "discord.webhook",
    "httpcore",
    "httpx",
)
# Below this length a known secret is masked only where it stands alone (not inside a word),
# so that a three-letter password does not blank every word that contains it.
SHORT_SECRET = 8
# Interaction tokens travel in webhook and callback URLs; API keys in bearer headers; a
# database password in a URL's user info or a password= parameter, whoever's URL it is.
TOKEN_PATTERNS = (
    re.compile(r"(/(?:webhooks|interactions)/\d+/)[\w.-]{16,}"),
    re.compile(r"(Bearer\s+)\S+", re.IGNORECASE),
    re.compile(r"(://[^/?#@:\s]*:)[^/?#\s]*(?=@)"),
    re.compile(r"(\b(?:ssl)?password=)[^&#\s'\"]+", re.IGNORECASE),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with known secrets and token-shaped URL parts replaced."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= SHORT_SECRET:
            text = text.replace(secret, REDACTED)
        elif secret:
            text = re.sub(rf"(?<!\w){re.escape(secret)}(?!\w)", REDACTED, text)
    for pattern in TOKEN_PATTERNS:
        text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter that redacts secrets from the final line (tracebacks included)."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self._secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        """Format the record, then redact."""
        return redact(super().format(record), self._secrets)


def setup_logging(level: str, secrets: Iterable[str] = ()) -> None:
    """Send all logs to stderr at ``level``, redacting ``secrets``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(FORMAT, secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
