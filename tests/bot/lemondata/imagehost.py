"""A bare HTTP/1.1 image host on 127.0.0.1: fixed answers, gates, and what it was asked."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Self


@dataclass
class Route:
    """What one path answers: a status and body with headers, held until ``gate`` is set."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    gate: asyncio.Event | None = None
    status: int = 200


@dataclass(frozen=True)
class Seen:
    """One request as it arrived."""

    path: str
    headers: dict[str, str]


class ImageHost:
    """Serve ``routes`` on 127.0.0.1; record every request, count those held at a gate."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[Seen] = []
        self.held = 0
        self._changed = asyncio.Condition()
        self._server: asyncio.Server | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def url(self, path: str) -> str:
        """Return the full URL of ``path`` on this host."""
        return self.base_url + path

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for route in self.routes.values():
            if route.gate is not None:
                route.gate.set()
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def wait_for(self, predicate: object, timeout: float = 10) -> None:
        """Wait until ``predicate()`` holds (a hang guard, not a timing assertion)."""
        assert callable(predicate)
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(predicate)

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            path = head[0].split(" ")[1]
            headers = dict(
                (name.strip().lower(), value.strip())
                for name, _, value in (line.partition(":") for line in head[1:] if line)
            )
            self.seen.append(Seen(path, headers))
            route = self.routes.get(path)
            if route is not None and route.gate is not None:
                self.held += 1
                await self._notify()
                await route.gate.wait()
                self.held -= 1
            await self._notify()
            if route is None:
                writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            else:
                lines = [f"{k}: {v}" for k, v in route.headers.items()]
                lines += [f"Content-Length: {len(route.body)}", "Connection: close"]
                status = f"HTTP/1.1 {route.status} {'OK' if route.status == 200 else 'Error'}"
                writer.write((status + "\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode())
                writer.write(route.body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
