"""The dashboard served for real on 127.0.0.1 by an in-process LemonBot against the fakes.

``dashboard`` starts the bot (``running_bot``) with the WEB_* settings and the web
server on a free port; ``dashboard.client(user)`` signs ``user`` in through the fake's
OAuth2 (auto-approved) and returns an httpx client carrying the session cookie.
"""

from __future__ import annotations

import io
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from PIL import Image

from bot.store import StoredImage
from bot.web.server import start_web
from tests.botenv import BotEnv, StartBot
from tests.factories import draft, insert_job
from tests.fakes.fake_discord import FakeDiscord, FakeUser

WEB_SECRET = "w" * 40


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def png(colour: str = "orange", size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


@dataclass
class Dashboard:
    env: BotEnv
    base_url: str
    stack: AsyncExitStack
    clients: list[httpx.AsyncClient] = field(default_factory=list)

    @property
    def fake(self) -> FakeDiscord:
        return self.env.fake

    def anonymous(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.base_url, timeout=10)
        self.clients.append(client)
        return client

    async def client(self, user: FakeUser, next_path: str = "/") -> httpx.AsyncClient:
        """Sign ``user`` in (auto-approved on the fake); return a client with the cookie."""
        self.fake.oauth_auto_approve = user
        client = self.anonymous()
        response = await client.get("/login", params={"next": next_path}, follow_redirects=True)
        assert response.status_code == 200, response.text
        assert client.cookies.get("lemonbot_session")
        return client

    async def job(
        self,
        *,
        guild_id: int | None = None,
        user: FakeUser | None = None,
        prompt: str = "a lemon tree at dusk",
        model: str = "nano-banana",
        state: str = "succeeded",
        images: int = 1,
        **extra: Any,
    ):
        """Store a finished job with ``images`` PNG results (straight into the ledger)."""
        db = self.env.db
        user = user or self.fake.alice
        job = await insert_job(
            db,
            draft(
                guild_id=guild_id or self.fake.guild_id,
                user_id=user.id,
                prompt=prompt,
                model=model,
                options={"prompt": prompt, "model": model, "seed": 42},
                request={"model": model, "prompt": prompt},
                **extra,
            ),
        )
        await db.jobs.transition(job.id, ["queued"], state)
        if images:
            await db.images.save_images(
                job.id,
                [StoredImage(i, None, "image/png", png()) for i in range(images)],
            )
        found = await db.jobs.get(job.id)
        assert found is not None
        return found


@pytest.fixture
async def dashboard(running_bot: StartBot, fake: FakeDiscord) -> AsyncIterator[Dashboard]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    fake.oauth_redirect_uris.add(base_url + "/auth/callback")
    async with AsyncExitStack() as stack:
        env = await stack.enter_async_context(
            running_bot(
                web_base_url=base_url,
                web_secret=WEB_SECRET,
                discord_client_secret=fake.oauth_client_secret,
                web_port=port,
            )
        )
        runner = await start_web(env.bot)
        stack.push_async_callback(runner.cleanup)
        board = Dashboard(env, base_url, stack)
        try:
            yield board
        finally:
            for client in board.clients:
                await client.aclose()
