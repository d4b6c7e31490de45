"""The prompt blocklist: words and regular expressions on RE2, with bounded cost.

Every entry compiles with RE2 (google-re2): no back-references, no look-arounds, and
matching time that grows linearly with the prompt. Linear is not free, though: the
cost of one search grows with the prompt's length times the size of the compiled
program (``programsize``, its number of instructions) once RE2's DFA runs out of
memory and falls back to simulating the program. ``(?s).{999}(?s).{900}~`` (13,298
instructions) takes about 0.1 s on a 4,000-character prompt. So the cost is bounded:

- an entry whose program exceeds :data:`MAX_RULE_PROGRAM_SIZE` is refused when added;
- a server's entries together may not exceed :data:`MAX_GUILD_PROGRAM_SIZE`;
- a prompt whose normalised text exceeds :data:`MAX_MATCH_BYTES` is not matched at all
  (refused), since the cost grows with it too;
- :mod:`bot.moderation.matching` runs the match off the event loop, under a time limit.

A word's cost is the program of its own letters; the word-boundary test, which every
word shares, is compiled once per server (:class:`RuleSet`) and not charged. The
limits were chosen from measurements (``bench/bench_blocklist.py``, bench/README.md).
Entries stored before these limits, or made unusable by a change of the server's
settings, are skipped (logged, and flagged in ``/imagemod blocklist list``).

Prompts and entries are compared after :func:`normalise`: NFKC, format characters
(Unicode category Cf: zero-width spaces, joiners, soft hyphens) removed, and, when the
server's ``fold_accents`` setting is on (the default), accents removed, so ``nude``
also catches ``nu`` + U+200B + ``de``, its full-width form and ``nüde``. Regular expressions see the
same normalised text, and are normalised the same way themselves.

A word (or phrase) matches case-insensitively as a whole word: not inside a longer
word. Scripts written without spaces (Chinese, Japanese) have no word boundaries,
so an entry ending in such a character matches anywhere at that end.
"""

from __future__ import annotations

import functools
import logging
import threading
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import re2

from bot.errors import InvalidRequest
from bot.i18n import ENGLISH, Number, Text
from bot.store import PromptRule

log = logging.getLogger(__name__)

MAX_PATTERN_LENGTH = 200
MAX_RULES_PER_GUILD = 200
# Instructions of one entry's compiled program. Allows large Unicode classes (\p{L} is
# 1,201) and repeats up to .{249}; refuses the .{999}-style programs whose search alone
# takes a tenth of a second.
MAX_RULE_PROGRAM_SIZE = 2_000
# Instructions of all of a server's entries together: 200 words of about 15 letters (a
# word of n letters costs about n + 4), or 100 words and 50 regexes of 40 instructions.
# The most expensive set it allows took 0.25-0.4 s on a crafted 4,000-character prompt
# on a shared 2-core machine (bench/README.md): under the matcher's 1 s time limit.
MAX_GUILD_PROGRAM_SIZE = 4_000
# UTF-8 bytes of a normalised prompt: a 4,000-character prompt of 4-byte characters.
# Only text that NFKC expands (one character becoming several) goes beyond it.
MAX_MATCH_BYTES = 16_000

_NO_SPACES = re2.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]")
_BOUNDARY = r"[^\p{L}\p{N}_]"
_FORMAT = re2.compile(r"\p{Cf}")
# The combining diacritical marks (accents) dropped by accent folding. Only these blocks:
# other combining marks (Indic vowel signs, Japanese dakuten, Arabic harakat) carry
# meaning in their scripts and stay.
_ACCENT_BLOCKS = (
    (0x0300, 0x036F),
    (0x1AB0, 0x1AFF),
    (0x1DC0, 0x1DFF),
    (0x20D0, 0x20FF),
    (0xFE20, 0xFE2F),
)
_ACCENTS = re2.compile("[" + "".join(rf"\x{{{a:X}}}-\x{{{b:X}}}" for a, b in _ACCENT_BLOCKS) + "]")
_DROP_ACCENTS = {cp: None for low, high in _ACCENT_BLOCKS for cp in range(low, high + 1)}
# Format characters live in the Basic Multilingual Plane, plane 1 and plane 14 (tags).
_FORMAT_PLANES = ((0, 0x20000), (0xE0000, 0xE1000))


