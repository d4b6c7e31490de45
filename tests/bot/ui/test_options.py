"""Option types: the `since` parser."""

from __future__ import annotations

import datetime as dt

import pytest

from bot.errors import InvalidRequest
from bot.ui.options import parse_since
from tests.factories import NOW


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", NOW - 1800),
        ("24h", NOW - 86400),
        (" 7d ", NOW - 7 * 86400),
        ("2W", NOW - 14 * 86400),
        ("7 days", NOW - 7 * 86400),  # pytimeparse2 reads spelled-out units too
        ("1h30m", NOW - 5400),
        ("2026-01-31", dt.datetime(2026, 1, 31, tzinfo=dt.UTC).timestamp()),
        ("2026-01-31T12:30", dt.datetime(2026, 1, 31, 12, 30, tzinfo=dt.UTC).timestamp()),
        ("2026-01-31T12:30+02:00", dt.datetime(2026, 1, 31, 10, 30, tzinfo=dt.UTC).timestamp()),
    ],
)
def test_parse_since(text, expected):
    """Ages and ISO dates (UTC unless given) become unix times."""
    assert parse_since(text, NOW) == expected


@pytest.mark.parametrize("text", ["yesterday", "-3d", "0m", "", "2030-01-01"])
def test_parse_since_refuses(text):
    """Anything else, and dates in the future, are refused."""
    with pytest.raises(InvalidRequest):
        parse_since(text, NOW)
