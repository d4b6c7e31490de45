"""Secrets never reach a log line."""

from __future__ import annotations

import logging

from bot.logs import REDACTED, RedactingFormatter, redact


def test_known_secrets_and_token_shapes_are_redacted():
    """Bot token, API key, interaction tokens in URLs and bearer headers are masked."""
    token = "MTIzNDU2Nzg5MDEy.Gabcde.very-secret-bot-token"
    text = redact(
        f"token {token} key sk-live-123456 "
        "PATCH http://x/api/v10/webhooks/123/aW50ZXJhY3Rpb246MTIzOmFiY2RlZg/messages/@original "
        "POST /interactions/456/aW50ZXJhY3Rpb246NDU2OnNlY3JldA/callback "
        "Authorization: Bearer sk-other-key",
        secrets=[token, "sk-live-123456"],
    )
    for leaked in (token, "sk-live-123456", "aW50ZXJhY3Rpb24", "sk-other-key"):
        assert leaked not in text
    assert text.count(REDACTED) == 5
    assert "/webhooks/123/" in text  # ids stay, for debugging


def test_formatter_redacts_tracebacks():
    """A secret inside an exception's text is redacted from the formatted traceback."""
    formatter = RedactingFormatter("%(message)s", ["sk-secret-key"])
    try:
        raise RuntimeError("failed with sk-secret-key")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "boom", (), None)
        import sys

        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert "sk-secret-key" not in line and "RuntimeError" in line
