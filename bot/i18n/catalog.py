"""The message catalogue: every word a member reads, keyed, in English and Chinese.

The catalogue is one gettext ``.po`` file per language
(``bot/i18n/locales/<lang>/LC_MESSAGES/messages.po``), read with Babel once per process
(no compile step). A message's ``msgid`` is its key (``refusal.prompt_empty``) and its
``msgstr`` the text, with ``str.format`` placeholders (``{model}``). A message that
depends on a number is a gettext plural entry, its form chosen by the ``count``
parameter and the file's ``Plural-Forms`` header.

A member's language is their Discord locale: ``zh-CN`` reads Chinese, every other
locale English (:func:`locale_of`). A key missing from the Chinese file falls back to
English (the catalogue tests forbid that); a key missing from English is a bug and
raises KeyError.

Values that must be rendered in the reader's language travel unrendered: a
:class:`Text` (a key and its parameters), a :class:`Number` (formatted by Babel for the
locale), a :class:`Joined` list. :func:`t` renders them inside the message.
"""

from __future__ import annotations

import functools
import gettext
import string
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import Literal, Protocol

import discord
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

Lang = Literal["en", "zh-CN"]
ENGLISH: Lang = "en"
CHINESE: Lang = "zh-CN"
LANGUAGES: tuple[Lang, ...] = (ENGLISH, CHINESE)
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
# Catalogue folder and Babel locale of each language.
FOLDERS: dict[Lang, str] = {ENGLISH: "en", CHINESE: "zh_CN"}
LocaleLike = discord.Locale | str | None


def locale_of(value: LocaleLike) -> Lang:
    """Return the language a Discord locale reads: ``zh-CN`` for zh-CN, else ``en``."""
    if isinstance(value, discord.Locale):
        value = value.value
    text = (value or "").replace("_", "-").lower()
    return CHINESE if text == "zh-cn" else ENGLISH


class Renderable(Protocol):
    """A value rendered in the reader's language when its message is."""

    def render(self, locale: LocaleLike) -> str:
        """Return the value as ``locale`` reads it."""


@dataclass(frozen=True)
class Text:
    """A message not rendered yet: its key and parameters (for errors and audit posts)."""

    key: str
    params: Mapping[str, object] = field(default_factory=dict)

    @classmethod
    def of(cls, key: str, /, **params: object) -> Text:
        """Return the message ``key`` with ``params``."""
        return cls(key, params)

    def render(self, locale: LocaleLike) -> str:
        """Return the message as ``locale`` reads it."""
        return t(self.key, locale, **self.params)


@dataclass(frozen=True)
class Number:
    """A count or amount, formatted for the reader (digit grouping, decimals)."""

    value: int | float | Decimal
    decimals: int = 0

    def render(self, locale: LocaleLike) -> str:
        """Return the number as ``locale`` writes it."""
        return number(self.value, locale, decimals=self.decimals)


@dataclass(frozen=True)
class Dollars:
    """An amount of micro-dollars (bot.billing), shown to the cent in the reader's format.

    ``up`` rounds a part of a cent up (what something could cost), else down (what is
    left), so a refusal never says more is left, or less is needed, than is true.
    """

    micros: int
    up: bool = False
    exact: bool = False  # a budget as set: every digit it has (at least the cents)

    def render(self, locale: LocaleLike) -> str:
        """Return the amount as ``locale`` writes dollars: ``$0.19``, ``US$0.19``."""
        dollars = Decimal(self.micros) / 1_000_000
        if self.exact and dollars != dollars.quantize(Decimal("0.01")):
            return money(dollars.normalize(), "USD", locale)
        rounding = ROUND_CEILING if self.up else ROUND_FLOOR
        return money(dollars.quantize(Decimal("0.01"), rounding=rounding), "USD", locale)


@dataclass(frozen=True)
class Joined:
    """Several values shown as one, with the language's separator (``join.<how>``)."""

    items: Sequence[object]
    how: str = "list"  # join.list ", ", join.clauses "; "

    def render(self, locale: LocaleLike) -> str:
        """Return the items joined as ``locale`` joins them."""
        separator = t(f"join.{self.how}", locale)
        return separator.join(_render(item, locale) for item in self.items)


