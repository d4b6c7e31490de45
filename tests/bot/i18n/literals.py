"""Find user-visible English left in code: string constants that read like prose.

A constant "reads like prose" when it has a space and a word of two letters or more
(``f"Job {id}"`` counts: an f-string is judged as a whole, its placeholders as ``{}``);
identifiers, keys, custom ids and MIME types have no spaces. Not counted: docstrings,
the arguments of logging calls (``log.info(...)``: logs stay English), and what
:data:`ALLOWED` names with a reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ROOTS = ("bot", "cogs")
# Whole areas that speak to machines or operators, not members.
EXCLUDED = (
    "bot/store/",  # SQL and storage
    "bot/lemondata/",  # the gateway's API: its field names and errors
    "bot/scheduler/",  # the request budget and poll planner: no member reads a word of it
    "bot/config.py",  # operator-facing one-liners about settings
    "bot/__main__.py",  # operator-facing start-up lines
)
LOG_NAMES = frozenset({"log", "logger", "logging"})
# Functions that log their arguments as the logging calls do (bot.errors.log_failure).
LOG_FUNCTIONS = frozenset({"log_failure"})
WORD = re.compile(r"[A-Za-z]{2,}")
SPACE = re.compile(r"\s")

# (file, text) -> why it is not a member-facing text.
ALLOWED: dict[tuple[str, str], str] = {
    ("bot/logs.py", "%(asctime)s %(levelname)-7s %(name)s: %(message)s"): "the log format",
    ("bot/catalog/families.py", "GPT Image 2"): "family id; shown through family.<slug>",
    ("bot/catalog/families.py", "DALL-E 3"): "family id; shown through family.<slug>",
    ("bot/catalog/families.py", "Gemini Pro image"): "family id; shown through family.<slug>",
    ("bot/catalog/families.py", "Gemini Flash image"): "family id; shown through family.<slug>",
    (
        "bot/catalog/families.py",
        "Gemini 2.0 Flash (prompt only)",
    ): "family id; shown through family.<slug>",
    (
        "bot/catalog/geometry.py",
        "gpt-image-2 has no size for ratio {}.",
    ): "a ValueError for a broken invariant: a member sees 'Something went wrong'",
    (
        "bot/catalog/geometry.py",
        "model default",
    ): "describe_shape's fallback; cards use card.ratio_default",
    (
        "bot/jobs/delivery.py",
        "job has no interaction token",
    ): "a ValueError caught by delivery, which then tries the next path",
    (
        "bot/errors.py",
        "the image service lost track of the task",
    ): "stored detail for moderators; members read detail.lost_task (OWN_DETAILS)",
    (
        "bot/errors.py",
        "completed task has no images",
    ): "stored detail for moderators; members read detail.no_images (OWN_DETAILS)",
    (
        "bot/errors.py",
        "the images could not be downloaded in time",
    ): "stored detail for moderators; members read detail.download_timeout (OWN_DETAILS)",
    (
        "bot/moderation/service.py",
        "message already gone",
    ): "the moderator log's detail column: a record for operators, like the logs",
    ("bot/moderation/service.py", "rule {}"): "the moderator log's detail column",
    ("bot/client.py", "command {}"): "where an error happened: report_error logs it only",
    ("bot/ui/views.py", "button {}:{}"): "where an error happened: report_error logs it only",
    ("cogs/results.py", "modal {}"): "where an error happened: report_error logs it only",
    ("bot/jobs/delivery.py", "HTTP {} (code {})"): "describes a Discord error for a log line",
    ("bot/errors.py", "{}(status={}, code={}, message={})"): "a gateway error's repr, for logs",
    (
        "bot/i18n/catalog.py",
        "no message {} in the catalogue",
    ): "a KeyError for a developer: a key used in code is missing",
    (
        "bot/dashboard/thumbnails.py",
        "{}x{} is over the decoding limit",
    ): "BadImage's reason, logged only: the page shows no thumbnail",
    (
        "bot/web/app.py",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'",
    ): "the Content-Security-Policy header",
    ("bot/web/jobs.py", "private, max-age=86400"): "a Cache-Control header",
    ("bot/web/jobs.py", 'attachment; filename="{}"'): "a Content-Disposition header",
    ("bot/web/usage.py", 'attachment; filename="{}"'): "a Content-Disposition header",
    ("bot/web/app.py", "no sign-in was started here"): "SignInFailed's reason, logged only",
    ("bot/web/auth.py", "identify guilds"): "the OAuth2 scopes",
    ("bot/web/auth.py", "The httpx module is deprecated"): "a warning filter's pattern",
    ("bot/web/auth.py", "the sign-in took too long"): "SignInFailed's reason, logged only",
    ("bot/web/auth.py", "state does not match"): "SignInFailed's reason, logged only",
    ("bot/web/auth.py", "Discord said {}"): "SignInFailed's reason, logged only",
    ("bot/web/render.py", "%Y-%m-%d %H:%M UTC"): "a timestamp's format (digits and UTC)",
    (
        "bot/web/server.py",
        "WEB_PORT {} cannot be listened on: {}",
    ): "an operator's one line at start, like bot/config.py's",
}


@dataclass(frozen=True)
class Literal:
    """A prose-like string constant outside the catalogue."""

    path: str
    line: int
    text: str


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            assert isinstance(body, list)
            first = body[0] if body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _logging_calls(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in LOG_NAMES
        ) or (isinstance(func, ast.Name) and func.id in LOG_FUNCTIONS):
            found.update(id(child) for child in ast.walk(node))
    return found


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
    return None


def reads_like_prose(text: str) -> bool:
    """Whether a string constant looks like words meant for a person."""
    return bool(SPACE.search(text) and WORD.search(text))


def scan_source(
    source: str, path: str, allowed: Mapping[tuple[str, str], str] = ALLOWED
) -> list[Literal]:
    """Return the prose-like literals of one module's source, in line order."""
    return sorted(_scan(source, path, allowed), key=lambda literal: literal.line)


