"""Formatting helpers shared by every card and reply: lengths, lists, times, mentions.

Pure functions with no knowledge of jobs or services, so anything may use them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Literal

import discord

from bot.errors import DISCORD_MESSAGE_LIMIT, OWN_DETAILS
from bot.i18n import ENGLISH, LocaleLike, Text, t

DETAIL_LIMIT = 160
FIELD_LIMIT = 1024
TimestampStyle = discord.utils.TimestampStyle
# A bracket after an even run of backslashes (none included) is live markdown.
_LIVE_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)([\[\]])")


def shorten(text: str, limit: int) -> str:
    """Return ``text`` on one line, cut to ``limit`` characters with an ellipsis when cut."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escaped(text: str) -> str:
    """Return text a member or the gateway wrote, safe in a card: markdown and masked links inert.

    discord.py escapes backslashes too, so a typed backslash cannot undo an escape; every
    bracket is escaped, so ``[Free Nitro](https://evil)`` shows as typed instead of as a link.
    """
    text = discord.utils.escape_markdown(text)
    return _LIVE_BRACKET.sub(r"\1\\\2", text)


def shown(text: str, limit: int) -> str:
    """Return :func:`escaped` text on one line, cut to ``limit`` characters with an ellipsis."""
    return shorten(escaped(text), limit)


def clip(text: str, limit: int = DISCORD_MESSAGE_LIMIT) -> str:
    """Return ``text`` cut to ``limit`` characters (keeping its lines), ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit_lines(
    lines: Sequence[str],
    limit: int,
    *,
    empty: str = "",
    more: Callable[[int], str] | None = None,
    locale: LocaleLike = ENGLISH,
) -> str:
    """Join whole lines with newlines within ``limit`` characters.

    When they do not all fit, the last line says how many were left out: ``more`` turns
    that count into the line (default ``list.more``, "… and N more", in ``locale``).
    ``empty`` is returned when there are no lines.
    """
    if not lines:
        return empty
    tail_of = more or (lambda count: t("list.more", locale, count=count))
    kept: list[str] = []
    used = 0
    for index, line in enumerate(lines):
        tail = tail_of(len(lines) - index)
        room = limit - used - (1 if kept else 0)
        last = index == len(lines) - 1
        if len(line) > room or (not last and len(line) + 1 + len(tail) > room):
            kept.append(tail)
            break
        kept.append(line)
        used += len(line) + (1 if len(kept) > 1 else 0)
    return "\n".join(kept)


def timestamp(moment: float | None, style: TimestampStyle = "f") -> str:
    """Return a Discord timestamp (rendered in each reader's language and zone), or a dash."""
    if not moment:
        return "–"
    return discord.utils.format_dt(dt.datetime.fromtimestamp(moment, dt.UTC), style)


def safe_detail(message: str | None, locale: LocaleLike = ENGLISH) -> str:
    """Return a short, human part of an upstream error message as ``: ...``, or ``''``.

    The detail is the gateway's own words (English), quoted as they came; the bot's own
    details (:data:`bot.errors.OWN_DETAILS`) are said in the reader's language.
    """
    if not message:
        return ""
    if message in OWN_DETAILS:
        return t("failure.detail", locale, detail=t(OWN_DETAILS[message], locale))
    text = re.sub(r"[{}\[\]\"`]", "", message)
    text = re.sub(r"https?://\S+", "", text)
    text = shorten(text, DETAIL_LIMIT).rstrip(".")
    return t("failure.detail", locale, detail=text) if text else ""


def limit_text(limit: int | None) -> Text:
    """Return a quota limit for display (``unlimited``, ``1 unit``, ``5 units``)."""
    if limit is None:
        return Text("quota.unlimited")
    return Text.of("quota.units", count=limit)


def code(text: str, limit: int = 100) -> str:
    """Return ``text`` as inline code, shortened, with backticks removed."""
    return f"`{shorten(text.replace('`', ''), limit)}`"


MentionKind = Literal["user", "channel", "role"]
MENTIONS: dict[MentionKind, str] = {"user": "<@{}>", "channel": "<#{}>", "role": "<@&{}>"}


def mention(target_id: int | None, kind: MentionKind = "user") -> str:
    """Return a Discord mention of a member, channel or role (each client names it), or a dash."""
    return "–" if target_id is None else MENTIONS[kind].format(target_id)
