"""README.md and README.zh-CN.md say the same things: commands, settings, links both ways."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ENGLISH = ROOT / "README.md"
CHINESE = ROOT / "README.zh-CN.md"
COMMAND = re.compile(r"`/([a-z][a-z-]*(?: [a-z][a-z-]*)?)")
SETTING = re.compile(r"`([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)`")


def commands_of(text: str) -> set[str]:
    """Slash commands a README names: ``/imagine``, ``/imagemod logs``, ... (not ``/data``)."""
    top = {command.split()[0] for command in registered_commands()}
    return {found for found in COMMAND.findall(text) if found.split()[0] in top}


def settings_of(text: str) -> set[str]:
    """Settings a README names: ``DAILY_IMAGE_QUOTA``, ..."""
    return set(SETTING.findall(text))


GROUPS = {"imagemod": "imagemod", "blocklist": "imagemod blocklist", "quota": "imagemod quota"}


def registered_commands() -> set[str]:
    """Slash commands and subcommands the cogs declare (read from their source)."""
    found: set[str] = set()
    for file in (ROOT / "cogs").rglob("*.py"):
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
            if not (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "command"
                and isinstance(node.func.value, ast.Name)
            ):
                continue
            name = next((k.value for k in node.keywords if k.arg == "name"), None)
            if not isinstance(name, ast.Constant):
                continue
            owner = node.func.value.id
            found.add(f"{GROUPS[owner]} {name.value}" if owner in GROUPS else str(name.value))
    return found


@pytest.fixture(scope="module")
def texts() -> tuple[str, str]:
    return ENGLISH.read_text(encoding="utf-8"), CHINESE.read_text(encoding="utf-8")


def test_each_readme_links_the_other_in_its_first_lines(texts):
    """README.md links the Chinese README near its top, and back."""
    english, chinese = texts
    assert "(README.zh-CN.md)" in "\n".join(english.splitlines()[:5])
    assert "(README.md)" in "\n".join(chinese.splitlines()[:5])


def test_both_readmes_name_the_same_commands_and_settings(texts):
    """The same slash commands and the same settings appear in both languages."""
    english, chinese = texts
    assert commands_of(english) == commands_of(chinese)
    assert settings_of(english) == settings_of(chinese)
    assert "Remix with lemonbot" in english and "Remix with lemonbot" in chinese


def test_the_readmes_cover_every_command(texts):
    """Every command the cogs declare is in both READMEs (a subcommand by its own name)."""
    declared = registered_commands()
    assert {
        "imagine",
        "quota",
        "models",
        "help",
        "imagemod logs",
        "imagemod quota show",
    } <= declared
    for text in texts:
        for command in declared:
            last = command.rsplit(" ", 1)[-1]
            assert f"`/{command}" in text or re.search(rf"[`/ ]{re.escape(last)}[` ]", text), (
                command
            )
