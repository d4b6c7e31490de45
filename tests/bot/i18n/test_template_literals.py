"""The dashboard's templates say nothing of their own: every word comes from ``t()``.

The Python scan (test_literals.py) reads ``.py`` files only; this one reads
``bot/web/templates``. With every Jinja tag and expression taken out, what is left
outside HTML tags must hold no word, and no tag may carry a word in an attribute that a
person reads (alt, title, placeholder, aria-label, value of a button or submit).
Every key a template names with ``t('...')`` exists in both languages.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.i18n import CHINESE, ENGLISH, messages

TEMPLATES = Path(__file__).resolve().parents[3] / "bot" / "web" / "templates"
JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
TAG = re.compile(r"<[^>]*>", re.S)
READ_ATTRIBUTES = re.compile(r'\b(alt|title|placeholder|aria-label)="([^"]*)"')
WORD = re.compile(r"[A-Za-z]{2,}")
KEY = re.compile(r"""\bt\(\s*'([a-z_.]+)'""")


def templates() -> list[Path]:
    return sorted(TEMPLATES.glob("*.html"))


def test_there_are_templates():
    assert len(templates()) >= 5


@pytest.mark.parametrize("path", templates(), ids=lambda p: p.name)
def test_no_word_outside_the_catalogue(path: Path):
    source = JINJA.sub("\x00", path.read_text(encoding="utf-8"))
    text = TAG.sub(" ", source).replace("&nbsp;", " ").replace("·", " ")
    assert WORD.findall(text) == []
    said = [
        (name, value)
        for tag in TAG.findall(source)
        for name, value in READ_ATTRIBUTES.findall(tag)
        if WORD.search(value)
    ]
    assert said == []


@pytest.mark.parametrize("path", templates(), ids=lambda p: p.name)
def test_every_key_a_template_names_exists_in_both_languages(path: Path):
    keys = {k for k in KEY.findall(path.read_text(encoding="utf-8")) if not k.endswith(".")}
    for lang in (ENGLISH, CHINESE):
        catalogue = messages(lang)
        missing = [key for key in keys if catalogue.template(key, 1) is None]
        assert missing == [], f"{path.name} ({lang}): {missing}"


def test_the_scan_finds_a_word():
    """The scan would catch English typed into a template."""
    source = JINJA.sub("\x00", '<p>{{ t("x") }} Hello</p><img alt="A cat">')
    assert WORD.findall(TAG.sub(" ", source)) == ["Hello"]
    assert READ_ATTRIBUTES.findall('<img alt="A cat">') == [("alt", "A cat")]
