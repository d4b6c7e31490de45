"""The prompt blocklist: words and regular expressions, matched in linear time.

Every entry compiles with RE2 (google-re2), whose matching time grows linearly with
the prompt whatever the pattern, so no rule can stall the bot: there are no timeouts
or slow-pattern probes to tune. A regular expression RE2 cannot compile (for instance
one with a back-reference or a look-around) is refused when it is added, with RE2's
reason.

A word (or phrase) matches case-insensitively as a whole word: not inside a longer
word. Scripts written without spaces (Chinese, Japanese) have no word boundaries,
so an entry ending in such a character matches anywhere at that end.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import re2

from bot.errors import InvalidRequest
from bot.store import PromptRule

MAX_PATTERN_LENGTH = 200
MAX_RULES_PER_GUILD = 200
_NO_SPACES = re2.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # a refused pattern is the moderator's news, not the log's
    return options


def _word_pattern(word: str) -> str:
    before = "" if _NO_SPACES.search(word[0]) else r"(?:^|[^\p{L}\p{N}_])"
    after = "" if _NO_SPACES.search(word[-1]) else r"(?:[^\p{L}\p{N}_]|$)"
    return before + str(re2.escape(word)) + after


@functools.lru_cache(maxsize=4096)
def compile_rule(pattern: str, is_regex: bool) -> re2._Regexp:
    """Compile a blocklist entry; raise InvalidRequest when it is not usable."""
    pattern = pattern.strip()
    if not pattern:
        raise InvalidRequest("refusal.pattern_empty")
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidRequest("refusal.pattern_too_long", max=MAX_PATTERN_LENGTH)
    try:
        return re2.compile(pattern if is_regex else _word_pattern(pattern), _options())
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise InvalidRequest("refusal.pattern_invalid", reason=reason) from None


def check_new_rule(pattern: str, is_regex: bool) -> str:
    """Validate a blocklist entry before it is stored; return it stripped."""
    compile_rule(pattern, is_regex)
    return pattern.strip()


def rule_matches(rule: PromptRule, prompt: str) -> bool:
    """Whether ``rule`` matches ``prompt``."""
    return compile_rule(rule.pattern, rule.is_regex).search(prompt) is not None


def first_match(rules: Sequence[PromptRule], prompt: str) -> PromptRule | None:
    """Return the first rule that matches ``prompt``, or None."""
    return next((rule for rule in rules if rule_matches(rule, prompt)), None)
