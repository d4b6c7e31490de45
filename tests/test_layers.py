"""The direction of imports (docs/architecture.md, Layers), read from the source with ``ast``.

Every import counts: at the top, inside functions and under ``if TYPE_CHECKING:``.
A name taken from a package (``from bot.store import Job``) counts as an import of the
module that defines it (``bot.store.rows``), found through the package's re-exports.

The layers, top to bottom::

    cogs, web            thin adapters: slash commands, and the web dashboard
    bot services         jobs, moderation, quota, scheduler, background (client: composition)
    bot.ui               embeds, views, buttons, formatting
    catalog, i18n, errors, the store's row types (bot.store.rows), lemondata's plain types
    bot.store (repositories, engines)  /  bot.lemondata (client, downloads)

bot.errors, the one exception tree, is below them all: every layer may raise its branch.
"""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SERVICES = frozenset(
    {"jobs", "moderation", "quota", "scheduler", "background", "billing", "dashboard"}
)
LEMONDATA_TYPES = frozenset({"errors", "models", "images", "urls"})  # no I/O in these
VOCABULARY = frozenset({"catalog", "i18n", "errors", "rows", "lemondata.types"})

# What each layer may import of the bot (anything outside bot/ and cogs/ is free).
ALLOWED: dict[str, frozenset[str]] = {
    # cogs receive the LemonBot (bot.client) and call its services; never the store's
    # repositories and engines, nor the API client.
    "cogs": frozenset({"cogs", "client", "ui", "catalog", "i18n", "errors", "rows"} | SERVICES),
    # bot.web, the dashboard: a top layer beside the cogs; it calls the services (and
    # receives the LemonBot), never the store's repositories nor the API client.
    "web": frozenset({"web", "client", "ui", "catalog", "i18n", "errors", "rows"} | SERVICES),
    "ui": frozenset({"ui"} | VOCABULARY),
    "catalog": frozenset({"catalog", "errors", "i18n", "lemondata.types"}),
    "i18n": frozenset({"i18n"}),
    "errors": frozenset({"errors", "i18n"}),
    "rows": frozenset({"rows"}),
    "store": frozenset({"store", "rows", "errors"}),
    "lemondata.types": frozenset({"lemondata.types", "errors"}),
    "lemondata.client": frozenset({"lemondata.types", "lemondata.client", "errors"}),
}

# Attributes of the bot that cogs must not reach: they are what the services wrap, or
# services that the client wires into the others (the delivery, into moderation).
BOT_INTERNALS = frozenset({"store", "api", "delivery"})
KNOWN_EXCEPTIONS: set[tuple[str, str]] = set()  # none: every cog goes through a service


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _sources() -> dict[str, Path]:
    """Every module of bot/ and cogs/, by dotted name."""
    files = sorted((ROOT / "bot").rglob("*.py")) + sorted((ROOT / "cogs").rglob("*.py"))
    return {_module_name(p): p for p in files}


def _is_package(module: str) -> bool:
    path = _sources().get(module)
    return path is not None and path.name == "__init__.py"


@cache
def _tree(module: str) -> ast.Module:
    return ast.parse(_sources()[module].read_text(encoding="utf-8"))


def _definer(package: str, name: str, seen: frozenset[str] = frozenset()) -> str:
    """Return the module that defines ``name`` re-exported by ``package`` (or the package)."""
    if package in seen:
        return package
    for node in ast.walk(_tree(package)):
        if isinstance(node, ast.ImportFrom) and node.module:
            source = _absolute(package, node)
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return _target(source, alias.name, seen | {package})
    return package


def _target(base: str, name: str, seen: frozenset[str] = frozenset()) -> str:
    """Return the module that ``from base import name`` depends on."""
    if f"{base}.{name}" in _sources():
        return f"{base}.{name}"
    if name != "*" and _is_package(base):
        return _definer(base, name, seen)
    return base