@functools.cache
def _drop_format() -> dict[int, None]:
    """Return the translation table that removes every format character (once, ~30 ms)."""
    return {
        cp: None
        for low, high in _FORMAT_PLANES
        for cp in range(low, high)
        if unicodedata.category(chr(cp)) == "Cf"
    }


def normalise(text: str, fold_accents: bool = True) -> str:
    """Return ``text`` as the blocklist compares it.

    Format characters (category Cf) removed, then NFKC (full-width and other
    compatibility forms become their plain letters), then, with ``fold_accents``,
    accents dropped (``é`` becomes ``e``). Plain ASCII is returned as it is. RE2 looks
    for what there is to remove, and the rest runs in C: a 4,000-character prompt holds
    the GIL for well under a millisecond.
    """
    if text.isascii():
        return text
    if _FORMAT.search(text) is not None:
        text = text.translate(_drop_format())
    text = unicodedata.normalize("NFKC", text)
    if fold_accents:
        decomposed = unicodedata.normalize("NFD", text)
        if _ACCENTS.search(decomposed) is not None:
            text = unicodedata.normalize("NFC", decomposed.translate(_DROP_ACCENTS))
    return text


def _options() -> re2.Options:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # a refused pattern is the moderator's news, not the log's
    return options


@dataclass(frozen=True)
class Compiled:
    """One entry as the blocklist uses it: its normalised text, program and cost."""

    text: str  # the normalised pattern (a word's letters, or a regex's source)
    program: re2._Regexp  # a regex's own program; a word's letters alone
    cost: int  # instructions, as counted against the limits


@functools.lru_cache(maxsize=4096)
def compile_rule(pattern: str, is_regex: bool, fold_accents: bool = True) -> Compiled:
    """Compile a blocklist entry; raise InvalidRequest when it is not usable.

    Too long, empty once normalised, refused by RE2 (with its reason), or a program
    over :data:`MAX_RULE_PROGRAM_SIZE`.
    """
    pattern = pattern.strip()
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidRequest("refusal.pattern_too_long", max=MAX_PATTERN_LENGTH)
    text = normalise(pattern, fold_accents).strip()
    if not text:
        raise InvalidRequest("refusal.pattern_empty")
    try:
        program = re2.compile(text if is_regex else str(re2.escape(text)), _options())
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise InvalidRequest("refusal.pattern_invalid", reason=reason) from None
    cost = int(program.programsize)
    if cost > MAX_RULE_PROGRAM_SIZE:
        raise InvalidRequest(
            "refusal.pattern_too_costly", size=Number(cost), max=Number(MAX_RULE_PROGRAM_SIZE)
        )
    return Compiled(text, program, cost)


