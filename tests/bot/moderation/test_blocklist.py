"""The prompt blocklist on RE2: what is refused when added, what matches, and its limits."""

from __future__ import annotations

import logging
import sys
import unicodedata

import pytest

from bot.errors import InvalidRequest
from bot.moderation.blocklist import (
    MAX_GUILD_PROGRAM_SIZE,
    MAX_MATCH_BYTES,
    MAX_RULE_PROGRAM_SIZE,
    Progress,
    PromptTooLong,
    _drop_format,
    check_new_rule,
    compile_rule,
    first_match,
    normalise,
    rule_set,
)
from bot.store import PromptRule
from tests.factories import costly_prompt, costly_rules


@pytest.mark.parametrize(
    ("pattern", "ok"),
    [
        ("lemon", True),
        ("b[a4]n+ana", True),
        ("(cat|dog)s?", True),
        ("[(+]+", True),
        (r"\(a+\)+", True),
        # Shapes that backtrack exponentially elsewhere are linear in RE2, so they are fine.
        ("(a+)+", True),
        (r"(\w*){2,}", True),
        ("(?:x.*y)*", True),
        ("(a|aa)+$", True),
        (r"(a)\1", False),
        ("(?<!x)y", False),
        ("(", False),
        ("x" * 201, False),
    ],
)
def test_check_new_rule(pattern, ok):
    """Regexes RE2 cannot compile, or too long, are refused; everything else is safe."""
    if ok:
        assert check_new_rule(pattern, True) == pattern
    else:
        with pytest.raises(InvalidRequest):
            check_new_rule(pattern, True)


def test_backtracking_shapes_match_in_linear_time():
    """A pattern that backtracks catastrophically elsewhere answers at once, correctly."""
    rule = PromptRule(1, 1, r"(\w+\s?)*\d$", True, 1, 0.0)
    assert first_match([rule], "a short prompt") is None
    crafted = "word " * 799 + "#"  # hangs a backtracking engine; linear in RE2
    assert first_match([rule], crafted) is None
    assert first_match([rule], "word " * 799 + "7") is rule


@pytest.mark.parametrize(
    ("word", "prompt", "hit"),
    [
        ("lemon", "A LEMON tree", True),
        ("lemon", "lemonade", False),
        ("lemon", "un-lemon-like", True),
        ("café", "un CAFÉ noir", True),
        ("café", "cafés", False),
        ("猫", "一只猫在睡觉", True),  # no spaces in Chinese: no word boundaries either
        ("黑猫", "一只白猫", False),
    ],
)
def test_words_match_whole_words_in_any_script(word, prompt, hit):
    """Words match whole words, case-insensitively; scripts without spaces match inside."""
    rule = PromptRule(1, 1, word, False, 1, 0.0)
    assert (first_match([rule], prompt) is rule) is hit


# ---------------------------------------------------------------------- normalising


@pytest.mark.parametrize(
    ("text", "folded", "kept"),
    [
        ("nu\u200bde", "nude", "nude"),  # zero-width space (Cf)
        ("n\u00adu\u200dd\ufeffe", "nude", "nude"),  # soft hyphen, joiner, BOM (all Cf)
        ("ｎｕｄｅ", "nude", "nude"),  # full-width (NFKC)
        ("ＮＵＤＥ", "NUDE", "NUDE"),
        ("nüde", "nude", "nüde"),  # accent folded only when asked
        ("nu\u0308de", "nude", "nüde"),  # a combining accent: composed, then folded
        ("ﬁne", "fine", "fine"),  # a ligature (NFKC)
        ("crème brûlée", "creme brulee", "crème brûlée"),
        ("がっこう", "がっこう", "がっこう"),  # dakuten are not accents: kept
        ("plain ascii", "plain ascii", "plain ascii"),
    ],
)
def test_normalise(text, folded, kept):
    """NFKC, format characters removed, accents folded only when the setting says so."""
    assert normalise(text) == folded
    assert normalise(text, fold_accents=False) == kept


def test_every_format_character_is_removed():
    """The table built from three planes holds every Cf character this Python knows."""
    every = {cp for cp in range(sys.maxunicode + 1) if unicodedata.category(chr(cp)) == "Cf"}
    assert set(_drop_format()) == every
    assert normalise("".join(map(chr, sorted(every))) + "x") == "x"


@pytest.mark.parametrize("prompt", ["nu\u200bde", "ｎｕｄｅ", "nüde", "a NÜ\u200bDE figure"])
def test_a_word_catches_the_obvious_evasions(prompt):
    """``nude`` catches the zero-width, full-width and accented spellings."""
    rule = PromptRule(1, 1, "nude", False, 1, 0.0)
    assert first_match([rule], prompt) is rule


def test_with_accents_kept_nude_and_nuede_are_distinct():
    """Accent folding off: ``nüde`` is another word than ``nude``, both ways round."""
    nude = PromptRule(1, 1, "nude", False, 1, 0.0)
    accented = PromptRule(2, 1, "nüde", False, 1, 0.0)
    assert first_match([nude], "nüde", fold_accents=False) is None
    assert first_match([accented], "nude", fold_accents=False) is None
    assert first_match([accented], "nu\u0308de", fold_accents=False) is accented  # same, NFKC
    assert first_match([nude], "nu\u200bde", fold_accents=False) is nude  # still no Cf
    assert first_match([accented], "nude") is accented  # folded: the rule folds too


