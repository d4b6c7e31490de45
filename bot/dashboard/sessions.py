"""WebSessions: a signed-in browser is a row; the cookie holds a random id, the row its hash."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Sequence

from bot.store import Store, WebSession

SESSION_SECONDS = 7 * 86400  # a week, then sign in again


def hash_session_id(raw: str) -> str:
    """Return what the database keeps of a session id (SHA-256, hex)."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


class WebSessions:
    """Open, find and revoke dashboard sessions."""

    def __init__(self, store: Store, *, lifetime: float = SESSION_SECONDS) -> None:
        self._store = store
        self.lifetime = lifetime

    async def open(
        self,
        *,
        user_id: int,
        username: str,
        locale: str,
        guild_ids: Sequence[int],
        moderated_ids: Sequence[int],
    ) -> tuple[str, WebSession]:
        """Start a session; return the raw id (for the cookie only) and the row."""
        raw = secrets.token_urlsafe(32)
        now = time.time()
        session = WebSession(
            id_hash=hash_session_id(raw),
            user_id=user_id,
            username=username,
            locale=locale,
            guild_ids=tuple(guild_ids),
            moderated_ids=tuple(moderated_ids),
            checked_at=now,
            created_at=now,
            expires_at=now + self.lifetime,
        )
        await self._store.web.create_session(session)
        await self._store.web.delete_expired(now - self.lifetime)
        return raw, session

    async def find(self, raw: str) -> WebSession | None:
        """Return the live session of a cookie's id: None if unknown, expired or revoked."""
        if not raw or len(raw) > 200:
            return None
        session = await self._store.web.session(hash_session_id(raw))
        if session is None or session.revoked_at is not None:
            return None
        if session.expires_at <= time.time():
            return None
        return session

    async def rechecked(self, session: WebSession, moderated_ids: Sequence[int]) -> WebSession:
        """Record a fresh check of the servers the user moderates; return the session."""
        now = time.time()
        await self._store.web.set_moderated(session.id_hash, moderated_ids, now)
        return WebSession(
            **{
                **session.__dict__,
                "moderated_ids": tuple(moderated_ids),
                "checked_at": now,
            }
        )

    async def revoke(self, session: WebSession) -> None:
        """Sign this session out."""
        await self._store.web.revoke_session(session.id_hash)

    async def revoke_user(self, user_id: int) -> int:
        """Sign out every session of a user."""
        return await self._store.web.revoke_user(user_id)
