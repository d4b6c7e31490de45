"""No user-visible English is left in code: every word a member reads is in the catalogue."""

from __future__ import annotations

from tests.bot.i18n.literals import ALLOWED, REPO, scan, scan_source

PLANTED = '''
"""A module docstring is documentation, not a message."""
import logging

log = logging.getLogger(__name__)


def reply(job_id: int) -> str:
    """Return a reply (a docstring: not counted)."""
    log.info("job %s answered in plain English", job_id)  # logs stay English
    key = "refusal.prompt_empty"  # a key, not prose
    return f"Your image {job_id} is ready"  # planted: a member would read this
'''


def test_no_english_literal_outside_the_catalogue():
    """bot/ and cogs/ hold no prose-like string outside docstrings, logs and the allowlist."""
    found = scan()
    assert not found, "user-visible English outside the catalogue:\n" + "\n".join(
        f"{literal.path}:{literal.line}: {literal.text!r}" for literal in found
    )


def test_the_scan_finds_a_planted_literal():
    """A planted f-string reply is found; its docstrings, log call and key are not."""
    found = scan_source(PLANTED, "cogs/planted.py")
    assert [(literal.line, literal.text) for literal in found] == [(12, "Your image {} is ready")]


def test_the_scan_finds_plain_strings_and_keyword_arguments():
    """A plain constant and a keyword argument (an embed field name) are found too."""
    source = 'embed.add_field(name="What happened", value=code)\nLABEL = "Try again"\n'
    assert [literal.text for literal in scan_source(source, "bot/ui/x.py")] == [
        "What happened",
        "Try again",
    ]


def test_every_allowlist_entry_is_still_needed():
    """Each allowlisted literal exists: without its entry, the scan finds it again."""
    for path, text in ALLOWED:
        source = (REPO / path).read_text(encoding="utf-8")
        others = {key: why for key, why in ALLOWED.items() if key != (path, text)}
        assert text in [lit.text for lit in scan_source(source, path, others)], (path, text)


def test_one_word_that_discord_shows_is_found():
    """A single word given as a button's label or a placeholder is a text as well."""
    source = (
        'discord.ui.Button(label="Cancel", custom_id="lemonbot:cancel")\n'
        'Select(placeholder="Pick")\nstyle = "primary"\n'
    )
    assert [literal.text for literal in scan_source(source, "bot/ui/x.py")] == ["Cancel", "Pick"]


def test_one_word_field_names_and_values_are_found_but_command_names_are_not():
    """An embed field's or author's single word is a text; a command's name is an id."""
    source = (
        'embed.add_field(name="Model", value="Unknown")\n'
        'embed.set_author(name="Moderator")\n'
        '@app_commands.command(name="imagine")\n'
        "def imagine(): ...\n"
        'Choice(name="vivid", value="vivid")\n'
    )
    found = [literal.text for literal in scan_source(source, "bot/ui/x.py")]
    assert found == ["Model", "Unknown", "Moderator"]
