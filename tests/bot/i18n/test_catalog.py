"""The message catalogue: both languages complete, same placeholders, within Discord's limits."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import discord
import pytest
from discord import app_commands

import bot.i18n.catalog as catalog
from bot.catalog import CONSERVATIVE, FAMILIES
from bot.i18n import (
    CHINESE,
    ENGLISH,
    CatalogTranslator,
    Joined,
    Number,
    Text,
    command_text,
    locale_of,
    messages,
    money,
    placeholders,
    seconds,
    t,
)
from bot.store import JOB_STATES
from bot.store.rows import QUOTA_STATES
from bot.ui.cards import KINDS, family_text, footer_job, footer_text
from bot.ui.text import FAILURE_CODES

REPO = Path(__file__).resolve().parents[3]
ENGLISH_MESSAGES = messages(ENGLISH)
CHINESE_MESSAGES = messages(CHINESE)
KEYS = sorted(ENGLISH_MESSAGES.entries)
# Chinese texts that are rightly the same as the English: product names, numbers, code.
SAME_IN_BOTH = frozenset(
    {
        "choice.resolution",
        "family.gpt-image-2",
        "family.dall-e-3",
        "family.flux",
        "join.dots",
        "unit.megabytes",
        "mod.action_text",
        "mod.blocklist_line",
        "models.name",
    }
)
# Latin words allowed in Chinese texts: names of products and of Discord's things.
NAMES = re.compile(
    r"GPT Image|DALL-E|Gemini|FLUX|LemonData|lemonbot|Pro|Flash|API|PNG|JPEG|WebP|GIF|CSV|MB"
)


def all_placeholders(forms: tuple[str, ...]) -> frozenset[str]:
    return frozenset().union(*(placeholders(form) for form in forms))


def test_both_languages_have_every_message():
    """Every key is in English and in Chinese, and nothing is fuzzy (unreviewed)."""
    assert set(ENGLISH_MESSAGES.entries) == set(CHINESE_MESSAGES.entries)
    assert not ENGLISH_MESSAGES.fuzzy and not CHINESE_MESSAGES.fuzzy
    assert len(KEYS) > 300


@pytest.mark.parametrize("key", KEYS)
def test_same_placeholders_in_both_languages(key):
    """A message names the same {placeholders} in every language and form."""
    english = all_placeholders(ENGLISH_MESSAGES.entries[key])
    assert all_placeholders(CHINESE_MESSAGES.entries[key]) == english
    for form in (*ENGLISH_MESSAGES.entries[key], *CHINESE_MESSAGES.entries[key]):
        form.format(**dict.fromkeys(english, "x"))  # a well-formed template


def test_plural_forms_follow_each_language():
    """English plurals have two forms (one, other), Chinese one."""
    plural = [k for k, forms in ENGLISH_MESSAGES.entries.items() if len(forms) > 1]
    assert "quota.units" in plural
    for key in plural:
        assert len(ENGLISH_MESSAGES.entries[key]) == 2
        assert len(CHINESE_MESSAGES.entries[key]) == 1
    assert t("quota.units", ENGLISH, count=1) == "1 unit"
    assert t("quota.units", ENGLISH, count=0) == "0 units"
    assert t("quota.units", ENGLISH, count=2) == "2 units"
    assert t("quota.units", CHINESE, count=1) == "1 单位"


@pytest.mark.parametrize("key", sorted(set(KEYS) - SAME_IN_BOTH))
def test_chinese_is_chinese(key):
    """A Chinese text is written in Chinese: no English words outside code and names."""
    for form in CHINESE_MESSAGES.entries[key]:
        # Leave out code, placeholders, mentions, commands (/imagemod blocklist list).
        bare = re.sub(r"`[^`]*`|\{[^}]*\}|<[^>]*>|/[a-z]+(?: [a-z-]+)*", "", form)
        bare = NAMES.sub("", bare)
        assert not re.search(r"[A-Za-z]{2,}\s+[A-Za-z]{2,}", bare), form
        assert form != ENGLISH_MESSAGES.entries[key][-1] or not re.search("[A-Za-z]", bare)


def _literal_keys() -> dict[str, str]:
    """Every catalogue key named by a string constant in bot/ and cogs/."""
    prefixes = {key.split(".")[0] for key in KEYS}
    pattern = re.compile(r"^(" + "|".join(sorted(prefixes)) + r")\.[a-z0-9_.\-]+$")
    found = {}
    for root in ("bot", "cogs"):
        for file in (REPO / root).rglob("*.py"):
            tree = ast.parse(file.read_text(encoding="utf-8"))
            parts = {
                id(p) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for p in n.values
            }
            for node in ast.walk(tree):
                text = node.value if isinstance(node, ast.Constant) else None
                if id(node) in parts:
                    continue  # the fixed part of a key made at run time
                if isinstance(text, str) and pattern.match(text):
                    found[text] = f"{file.relative_to(REPO)}:{node.lineno}"
    return found


def test_every_key_named_in_code_exists():
    """A key written out in code is in the catalogue (else t() raises at run time)."""
    missing = {key: where for key, where in _literal_keys().items() if key not in KEYS}
    assert not missing


@pytest.mark.parametrize(
    "key",
    [f"state.{s}" for s in JOB_STATES]
    + [f"state_name.{s}" for s in JOB_STATES]
    + [f"failure.{code}" for code in FAILURE_CODES]
    + [f"quota_state.{s}" for s in QUOTA_STATES]
    + [f"kind.{kind}" for kind in KINDS]
    + [f"period.{p}" for p in ("day", "week", "month")],
)
def test_keys_built_from_stored_values_exist(key):
    """Keys made from a job's stored values (state, error code, kind) all exist."""
    assert key in KEYS


