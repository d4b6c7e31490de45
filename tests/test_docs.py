"""The documentation lists exactly the settings the code reads."""

from __future__ import annotations

import re
from pathlib import Path

import bot.config

ROOT = Path(__file__).resolve().parents[1]


def settings_read() -> set[str]:
    source = Path(bot.config.__file__).read_text()
    return set(re.findall(r'(?:env\.get|required|number|integer)\(\s*"([A-Z][A-Z0-9_]+)"', source))


def test_env_example_lists_every_setting():
    """.env.example has a line for each variable Settings.from_env reads, and no other."""
    keys = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert keys == settings_read()


def test_readme_table_lists_every_setting():
    """The README's configuration table has a row for each variable."""
    readme = (ROOT / "README.md").read_text()
    rows = set(re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", readme, re.M))
    assert rows == settings_read()


def test_readme_test_command_is_the_one_ci_runs():
    """The README's set-up test command (after its install) is a line `.ci/run` runs as is."""
    readme = (ROOT / "README.md").read_text()
    shell = re.findall(r"^```sh\n(.*?)^```", readme, re.M | re.S)
    setup = next(block.strip() for block in shell if "pytest" in block)
    install, _, command = setup.rpartition(" && ")
    assert "pip install" in install and "pytest" in command
    ci = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert command in ci
