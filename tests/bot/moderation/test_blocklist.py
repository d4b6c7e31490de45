"""The prompt blocklist on RE2: what is refused when added, and what matches."""

from __future__ import annotations

import pytest

from bot.errors import InvalidRequest
from bot.moderation.blocklist import check_new_rule, first_match
from bot.store import PromptRule


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
    crafted = "word " * 5000 + "#"  # hangs a backtracking engine; linear in RE2
    assert first_match([rule], crafted) is None
    assert first_match([rule], "word " * 5000 + "7") is rule


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
