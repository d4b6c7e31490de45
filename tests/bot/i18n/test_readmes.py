"""Each document and its Chinese twin say the same things.

README.md and README.zh-CN.md, and every docs/X.md and docs/X.zh-CN.md: the same outline
(headings, paragraphs, list items, tables, code blocks), the same shell commands, commands,
settings and links, and a link to each other near the top. Links between them resolve.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ENGLISH = ROOT / "README.md"
CHINESE = ROOT / "README.zh-CN.md"
DOCS = ROOT / "docs"
TWIN = ".zh-CN.md"
# The documents the README promises (issue 18): each must exist in both languages.
PROMISED = ("architecture", "operations", "performance", "development")
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


# Documents and their twins -------------------------------------------------------------

FENCE = re.compile(r"^\s*```(\S*)")
LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)|<(https?://[^>\s]+)>")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def english_documents() -> list[Path]:
    """README.md and every English document in docs/."""
    return [ENGLISH, *sorted(p for p in DOCS.glob("*.md") if not p.name.endswith(TWIN))]


def twin_of(english: Path) -> Path:
    return english.with_name(english.name.removesuffix(".md") + TWIN)


def pairs() -> list[tuple[Path, Path]]:
    return [(english, twin_of(english)) for english in english_documents()]


def pair_id(pair: tuple[Path, Path]) -> str:
    return str(pair[0].relative_to(ROOT))


PAIRS = pytest.mark.parametrize("pair", pairs(), ids=pair_id)


def blocks(text: str) -> list[tuple[str, list[str]]]:
    """Split Markdown into its blocks: ``(kind, lines)``, kind one of heading N, paragraph,
    item, table, code LANG; blank lines separate blocks and code blocks are kept whole."""
    found: list[tuple[str, list[str]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif fence := FENCE.match(line):
            end = next((j for j in range(i + 1, len(lines)) if FENCE.match(lines[j])), len(lines))
            found.append((f"code {fence[1] or '-'}", lines[i + 1 : end]))
            i = end + 1
        elif line.startswith("#"):
            found.append((f"heading {len(line) - len(line.lstrip('#'))}", [line]))
            i += 1
        elif line.startswith("|"):
            end = i
            while end < len(lines) and lines[end].startswith("|"):
                end += 1
            found.append(("table", lines[i:end]))
            i = end
        else:
            end = i + 1
            while (
                end < len(lines)
                and lines[end].strip()
                and not LIST_ITEM.match(lines[end])
                and not lines[end].startswith(("#", "|"))
                and not FENCE.match(lines[end])
            ):
                end += 1
            found.append(("item" if LIST_ITEM.match(line) else "paragraph", lines[i:end]))
            i = end
    return found


def outline(text: str) -> list[str]:
    """The shape of a document, which a translation keeps: each block's kind, a table's
    rows and columns, a code block's language and length."""
    shape = []
    for kind, lines in blocks(text):
        if kind == "table":
            columns = lines[1].strip().strip("|").count("|") + 1
            shape.append(f"table {len(lines) - 2} rows x {columns} columns")
        elif kind.startswith("code"):
            shape.append(f"{kind}, {len(lines)} lines")
        else:
            shape.append(kind)
    return shape


def shell_commands(text: str) -> list[list[str]]:
    """The commands of each ``sh`` block, comments left out (those are translated)."""
    commands = []
    for kind, lines in blocks(text):
        if kind == "code sh":
            stripped = (re.sub(r"(^|\s+)#.*$", "", line).rstrip() for line in lines)
            commands.append([line for line in stripped if line])
    return commands


def links(path: Path) -> list[str]:
    """Every link target in a document, code blocks left out."""
    found = []
    for kind, lines in blocks(path.read_text(encoding="utf-8")):
        if not kind.startswith("code"):
            for match in LINK.finditer("\n".join(lines)):
                found.append(match[1] or match[2])
    return found


def local(path: Path, target: str) -> tuple[Path, str] | None:
    """The file and anchor a relative link points to, or None for a web address."""
    if re.match(r"[a-z]+:", target):
        return None
    file, _, anchor = target.partition("#")
    return ((path.parent / file).resolve() if file else path), anchor


