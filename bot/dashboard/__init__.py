"""The dashboard's services: web sessions, and the gallery over the job ledger.

:class:`~bot.dashboard.sessions.WebSessions` opens, finds and revokes the browser
sessions (rows of ``web_sessions``, ids stored hashed). :class:`~bot.dashboard.gallery.Gallery`
reads jobs, their images, lineage and moderator entries for the pages, and makes each
thumbnail once (:mod:`bot.dashboard.thumbnails`). ``bot.web`` calls these and the
moderation service, never the store.
"""

from __future__ import annotations

from bot.dashboard.gallery import Gallery
from bot.dashboard.sessions import SESSION_SECONDS, WebSessions, hash_session_id

__all__ = ["SESSION_SECONDS", "Gallery", "WebSessions", "hash_session_id"]