def test_every_family_has_a_name_in_both_languages():
    """Each model family's name is in the catalogue (its key is made from the name)."""
    for family in (*FAMILIES, CONSERVATIVE):
        assert family_text(family, ENGLISH) == family.name
        assert family_text(family, CHINESE)


@pytest.mark.parametrize(
    ("value", "lang"),
    [
        ("zh-CN", CHINESE),
        (discord.Locale.chinese, CHINESE),
        ("zh_CN", CHINESE),
        ("zh-cn", CHINESE),
        ("zh-TW", ENGLISH),
        (discord.Locale.taiwan_chinese, ENGLISH),
        ("en-US", ENGLISH),
        ("fr", ENGLISH),
        (None, ENGLISH),
        ("", ENGLISH),
    ],
)
def test_locale_of(value, lang):
    """zh-CN reads Chinese; every other locale (zh-TW too) reads English."""
    assert locale_of(value) == lang


def test_missing_chinese_falls_back_to_english(monkeypatch, tmp_path):
    """A key missing from Chinese is shown in English; a key missing everywhere raises."""
    po = tmp_path / "messages.po"
    po.write_text('msgid ""\nmsgstr ""\n"Language: zh_CN\\n"\n', encoding="utf-8")
    empty = catalog.load(CHINESE, po)
    real = catalog.messages
    monkeypatch.setattr(catalog, "messages", lambda lang: empty if lang == CHINESE else real(lang))
    assert t("refusal.prompt_empty", CHINESE) == t("refusal.prompt_empty", ENGLISH)
    with pytest.raises(KeyError):
        t("refusal.no_such_message", ENGLISH)


def test_values_render_in_the_readers_language():
    """Nested messages, numbers, lists, durations and prices follow the language."""
    text = Text.of("refusal.prompt_too_long", length=Number(4001), limit=Number(4000))
    assert text.render(ENGLISH) == "Your prompt is 4,001 characters long; the limit is 4,000."
    assert text.render(CHINESE) == "你的提示词有 4,001 个字符，上限是 4,000。"
    choices = Text.of("join.or", head=Joined(["`1k`", "`2k`"]), last="`4k`")
    assert choices.render(ENGLISH) == "`1k`, `2k` or `4k`"
    assert choices.render(CHINESE) == "`1k`，`2k`或`4k`"
    assert seconds(12.4, ENGLISH) == "12 s" and seconds(12.4, CHINESE) == "12 秒"
    assert Number(1.25, decimals=1).render(ENGLISH) == "1.2"
    assert money("0.039", "USD", ENGLISH) == "$0.039"
    assert money("0.25", "USD", CHINESE) == "US$0.25"


def test_footer_is_read_back_in_every_language():
    """Remix finds the job of a card whatever language its footer is in."""
    assert footer_job(footer_text(42, ENGLISH)) == 42
    assert footer_job(footer_text(42, CHINESE)) == 42
    assert footer_job("Job 4x") is None and footer_job("") is None


# ---------------------------------------------------------------------- Discord's limits

LIMITS = {  # key prefix -> the most characters Discord takes
    "cmd.": 100,  # descriptions
    "choice.": 100,  # choice names
    "state_name.": 100,
    "button.edit_pick": 150,  # a select's placeholder
    "button.edit_image": 100,  # a select option's label
    "button.": 80,  # button labels
    "modal.": 45,  # modal titles and labels
}


def _limit(key: str) -> int | None:
    return next((limit for prefix, limit in LIMITS.items() if key.startswith(prefix)), None)


@pytest.mark.parametrize("key", [k for k in KEYS if _limit(k)])
def test_texts_fit_discords_limits(key):
    """Descriptions, choices, labels and modal titles fit, with large numbers filled in."""
    limit = _limit(key)
    assert limit is not None
    for lang in (ENGLISH, CHINESE):
        names = all_placeholders(ENGLISH_MESSAGES.entries[key])
        text = t(key, lang, **dict.fromkeys(names, "999999"))
        assert 1 <= len(text) <= limit, (lang, text)
    assert len(t("cmd.remix", CHINESE)) <= 32  # a context menu's name


# ---------------------------------------------------------------------- the translator


async def test_translator_answers_chinese_for_keyed_strings_only():
    """zh-CN gets the catalogue's text; other locales and unkeyed strings keep the default."""
    translator = CatalogTranslator()
    context = app_commands.TranslationContext(
        location=app_commands.TranslationContextLocation.other, data=None
    )
    keyed = command_text("cmd.imagine.prompt")
    assert keyed.message == "What the image should show"
    assert (
        await translator.translate(keyed, discord.Locale.chinese, context) == "图片应该呈现的内容"
    )
    assert await translator.translate(keyed, discord.Locale.french, context) is None
    plain = app_commands.locale_str("imagine")
    assert await translator.translate(plain, discord.Locale.chinese, context) is None
    ratio = command_text("choice.ratio_landscape", ratio="16:9")
    assert ratio.message == "16:9 landscape"
    assert await translator.translate(ratio, discord.Locale.chinese, context) == "16:9 横向"