def same_place(path: Path, target: str) -> str:
    """A link as the place it names, whichever language: docs/x.zh-CN.md is docs/x.md."""
    place = local(path, target)
    if place is None:
        return target
    file, _ = place
    return str(file.relative_to(ROOT)).replace(TWIN, ".md")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    return {
        slug(lines[0])
        for kind, lines in blocks(path.read_text(encoding="utf-8"))
        if kind.startswith("heading")
    }


def test_every_document_has_a_chinese_twin_and_the_promised_ones_exist():
    """docs/X.md and docs/X.zh-CN.md come in pairs, and the four promised documents exist."""
    for name in PROMISED:
        assert (DOCS / f"{name}.md").is_file(), name
    english = {p.name.removesuffix(".md") for p in english_documents()[1:]}
    chinese = {p.name.removesuffix(TWIN) for p in DOCS.glob(f"*{TWIN}")}
    assert english == chinese


def test_the_readmes_link_every_document_in_their_own_language(texts):
    """README.md links each docs/X.md; README.zh-CN.md links each docs/X.zh-CN.md."""
    english, chinese = texts
    for document in english_documents()[1:]:
        assert f"(docs/{document.name})" in english, document.name
        assert f"(docs/{twin_of(document).name})" in chinese, document.name


@PAIRS
def test_each_document_links_its_twin_in_its_first_lines(pair):
    """A reader finds the other language at the top of either document."""
    english, chinese = pair
    assert f"({chinese.name})" in "\n".join(english.read_text(encoding="utf-8").splitlines()[:5])
    assert f"({english.name})" in "\n".join(chinese.read_text(encoding="utf-8").splitlines()[:5])


@PAIRS
def test_twins_have_the_same_outline(pair):
    """Same headings, paragraphs, list items, table sizes and code blocks, in the same order."""
    english, chinese = (p.read_text(encoding="utf-8") for p in pair)
    assert outline(english) == outline(chinese)


@PAIRS
def test_twins_give_the_same_shell_commands(pair):
    """A command a reader copies is the same in both languages."""
    english, chinese = (p.read_text(encoding="utf-8") for p in pair)
    assert shell_commands(english) == shell_commands(chinese)


@PAIRS
def test_twins_name_the_same_commands_and_settings(pair):
    english, chinese = (p.read_text(encoding="utf-8") for p in pair)
    assert commands_of(english) == commands_of(chinese)
    assert settings_of(english) == settings_of(chinese)


@PAIRS
def test_twins_link_the_same_places_each_in_its_own_language(pair):
    """The same places, and a Chinese document links the Chinese twin of a document."""
    english, chinese = pair
    assert sorted(same_place(english, t) for t in links(english)) == sorted(
        same_place(chinese, t) for t in links(chinese)
    )
    for path, other in ((english, chinese), (chinese, english)):
        for target in links(path):
            place = local(path, target)
            if place is None or place[0] == other.resolve():
                continue  # a web address, or the language switch
            file = place[0]
            if path is chinese and not file.name.endswith(TWIN) and twin_of(file).exists():
                raise AssertionError(f"{path.name} links {target}, not its Chinese twin")
            if path is english:
                assert not file.name.endswith(TWIN), f"{path.name} links {target}"


@pytest.mark.parametrize(
    "path", [p for pair in pairs() for p in pair], ids=lambda p: str(p.relative_to(ROOT))
)
def test_relative_links_and_anchors_resolve(path):
    """Every relative link names a file that exists, and an anchor a heading it has."""
    for target in links(path):
        place = local(path, target)
        if place is None:
            continue
        file, anchor = place
        assert file.exists(), f"{path.name}: {target}"
        if anchor:
            assert anchor in anchors(file), f"{path.name}: {target}"


@PAIRS
def test_the_chinese_twin_is_written_in_chinese(pair):
    """Every paragraph, list item and table row of a Chinese document has Chinese in it."""
    _, chinese = pair
    for kind, lines in blocks(chinese.read_text(encoding="utf-8")):
        if kind in ("paragraph", "item"):
            assert CJK.search(" ".join(lines)), f"{chinese.name}: {lines[0]}"
        elif kind == "table":
            for row in lines:
                if not re.fullmatch(r"[|\-: ]+", row):
                    assert CJK.search(row), f"{chinese.name}: {row}"
