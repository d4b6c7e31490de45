"""Languages: the message catalogue, the member's language, and command translations.

:func:`t` renders a keyed message for a locale, :func:`locale_of` maps a Discord locale
to the language it reads, :class:`Text` carries a message until its reader is known,
and :class:`CatalogTranslator` gives slash commands their zh-CN texts.
"""

from __future__ import annotations

from bot.i18n.catalog import (
    CHINESE,
    ENGLISH,
    LANGUAGES,
    Dollars,
    Joined,
    Lang,
    LocaleLike,
    Number,
    Renderable,
    Text,
    locale_of,
    messages,
    money,
    number,
    placeholders,
    seconds,
    t,
)
from bot.i18n.translator import CatalogTranslator, command_text

__all__ = [
    "CHINESE",
    "ENGLISH",
    "LANGUAGES",
    "CatalogTranslator",
    "Dollars",
    "Joined",
    "Lang",
    "LocaleLike",
    "Number",
    "Renderable",
    "Text",
    "command_text",
    "locale_of",
    "messages",
    "money",
    "number",
    "placeholders",
    "seconds",
    "t",
]
