"""Jinja2 templates: the catalogue's ``t()`` in every page, escaping on."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

from bot.i18n import Lang, Text, t

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


@jinja2.pass_context
def _t(context: Any, key: str, /, **params: object) -> str:
    return t(key, context["lang"], **params)


@jinja2.pass_context
def _member(context: Any, user_id: int) -> str:
    """Return a member's name where the page knows it (``names``), else "Member <id>"."""
    name = (context.get("names") or {}).get(user_id)
    return str(name) if name else t("web.member_id", context["lang"], user=user_id)


def _t_in(lang: Lang, key: str, /, **params: object) -> str:
    """Render ``key`` in ``lang``, whoever reads the page (a language's own name)."""
    return t(key, lang, **params)


@jinja2.pass_context
def _render(context: Any, text: Text) -> str:
    return text.render(context["lang"])


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _shorten(text: str, size: int = 80) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def environment() -> jinja2.Environment:
    """Return the templates' environment (autoescaped; ``t``, ``t_in``, ``member``, ...)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(t=_t, t_in=_t_in, member=_member, render=_render, when=_when, now=time.time)
    env.filters["shorten"] = _shorten
    return env


class Pages:
    """Renders a template into a response, in the reader's language."""

    def __init__(self) -> None:
        self._env = environment()

    def render(
        self, name: str, lang: Lang, *, status: int = 200, context: dict[str, object]
    ) -> web.Response:
        """Return ``name`` rendered as an HTML response."""
        html = self._env.get_template(name).render(lang=lang, **context)
        return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")
