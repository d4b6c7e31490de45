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
# Interaction tokens travel in webhook and callback URLs; API keys in bearer headers.
TOKEN_PATTERNS = (
    re.compile(r"(/(?:webhooks|interactions)/\d+/)[\w.-]{16,}"),
    re.compile(r"(Bearer\s+)\S+", re.IGNORECASE),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with known secrets and token-shaped URL parts replaced."""
    for secret in secrets:
        if len(secret) >= 4:
            text = text.replace(secret, REDACTED)
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