@dataclass(frozen=True)
class Messages:
    """One language's messages: key -> forms (one, or its plural forms)."""

    lang: Lang
    entries: Mapping[str, tuple[str, ...]]
    plural: Callable[[int], int]
    fuzzy: frozenset[str] = frozenset()

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def template(self, key: str, count: object = None) -> str | None:
        """Return the message template of ``key`` (the plural form for ``count``)."""
        forms = self.entries.get(key)
        if forms is None:
            return None
        if len(forms) == 1 or not isinstance(count, int | Number):
            return forms[0] if len(forms) == 1 else forms[-1]
        n = int(count.value if isinstance(count, Number) else count)
        return forms[min(self.plural(abs(n)), len(forms) - 1)]


def path_of(lang: Lang) -> Path:
    """Return the ``.po`` file of a language."""
    return LOCALES_DIR / FOLDERS[lang] / "LC_MESSAGES" / "messages.po"


def load(lang: Lang, path: Path | None = None) -> Messages:
    """Read a language's ``.po`` file (untranslated entries are left out)."""
    with (path or path_of(lang)).open("rb") as file:
        catalog = read_po(file, locale=FOLDERS[lang])
    entries: dict[str, tuple[str, ...]] = {}
    fuzzy = set()
    for message in catalog:
        if not message.id:
            continue  # the header
        key = message.id[0] if isinstance(message.id, tuple | list) else message.id
        forms = message.string
        texts = tuple(forms) if isinstance(forms, tuple | list) else (forms,)
        if not all(texts):
            continue
        entries[str(key)] = tuple(str(text) for text in texts)
        if message.fuzzy:
            fuzzy.add(str(key))
    return Messages(lang, entries, gettext.c2py(catalog.plural_expr), frozenset(fuzzy))


@functools.cache
def messages(lang: Lang) -> Messages:
    """Return a language's messages, read once per process."""
    return load(lang)


def _render(value: object, locale: LocaleLike) -> str:
    render = getattr(value, "render", None)
    return str(render(locale)) if callable(render) else str(value)


def t(key: str, locale: LocaleLike, /, **params: object) -> str:
    """Render the message ``key`` as ``locale`` reads it, with its placeholders filled.

    ``count`` picks a plural form. Parameter values that are :class:`Text`,
    :class:`Number` or :class:`Joined` are rendered in the same language.
    """
    lang = locale_of(locale)
    template = messages(lang).template(key, params.get("count"))
    if template is None and lang != ENGLISH:
        template = messages(ENGLISH).template(key, params.get("count"))
    if template is None:
        raise KeyError(f"no message {key!r} in the catalogue")
    return template.format(**{name: _render(value, lang) for name, value in params.items()})


def placeholders(template: str) -> frozenset[str]:
    """Return the names of a template's ``{placeholders}``."""
    return frozenset(
        name.split(".")[0].split("[")[0]
        for _, name, _, _ in string.Formatter().parse(template)
        if name
    )


def number(
    value: int | float | Decimal, locale: LocaleLike, *, decimals: int = 0, grouped: bool = True
) -> str:
    """Return ``value`` with the locale's decimal sign, digit grouping and ``decimals``."""
    pattern = ("#,##0" if grouped else "0") + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=FOLDERS[locale_of(locale)])


def seconds(value: float, locale: LocaleLike) -> str:
    """Return a duration in whole seconds (``12 s``, ``12 秒``; ``1234 s``, not grouped)."""
    return t("unit.seconds", locale, seconds=number(round(value), locale, grouped=False))


def money(amount: str | Decimal, currency: str, locale: LocaleLike) -> str:
    """Return a price as the gateway publishes it, in the locale's currency format."""
    return format_currency(
        Decimal(amount), currency, locale=FOLDERS[locale_of(locale)], decimal_quantization=False
    )
