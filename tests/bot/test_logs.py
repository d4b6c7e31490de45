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


def test_database_passwords_are_redacted_in_user_info_and_query_string():
    """A PostgreSQL password is masked after ``user:`` and in ``password=``, known or not."""
    text = redact(
        "connect postgresql://bot:s3cr@t@db:5432/lemon "
        "then postgresql://bot@db/lemon?sslmode=require&password=qs-secret-1&x=1 "
        "dsn host=db password=kw-secret-2 user=bot"
    )
    for leaked in ("s3cr@t", "qs-secret-1", "kw-secret-2"):
        assert leaked not in text
    assert "postgresql://bot:[redacted]@db:5432/lemon" in text
    assert "?sslmode=require&password=[redacted]&x=1" in text


def test_short_secrets_are_redacted_where_they_stand_alone():
    """A password of a few characters is masked too, without blanking words that contain it."""
    text = redact("auth failed for pw 'xy1' (xy1) in oxy1gen", secrets=["xy1", "abc"])
    assert "'xy1'" not in text and "(xy1)" not in text
    assert text.count(REDACTED) == 2
    assert "oxy1gen" in text