def test_regexes_see_the_normalised_text():
    """A regex is matched against the normalised prompt, and is normalised itself."""
    plain = PromptRule(1, 1, r"n[u]+de\b", True, 1, 0.0)
    accented = PromptRule(2, 1, "crème", True, 1, 0.0)
    assert first_match([plain], "ｎｕ\u200bｕde") is plain
    assert first_match([plain], "nüüde") is plain
    assert first_match([plain], "nüüde", fold_accents=False) is None
    assert first_match([accented], "creme") is accented
    assert first_match([accented], "creme", fold_accents=False) is None


def test_every_word_is_found_in_one_program():
    """Many words share one program; whichever matches is the one reported."""
    rules = [PromptRule(i, 1, word, False, 1, 0.0) for i, word in enumerate(WORDS, 1)]
    for rule in rules:
        assert first_match(rules, f"a {rule.pattern.upper()}, at dusk") is rule
    assert first_match(rules, "lemonade, darker sky, 白狗, c+, cafés, stormy") is None


WORDS = ["lemon", "dark sky", "猫", "黑猫", "c++", "café", "storm"]


# ---------------------------------------------------------------------- limits


def test_a_rule_whose_program_is_too_large_is_refused_naming_the_limit():
    """The issue's ``(?s).{999}(?s).{900}~`` (13,298 instructions) is refused when added."""
    with pytest.raises(InvalidRequest) as refused:
        check_new_rule("(?s).{999}(?s).{900}~", True)
    assert refused.value.text.key == "refusal.pattern_too_costly"
    assert "13,298 instructions" in refused.value.message
    assert f"at most {MAX_RULE_PROGRAM_SIZE:,}" in refused.value.message
    assert compile_rule(r"\p{L}+", True).cost <= MAX_RULE_PROGRAM_SIZE  # classes still fit


def test_a_server_s_rules_together_stay_within_the_budget():
    """Entries are accepted until their programs reach the server's limit, then refused."""
    patterns = costly_rules()
    stored = [PromptRule(i, 1, p, True, 1, 0.0) for i, p in enumerate(patterns, 1)]
    applied = rule_set(tuple(stored))
    assert applied.skipped == {}
    assert MAX_GUILD_PROGRAM_SIZE - 200 < applied.cost <= MAX_GUILD_PROGRAM_SIZE
    with pytest.raises(InvalidRequest) as refused:
        check_new_rule("😀.{20}x", True, stored)
    assert refused.value.text.key == "refusal.blocklist_too_costly"
    assert f"the most allowed is {MAX_GUILD_PROGRAM_SIZE:,}" in refused.value.message
    assert check_new_rule(patterns[0], True, stored) == patterns[0]  # already there: no-op
    assert check_new_rule("😀.{20}x", True, stored[1:]) == "😀.{20}x"  # room again


def test_stored_rules_over_the_limits_are_skipped_and_logged(caplog):
    """Entries stored before the limits are left out (logged); the others still apply."""
    huge = PromptRule(1, 7, "(?s).{999}(?s).{900}~", True, 1, 0.0)
    costly = [PromptRule(i, 7, p, True, 1, 0.0) for i, p in enumerate(costly_rules(), 2)]
    late = PromptRule(99, 7, r"storm\pN", True, 1, 0.0)  # 237 instructions: no room left
    rules = (huge, *costly, late)
    with caplog.at_level(logging.WARNING, "bot.moderation.blocklist"):
        applied = rule_set(rules)
    assert set(applied.skipped) == {1, 99}  # too large itself; over the server's budget
    assert applied.skipped[1].key == "blocklist.over_rule_limit"
    assert applied.skipped[99].key == "blocklist.over_budget"
    assert "guild 7: blocklist entry 1 is not applied: 13,298 instructions" in caplog.text
    assert "guild 7: blocklist entry 99 is not applied" in caplog.text
    assert first_match(rules, "a storm5") is None  # skipped
    assert first_match(rules[-1:], "a storm5") is late  # on its own it would match
    assert first_match(rules, "~" * 2000) is None  # the huge one is never run
    assert first_match(rules[1:2], "😀" * 22 + "0") is costly[0]  # the rest apply


def test_a_prompt_too_long_once_normalised_is_refused():
    """NFKC can make a prompt longer (⑽ is 4 characters); past MAX_MATCH_BYTES it is refused."""
    rule = PromptRule(1, 1, "storm", False, 1, 0.0)
    assert first_match([rule], "⑽" * 4000) is None  # 16,000 bytes: still matched
    with pytest.raises(PromptTooLong):
        first_match([rule], "⑽" * 4001)
    assert normalise("⑽") == "(10)"
    assert len(("⑽" * 4001).encode()) < MAX_MATCH_BYTES  # the prompt itself is short


def test_a_match_told_to_stop_runs_no_further_entry():
    """Once the caller gave up, the thread stops before the next entry."""
    rules = tuple(PromptRule(i, 1, p, True, 1, 0.0) for i, p in enumerate(costly_rules(), 1))
    progress = Progress()
    progress.stop.set()
    assert rule_set(rules).first_match(costly_prompt(), progress) is None
    assert progress.rule is None  # not one regex was searched