class Progress:
    """A match running in a thread: where it is, and whether to give up."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.stage = "starting"  # then "words" (all in one program), then "regex"
        self.rule: PromptRule | None = None  # the regex being searched


class PromptTooLong(InvalidRequest):
    """The normalised prompt is over :data:`MAX_MATCH_BYTES`: too long to match."""


@dataclass(frozen=True)
class RuleSet:
    """A server's usable entries, compiled: all words in one program, each regex in its own.

    ``skipped`` says, for every stored entry left out, why (a message for moderators);
    ``cost`` is what the used entries count against :data:`MAX_GUILD_PROGRAM_SIZE`.
    """

    fold_accents: bool
    words: re2._Regexp | None = None
    word_rules: tuple[PromptRule, ...] = ()  # capture group i + 1 is word_rules[i]
    regexes: tuple[tuple[PromptRule, re2._Regexp], ...] = ()
    cost: int = 0
    skipped: Mapping[int, Text] = field(default_factory=dict)

    def first_match(self, prompt: str, progress: Progress | None = None) -> PromptRule | None:
        """Return an entry that matches ``prompt``, or None; blocking (call it in a thread).

        Between entries it gives up (returns None) once ``progress.stop`` is set: the
        caller has refused the prompt already. Raises :class:`PromptTooLong`.
        """
        if self.words is None and not self.regexes:
            return None
        text = normalise(prompt, self.fold_accents)
        if len(text.encode()) > MAX_MATCH_BYTES:
            raise PromptTooLong("refusal.prompt_unmatchable")
        progress = progress or Progress()
        if self.words is not None:
            progress.stage = "words"
            found = self.words.search(text)
            if found is not None:
                index: int = found.lastindex
                return self.word_rules[index - 1]
        for rule, program in self.regexes:
            if progress.stop.is_set():
                return None
            progress.stage, progress.rule = "regex", rule
            if program.search(text) is not None:
                return rule
        return None


def _words_program(
    words: Sequence[tuple[str, PromptRule]],
) -> tuple[re2._Regexp, tuple[PromptRule, ...]]:
    """One program for every word, its boundary test compiled once per kind of end."""
    kinds: dict[tuple[bool, bool], list[tuple[str, PromptRule]]] = {}
    for text, rule in words:
        ends = (not _NO_SPACES.search(text[0]), not _NO_SPACES.search(text[-1]))
        kinds.setdefault(ends, []).append((text, rule))
    branches: list[str] = []
    order: list[PromptRule] = []
    for (before, after), group in kinds.items():
        alternatives = "|".join(f"({re2.escape(text)})" for text, _ in group)
        order += [rule for _, rule in group]
        branches.append(
            (f"(?:^|{_BOUNDARY})" if before else "")
            + f"(?:{alternatives})"
            + (f"(?:{_BOUNDARY}|$)" if after else "")
        )
    return re2.compile("|".join(branches), _options()), tuple(order)


@functools.lru_cache(maxsize=256)
def rule_set(rules: tuple[PromptRule, ...], fold_accents: bool = True) -> RuleSet:
    """Compile a server's stored entries (oldest first), within the limits.

    An entry that cannot be used (does not compile, or its program is over the limit
    per entry) or that would take the server over :data:`MAX_GUILD_PROGRAM_SIZE` is
    skipped, with a log line; the rest are used. Cached: call it with the store's rules.
    """
    words: list[tuple[str, PromptRule]] = []
    regexes: list[tuple[PromptRule, re2._Regexp]] = []
    skipped: dict[int, Text] = {}
    cost = 0
    for rule in rules:
        try:
            compiled = compile_rule(rule.pattern, rule.is_regex, fold_accents)
        except InvalidRequest as exc:
            too_large = exc.text.key == "refusal.pattern_too_costly"
            skipped[rule.id] = (
                Text("blocklist.over_rule_limit", exc.text.params) if too_large else exc.text
            )
        else:
            if cost + compiled.cost > MAX_GUILD_PROGRAM_SIZE:
                skipped[rule.id] = Text.of(
                    "blocklist.over_budget", max=Number(MAX_GUILD_PROGRAM_SIZE)
                )
                continue
            cost += compiled.cost
            if rule.is_regex:
                regexes.append((rule, compiled.program))
            else:
                words.append((compiled.text, rule))
    for rule_id, why in skipped.items():
        log.warning(
            "guild %s: blocklist entry %s is not applied: %s",
            rules[0].guild_id,
            rule_id,
            why.render(ENGLISH),
        )
    program, order = _words_program(words) if words else (None, ())
    return RuleSet(fold_accents, program, order, tuple(regexes), cost, skipped)


def check_new_rule(
    pattern: str,
    is_regex: bool,
    existing: Sequence[PromptRule] = (),
    fold_accents: bool = True,
) -> str:
    """Validate a blocklist entry before it is stored beside ``existing``; return it stripped.

    Refuses what :func:`compile_rule` refuses, and an entry that would take the server's
    entries over :data:`MAX_GUILD_PROGRAM_SIZE` (not when it is stored already: adding
    it again changes nothing).
    """
    compiled = compile_rule(pattern, is_regex, fold_accents)
    pattern = pattern.strip()
    if any(r.pattern == pattern and r.is_regex == is_regex for r in existing):
        return pattern
    used = rule_set(tuple(existing), fold_accents).cost if existing else 0
    if used + compiled.cost > MAX_GUILD_PROGRAM_SIZE:
        raise InvalidRequest(
            "refusal.blocklist_too_costly",
            size=Number(compiled.cost),
            used=Number(used),
            max=Number(MAX_GUILD_PROGRAM_SIZE),
        )
    return pattern


def first_match(
    rules: Sequence[PromptRule], prompt: str, fold_accents: bool = True
) -> PromptRule | None:
    """Return the entry of ``rules`` that matches ``prompt``, or None (blocking: in a thread)."""
    found = rule_set(tuple(rules), fold_accents).first_match(prompt) if rules else None
    return next((rule for rule in rules if rule == found), None)  # the caller's own object
