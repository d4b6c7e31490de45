"""The websocket gateway: HELLO, IDENTIFY, RESUME, heartbeats and dispatch."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.fake_discord.state import FakeState


@dataclass
class Session:
    id: str
    seq: int = 0
    shard: list[int] | None = None


@dataclass(eq=False)
class Connection:
    ws: web.WebSocketResponse
    query: dict[str, str]
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    session: Session | None = None
    ready: bool = False


class Gateway(FakeState):
    """The gateway websocket of the fake."""

    # ------------------------------------------------------------------ gateway

    async def _gateway_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        conn = Connection(ws=ws, query=dict(request.query))
        self._open.add(conn)
        self.connections += 1
        self._changed()
        try:
            await self._send(
                conn,
                {
                    "op": 10,
                    "s": None,
                    "t": None,
                    "d": {
                        "heartbeat_interval": self.heartbeat_interval_ms,
                        "_trace": ["fake-gateway"],
                    },
                },
            )
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    await self._on_gateway_message(conn, json.loads(msg.data))
                elif msg.type is WSMsgType.BINARY:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
        finally:
            self._open.discard(conn)
            if self._active is conn:
                self._active = None
            self._changed()
        return ws

    async def _send(self, conn: Connection, message: dict[str, Any]) -> None:
        async with conn.lock:
            await conn.ws.send_str(json.dumps(message))

    async def _send_dispatch(self, conn: Connection, event: str, data: dict[str, Any]) -> None:
        assert conn.session is not None
        conn.session.seq += 1
        await self._send(conn, {"op": 0, "s": conn.session.seq, "t": event, "d": data})
        self.gateway_events.append((event, data))
        self._changed()

    async def _on_gateway_message(self, conn: Connection, message: dict[str, Any]) -> None:
        op = message.get("op")
        data = message.get("d")
        if op == 1:
            self.heartbeats += 1
            await self._send(conn, {"op": 11, "s": None, "t": None, "d": None})
            return
        self.gateway_received.append(
            {"op": op, "d": {k: v for k, v in data.items() if k != "token"}}
            if isinstance(data, dict)
            else {"op": op, "d": data}
        )
        if op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op == 8:
            await self._request_members(conn, data or {})
        self._changed()

    async def _identify(self, conn: Connection, data: dict[str, Any]) -> None:
        if data.get("token") != self.bot_token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identify_count += 1
        self.identify_payloads.append(
            {
                k: copy.deepcopy(data.get(k))
                for k in (
                    "intents",
                    "properties",
                    "shard",
                    "presence",
                    "large_threshold",
                    "compress",
                )
                if k in data
            }
        )
        session = Session(id=uuid.uuid4().hex, shard=data.get("shard"))
        self._sessions[session.id] = session
        conn.session = session
        ready: dict[str, Any] = {
            "v": 10,
            "user": self._ready_user_payload(),
            "user_settings": {},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guilds": [{"id": str(self.guild_id), "unavailable": True}],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "_trace": ["fake-gateway"],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        await self._send_dispatch(conn, "READY", ready)
        await self._send_dispatch(conn, "GUILD_CREATE", self.guild_payload())
        conn.ready = True
        self._active = conn

    async def _resume(self, conn: Connection, data: dict[str, Any]) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        if data.get("token") != self.bot_token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        if session is None or not self.allow_resume:
            await self._send(conn, {"op": 9, "s": None, "t": None, "d": False})
            return
        self.resume_count += 1
        conn.session = session
        await self._send_dispatch(conn, "RESUMED", {"_trace": ["fake-gateway"]})
        conn.ready = True
        self._active = conn

    async def _request_members(self, conn: Connection, data: dict[str, Any]) -> None:
        if conn.session is None:
            return
        chunk: dict[str, Any] = {
            "guild_id": str(self.guild_id),
            "members": [self.member_payload(u) for u in self.users.values()],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(conn, "GUILD_MEMBERS_CHUNK", chunk)

    async def dispatch(self, event: str, data: dict[str, Any], *, timeout: float = 10.0) -> None:
        """Send a dispatch (op 0) to the connected client, waiting for one if needed."""
        await self.wait_for(lambda: self.ready, timeout, what="a connected client")
        assert self._active is not None
        await self._send_dispatch(self._active, event, data)

    async def drop_gateway(self, code: int = 4000) -> None:
        """Close the active gateway websocket (the client reconnects and RESUMEs)."""
        conn, self._active = self._active, None
        self._changed()
        if conn is not None:
            await conn.ws.close(code=code, message=b"fake drop")