def _absolute(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = importer if _is_package(importer) else importer.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(importer: str, tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Yield (line, module of the bot depended on) for every import in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(importer, node)
            for alias in node.names:
                yield node.lineno, _target(base, alias.name)


def layer(module: str) -> str | None:
    """Return the layer of a module of the bot, or None for anything else."""
    parts = module.split(".")
    if parts[0] == "cogs":
        return "cogs"
    if parts[0] != "bot" or len(parts) == 1:
        return None
    if module == "bot.store.rows":
        return "rows"
    if parts[1] == "lemondata":
        plain = len(parts) > 2 and parts[2] in LEMONDATA_TYPES
        return "lemondata.types" if plain else "lemondata.client"
    return parts[1]


def _all_imports() -> Iterator[tuple[str, int, str]]:
    for module in _sources():
        for line, target in imports_of(module, _tree(module)):
            if layer(target) is not None:
                yield module, line, target


def test_the_checker_reads_type_checking_blocks_and_re_exports():
    """The rules below see what they must: typing-only imports, names re-exported."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from bot.lemondata import LemonDataClient, Pricing\n"
        "if TYPE_CHECKING:\n"
        "    from bot.store import Job, Store\n"
        "    from . import format\n"
    )
    found = {target for _, target in imports_of("bot.ui.cards", ast.parse(source))}
    assert found == {
        "typing",
        "bot.lemondata.client",
        "bot.lemondata.models",
        "bot.store.rows",
        "bot.store",
        "bot.ui.format",
    }
    assert [layer(m) for m in ("bot.store.rows", "bot.store.jobs", "bot.lemondata.client")] == [
        "rows",
        "store",
        "lemondata.client",
    ]


@pytest.mark.parametrize("importer_layer", sorted(ALLOWED))
def test_each_layer_imports_only_what_is_below_it(importer_layer):
    """cogs: services, ui and the vocabulary; ui: the vocabulary; store, lemondata: themselves."""
    allowed = ALLOWED[importer_layer]
    broken = [
        f"{module}:{line} imports {target}"
        for module, line, target in _all_imports()
        if layer(module) == importer_layer and layer(target) not in allowed
    ]
    assert broken == []


def test_nothing_imports_the_web_dashboard():
    """bot.web is on top: no service, cog or composition module depends on it.

    The composition root (``bot.__main__``) starts it, importing it inside a function.
    """
    broken = [
        f"{module}:{line} imports {target}"
        for module, line, target in _all_imports()
        if layer(target) == "web" and layer(module) != "web" and module != "bot.__main__"
    ]
    assert broken == []


def test_nothing_in_bot_imports_cogs():
    broken = [
        f"{module}:{line} imports {target}"
        for module, line, target in _all_imports()
        if module.startswith("bot") and layer(target) == "cogs"
    ]
    assert broken == []


def test_cogs_do_not_reach_the_store_or_the_api_client_through_the_bot():
    """``self.bot.store`` / ``.api`` / ``.delivery`` in a cog (or bot.web) would go round the
    services."""
    reached: set[tuple[str, str]] = set()
    for module in _sources():
        if layer(module) not in ("cogs", "web"):
            continue
        for node in ast.walk(_tree(module)):
            if not (isinstance(node, ast.Attribute) and node.attr in BOT_INTERNALS):
                continue
            owner = node.value
            owner_name = (
                owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", "")
            )
            if owner_name in {"bot", "client"}:
                reached.add((module, ast.unparse(node)))
    assert reached - KNOWN_EXCEPTIONS == set()


def test_no_import_cycle_between_the_packages_of_bot():
    """bot.X never depends, directly or through others, on a bot.Y that depends on bot.X."""
    graph: dict[str, set[str]] = {}
    for module, _, target in _all_imports():
        source, dest = module.split("."), target.split(".")
        if source[0] == dest[0] == "bot" and len(source) > 1 and len(dest) > 1:
            graph.setdefault(source[1], set())
            if dest[1] != source[1]:
                graph[source[1]].add(dest[1])
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as cycle:
        pytest.fail(f"import cycle: {' -> '.join(cycle.args[1])}")


def _cycles_inside_packages() -> list[str]:
    """Return one cycle per package of bot whose modules import each other round."""
    graphs: dict[str, dict[str, set[str]]] = {}
    for module, _, target in _all_imports():
        package = module if _is_package(module) else module.rpartition(".")[0]
        if not module.startswith("bot.") or module == package:
            continue  # a package's __init__ re-exports its modules: not part of a circle
        if target.rpartition(".")[0] == package and not _is_package(target):
            graphs.setdefault(package, {}).setdefault(module, set()).add(target)
    found = []
    for package, graph in sorted(graphs.items()):
        try:
            tuple(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as cycle:
            found.append(f"{package}: {' -> '.join(cycle.args[1])}")
    return found


def test_no_import_cycle_between_the_modules_of_a_package():
    """Inside bot.jobs, bot.store, ...: no module depends, round a circle, on itself.

    Typing-only imports count too: a circle closed under ``TYPE_CHECKING`` is still one.
    """
    assert _cycles_inside_packages() == []


def test_the_jobs_package_names_every_module_it_has():
    """bot/jobs/__init__.py's list of modules is the package's, none left out."""
    doc = ast.get_docstring(_tree("bot.jobs")) or ""
    modules = {m for m in _sources() if m.startswith("bot.jobs.")}
    assert {m for m in modules if f":mod:`~{m}`" not in doc} == set()