def _scan(source: str, path: str, allowed: Mapping[tuple[str, str], str]) -> Iterator[Literal]:
    tree = ast.parse(source)
    skipped = _docstrings(tree) | _logging_calls(tree)
    inside_fstrings = {
        id(part)
        for node in ast.walk(tree)
        if isinstance(node, ast.JoinedStr)
        for part in ast.walk(node)
        if part is not node
    }
    shown = _shown_words(tree)
    for node in ast.walk(tree):
        if id(node) in skipped or id(node) in inside_fstrings:
            continue
        text = _text(node)
        if text is None or (path, text) in allowed:
            continue
        if reads_like_prose(text) or (id(node) in shown and WORD.search(text)):
            yield Literal(path, getattr(node, "lineno", 0), text)


# Keyword arguments whose value Discord shows as it is: one word there is a text too.
SHOWN_KEYWORDS = frozenset(
    {"label", "placeholder", "title", "content", "description", "text", "name", "value"}
)
# Calls whose ``name``/``value`` is an id, not a text: command, group and choice names (the
# public contract, shown through the Translator), a task's or logger's name, a family id.
ID_CALLS = frozenset(
    {"command", "Group", "Choice", "GroupCommit", "Family", "getLogger", "create_task", "spawn"}
)


def _called(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _shown_words(tree: ast.AST) -> set[int]:
    """The string constants given to a keyword that Discord shows (``label="Cancel"``)."""
    return {
        id(keyword.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg in SHOWN_KEYWORDS
        and not (keyword.arg in ("name", "value") and _called(node) in ID_CALLS)
    }


def scan(repo: Path = REPO) -> list[Literal]:
    """Return every prose-like literal of ``bot/`` and ``cogs/`` outside the catalogue."""
    found: list[Literal] = []
    for root in ROOTS:
        for file in sorted((repo / root).rglob("*.py")):
            path = file.relative_to(repo).as_posix()
            if path.startswith(EXCLUDED):
                continue
            found.extend(scan_source(file.read_text(encoding="utf-8"), path))
    return found
