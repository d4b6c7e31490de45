"""Slash commands in the member's language, through discord.py's Translator.

Every description, choice name and context-menu name of the bot's commands is a
:func:`command_text`: a ``locale_str`` whose message is the English text (what Discord
stores as the default) and whose ``key`` names the catalogue entry. At sync, the tree
asks :class:`CatalogTranslator` for each string in each locale; it answers zh-CN from
the catalogue and leaves every other locale to the English default.

Command, group and option names carry no key, so they are never localized: ``/imagine``,
``prompt``, ``image`` are the public contract, named the same in every language (the
texts that mention an option, like "leave `resolution` empty", stay true for everyone).
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.i18n.catalog import CHINESE, ENGLISH, t

# The Discord locales that read the catalogue's Chinese (others get the default).
TRANSLATED = {discord.Locale.chinese: CHINESE}


def command_text(key: str, /, **params: object) -> app_commands.locale_str:
    """Return a command string: its English default, with the catalogue key for others."""
    return app_commands.locale_str(t(key, ENGLISH, **params), key=key, params=params)


class CatalogTranslator(app_commands.Translator):
    """Answer zh-CN for every command string that carries a catalogue key."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        """Return the string in ``locale``, or None to keep the English default."""
        lang = TRANSLATED.get(locale)
        key = string.extras.get("key")
        if lang is None or not isinstance(key, str):
            return None
        params = string.extras.get("params") or {}
        return t(key, lang, **params)
